// Start-up cost of a confined run, against the bare equivalent in the same invocation:
// the library (Sandbox.run of /bin/true vs child_process.spawn of /bin/true) and the CLI
// (`sandlock run -- /bin/true` vs `node -e 0`). Rounds interleave the sides so drift in
// machine load hits all of them; the library's sides are the supervised view, no
// supervisor, and the kernel view (namespaces and a constructed root), each with and
// without /proc where it applies.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { bypassStandby } from "../src/confine/standby.js";
import { fmt, summarize, verdict, type Summary } from "./stats.js";
import { buildFixture } from "./trap.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SYSTEM_RO = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));

function bareSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn("/bin/true", { stdio: "ignore" });
    c.once("error", reject);
    c.once("exit", () => resolve());
  });
}

async function perOp(fn: () => Promise<void>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t0) / n;
}

export interface PairResult {
  bare: Summary;
  sandboxed: Summary;
  overhead: Summary;
  ratio: Summary;
}

function pair(bare: number[], sandboxed: number[]): PairResult {
  return {
    bare: summarize(bare),
    sandboxed: summarize(sandboxed),
    overhead: summarize(sandboxed.map((s, i) => s - bare[i]!)),
    ratio: summarize(sandboxed.map((s, i) => s / bare[i]!)),
  };
}

export interface LibraryResult {
  /** The listed grants under the supervised view (procView pinned, whatever the default). */
  system: PairResult;
  /** The system grants with supervisor: false (no listener, no supervisor). */
  unsupervised: PairResult;
  /** The system grants and /proc under the supervised view (its /proc view). */
  withProc: PairResult;
  /** The same two policies under the kernel view (docs/kernel-view.md), or why it does not
   * apply on this host. */
  kernel: PairResult | string;
  kernelWithProc: PairResult | string;
  /** The kernel view's start without a standby launcher (each start's own launcher). */
  kernelCold: PairResult | string;
  /** bubblewrap started with child_process.spawn (read-only binds of the system grants,
   * --unshare-all): what a Node program pays for the strongest alternative it has, when
   * installed. A comparison, no target. */
  bwrap?: PairResult;
  /** The /proc view alone against spawn, on the quiet host and then while many other
   * processes exist (a start must not pay for them: plan/proc-grants.ts lists procfs only up
   * to its processes), and how many there were; or why it was not measured. Measured on its
   * own (each start right after a bare spawn, whose fork of this process leaves its pages
   * copy-on-write for whatever runs next), so compare the two with each other, not with the
   * rotating rows above. */
  withProcBusy: { others: number; quiet: PairResult; busy: PairResult } | string;
  /** The load average when the rounds ended (a shared machine's figures need it). */
  load: string;
}

type Start = () => Promise<void>;

/** Processes the busy-host rows add: about what a loaded build machine runs. */
const BUSY_PROCESSES = 1500;

/** The number of process directories in /proc now. */
function processCount(): number {
  return readdirSync("/proc").filter((n) => /^[0-9]+$/.test(n)).length;
}

/** fn() while `n` sleeping processes exist (one shell's children, in a process group of
 * their own, all killed after). */
async function withSleepers<T>(n: number, fn: (others: number) => Promise<T>): Promise<T> {
  const holder = spawn("/bin/sh", ["-c", `i=0; while [ $i -lt ${n} ]; do sleep 3600 & i=$((i+1)); done; echo ready; wait`], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.once("error", reject);
      holder.once("exit", (code) => reject(new Error(`the sleepers' shell exited ${code} before they were all started`)));
      holder.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve();
      });
    });
    return await fn(processCount());
  } finally {
    try {
      process.kill(-holder.pid!, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** bubblewrap's path when installed (the same binds for the CLI and the library rows). */
const BWRAP = ["/usr/bin/bwrap", "/bin/bwrap"].find((p) => existsSync(p));
const bwrapArgs = (): string[] => [...SYSTEM_RO.flatMap((p) => ["--ro-bind", p, p]), "--unshare-all", "--die-with-parent", "/bin/true"];

function bwrapStart(file: string): Start {
  return () =>
    new Promise((resolve, reject) => {
      const c = spawn(file, bwrapArgs(), { stdio: "ignore" });
      c.once("error", reject);
      c.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`bwrap /bin/true exited ${code}`))));
    });
}

function sandboxStart(policy: object): Start {
  return async () => {
    const r = await Sandbox.run(policy, ["/bin/true"], { stdout: "ignore", stderr: "ignore" });
    if (r.exitCode !== 0) throw new Error(`sandboxed /bin/true failed: ${JSON.stringify(r)}`);
  };
}

/**
 * Every side against child_process.spawn, interleaved start by start: each iteration runs
 * a bare spawn, then one start of each side in an order that rotates, so neither drift in
 * the machine's load nor the bench's growing heap (a bare spawn forks this process)
 * favours a side. A round's figure is the mean of perRound iterations.
 */
async function libraryRounds(sides: Record<string, Start>, rounds: number, perRound: number): Promise<Record<string, PairResult>> {
  const names = Object.keys(sides);
  await perOp(bareSpawn, 20); // warm-up every path
  for (const name of names) await perOp(sides[name]!, 20);
  const bare: number[] = [];
  const got: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  let turn = 0;
  for (let r = 0; r < rounds; r++) {
    let b = 0;
    const sum: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    for (let i = 0; i < perRound; i++, turn++) {
      const t0 = performance.now();
      await bareSpawn();
      b += performance.now() - t0;
      for (let k = 0; k < names.length; k++) {
        const name = names[(turn + k) % names.length]!;
        const t1 = performance.now();
        await sides[name]!();
        sum[name]! += performance.now() - t1;
      }
    }
    bare.push(b / perRound);
    for (const name of names) got[name]!.push(sum[name]! / perRound);
  }
  return Object.fromEntries(names.map((n) => [n, pair(bare, got[n]!)]));
}

/** Why procView: "kernel" cannot start here (its start fails naming the reason), or undefined. */
async function kernelViewUnavailable(): Promise<string | undefined> {
  try {
    await sandboxStart({ fsReadable: SYSTEM_RO, procView: "kernel" })();
    return undefined;
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}

/** Every policy has a supervisor unless it says supervisor: false (the default
 * maxProcesses and the network's performed connects need one). The same policy object
 * runs each time, as a program starting many commands does (its plan is cached and
 * checked against the host at each start: plan/cache.ts). Each view is pinned by the
 * policy's procView, so the figures keep their meaning whichever view is the default. */
export async function benchLibrary(rounds: number, perRound: number): Promise<LibraryResult> {
  // The kernel view's rows with a standby launcher (off by default), and one row without.
  Sandbox.setStandby(true);
  try {
    return await libraryRows(rounds, perRound);
  } finally {
    Sandbox.setStandby(false);
  }
}

async function libraryRows(rounds: number, perRound: number): Promise<LibraryResult> {
  const noKernel = await kernelViewUnavailable();
  const sides: Record<string, Start> = {
    system: sandboxStart({ fsReadable: SYSTEM_RO, procView: "supervised" }),
    unsupervised: sandboxStart({ fsReadable: SYSTEM_RO, supervisor: false }),
    withProc: sandboxStart({ fsReadable: [...SYSTEM_RO, "/proc"], procView: "supervised" }),
  };
  if (noKernel === undefined) {
    sides.kernel = sandboxStart({ fsReadable: SYSTEM_RO, procView: "kernel" });
    sides.kernelWithProc = sandboxStart({ fsReadable: [...SYSTEM_RO, "/proc"], procView: "kernel" });
    // The same start without the standby launcher (src/confine/standby.ts): what the first
    // kernel-view start of a process, or one of several at once, pays.
    const cold = sandboxStart({ fsReadable: SYSTEM_RO, procView: "kernel" });
    sides.kernelCold = async () => {
      bypassStandby(true);
      try {
        await cold();
      } finally {
        bypassStandby(false);
      }
    };
  }
  if (BWRAP !== undefined) sides.bwrap = bwrapStart(BWRAP);
  const r = await libraryRounds(sides, rounds, perRound);
  let withProcBusy: LibraryResult["withProcBusy"];
  try {
    const alone = async (): Promise<PairResult> => (await libraryRounds({ withProc: sides.withProc! }, Math.max(3, Math.ceil(rounds / 3)), Math.ceil(perRound / 2))).withProc!;
    const quiet = await alone();
    withProcBusy = await withSleepers(BUSY_PROCESSES, async (others) => ({ others, quiet, busy: await alone() }));
  } catch (e) {
    withProcBusy = `not measured: ${(e as Error).message}`;
  }
  return {
    system: r.system!,
    unsupervised: r.unsupervised!,
    withProc: r.withProc!,
    kernel: r.kernel ?? `not measured: ${noKernel}`,
    kernelWithProc: r.kernelWithProc ?? `not measured: ${noKernel}`,
    kernelCold: r.kernelCold ?? `not measured: ${noKernel}`,
    ...(r.bwrap !== undefined ? { bwrap: r.bwrap } : {}),
    withProcBusy,
    load: `${loadavg().map((x) => x.toFixed(1)).join(" ")} on ${cpus().length} CPUs`,
  };
}

const SUPERVISED_TARGET = "supervised start within 0.5 ms of child_process.spawn (issue 16, DESIGN 5)";

function reportSide(title: string, p: PairResult | string, target: string, limit: number): string {
  if (typeof p === "string") return `${title}\n  ${p}`;
  return [report(title, "child_process.spawn", p), `  ${verdict(target, p.overhead.median <= limit)}`].join("\n");
}

/** What the host's process count adds to the /proc view's start (no target: it should add
 * nothing). */
function reportBusy(b: { others: number; quiet: PairResult; busy: PairResult }): string {
  const added = b.busy.overhead.median - b.quiet.overhead.median;
  return [
    `The /proc view on its own, quiet and with ${b.others} processes on the host (${BUSY_PROCESSES} sleepers added): what they add to a start (no target; each start follows a bare spawn here, so compare these two rows with each other)`,
    `  quiet: overhead ${fmt(b.quiet.overhead, " ms")}`,
    `  busy:  overhead ${fmt(b.busy.overhead, " ms")}`,
    `  added by the processes: ${added.toFixed(3)} ms at the median`,
  ].join("\n");
}

export function reportLibrary(l: LibraryResult): string {
  return [
    `Library: Sandbox.run(/bin/true) vs child_process.spawn(/bin/true), per run, every side interleaved start by start (load ${l.load})`,
    reportSide("Supervised view, system grants", l.system, SUPERVISED_TARGET, 0.5),
    reportSide("The same with supervisor: false (no listener)", l.unsupervised, "unsupervised start within 0.3 ms of child_process.spawn (issue 16, DESIGN 5)", 0.3),
    reportSide("Supervised view with /proc granted (the /proc view)", l.withProc, SUPERVISED_TARGET, 0.5),
    typeof l.withProcBusy === "string" ? `The same with ${BUSY_PROCESSES} more processes on the host\n  ${l.withProcBusy}` : reportBusy(l.withProcBusy),
    reportSide("Kernel view, system grants (namespaces, constructed root, init), Sandbox.setStandby(true): a standby launcher taken over", l.kernel, SUPERVISED_TARGET, 0.5),
    reportSide("Kernel view with /proc granted (a fresh procfs, its hidden files covered), standby on", l.kernelWithProc, SUPERVISED_TARGET, 0.5),
    reportSide("Kernel view, system grants, no standby (the default): each start's own launcher", l.kernelCold, SUPERVISED_TARGET, 0.5),
    l.bwrap === undefined
      ? "bubblewrap through child_process.spawn: not installed here (apt-get install bubblewrap to compare)"
      : report("bubblewrap through child_process.spawn (ro-binds of the system grants, --unshare-all; a comparison, no target)", "child_process.spawn", l.bwrap),
  ].join("\n");
}

/** One run through bench/fixtures/cpu-of.c: wall ms (cpu-of's own fork and exec included,
 * the same on every side) and the CPU ms of the whole tree it waited for (wait4's rusage:
 * every process of a sandlock run, the launcher and the command included). */
function timeCommand(cpuOf: string, file: string, args: string[], env: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  const t0 = performance.now();
  const r = spawnSync(cpuOf, [file, ...args], { stdio: ["ignore", "ignore", "pipe"], env, encoding: "utf8" });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const m = /SLCPU (\d+) (\d+)\s*$/.exec(r.stderr);
  if (m === null) throw new Error(`no cpu-of line in: ${r.stderr.slice(-500)}`);
  return { wall, cpu: (Number(m[1]) + Number(m[2])) / 1000 };
}

export interface CliResult {
  /** sandlock run vs node -e 0 (with the caches its first run wrote, as users run it). */
  node: PairResult;
  /** The same by CPU time of the whole process tree (user + system), which a loaded machine
   * inflates less than wall time. */
  nodeCpu: PairResult;
  /** `-p minimal -r /usr/bin` (the preset has the loader and libraries, not /usr/bin),
   * supervised and with --no-supervisor. */
  minimal: PairResult;
  minimalNoSupervisor: PairResult;
  /** The same without the code cache and the seccomp programs (NODE_DISABLE_COMPILE_CACHE):
   * a first run after an install or a Node upgrade, or a package its user cannot write to. */
  noCache: PairResult;
  /** A compiled launcher (fork, Landlock, seccomp with a listener, exec) vs node -e 0. */
  floor: PairResult;
  /** bubblewrap, when installed, vs node -e 0. */
  bwrap?: PairResult;
}

export function benchCli(rounds: number, perRound: number): CliResult {
  const cli = join(ROOT, "bin", "sandlock.cjs");
  const floorBin = buildFixture("confine-floor", false);
  const cpuOf = buildFixture("cpu-of", true);
  // Both sides without NODE_EXTRA_CA_CERTS (it costs about 50 ms per Node start here).
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const minimal = ["-p", "minimal", "-r", "/usr/bin", "--", "/bin/true"];
  const sides: Record<string, [string, string[]]> = {
    node: [process.execPath, ["-e", "0"]],
    sandlock: [process.execPath, [cli, "run", ...SYSTEM_RO.flatMap((p) => ["-r", p]), "--", "/bin/true"]],
    minimal: [process.execPath, [cli, "run", ...minimal]],
    minimalNoSupervisor: [process.execPath, [cli, "run", "--no-supervisor", ...minimal]],
    // env(1) sets the switch for this side only; its own exec costs about 1 ms, noted in the report.
    noCache: ["/usr/bin/env", ["NODE_DISABLE_COMPILE_CACHE=1", process.execPath, cli, "run", ...SYSTEM_RO.flatMap((p) => ["-r", p]), "--", "/bin/true"]],
    floor: [floorBin, [...SYSTEM_RO, "--", "/bin/true"]],
  };
  if (BWRAP !== undefined) sides.bwrap = [BWRAP, bwrapArgs()];
  const avg = (name: string): { wall: number; cpu: number } => {
    const [file, args] = sides[name]!;
    let wall = 0;
    let cpu = 0;
    for (let i = 0; i < perRound; i++) {
      const t = timeCommand(cpuOf, file, args, env);
      wall += t.wall;
      cpu += t.cpu;
    }
    return { wall: wall / perRound, cpu: cpu / perRound };
  };
  // The code cache a user has: the one their first full run writes. One left by whatever
  // ran first since the last build (a test's `run --help` wrote 263 KB against a run's
  // 608 before that stopped, and the bench measured 5 ms more per run) is removed, and the
  // warm-up's first `sandlock run` writes it afresh.
  const cliDir = join(ROOT, "dist", "src", "cli");
  for (const f of readdirSync(cliDir)) if (/^sandlock\.bundle\.[0-9a-f]+\.v8cache$/.test(f)) rmSync(join(cliDir, f), { force: true });
  for (const name of Object.keys(sides)) avg(name);
  const samples: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(sides)) {
      const t = avg(name);
      (samples[name] ??= []).push(t.wall);
      (cpu[name] ??= []).push(t.cpu);
    }
  }
  return {
    node: pair(samples.node!, samples.sandlock!),
    nodeCpu: pair(cpu.node!, cpu.sandlock!),
    minimal: pair(samples.node!, samples.minimal!),
    minimalNoSupervisor: pair(samples.node!, samples.minimalNoSupervisor!),
    noCache: pair(samples.node!, samples.noCache!),
    floor: pair(samples.node!, samples.floor!),
    bwrap: samples.bwrap === undefined ? undefined : pair(samples.node!, samples.bwrap),
  };
}

export function reportCli(c: CliResult): string {
  const lines = [
    report("CLI: sandlock run -- /bin/true vs node -e 0, per run (NODE_EXTRA_CA_CERTS unset on both sides)", "node -e 0", c.node),
    `  ${verdict("within 5 ms of node -e 0 (issue 16, first step)", c.node.overhead.median <= 5)}`,
    `  ${verdict("within 3 ms of node -e 0 (issue 16, second step)", c.node.overhead.median <= 3)}`,
    report("  the same by CPU time of the whole process tree (user + system, wait4)", "node -e 0", c.nodeCpu),
    `  ${verdict("CPU within 5 ms of node -e 0 (issue 16, first step)", c.nodeCpu.overhead.median <= 5)}`,
    `  ${verdict("CPU within 3 ms of node -e 0 (issue 16, second step)", c.nodeCpu.overhead.median <= 3)}`,
    `  -p minimal -r /usr/bin: ${fmt(c.minimal.sandboxed, " ms")}, overhead ${fmt(c.minimal.overhead, " ms")}`,
    `  the same with --no-supervisor: ${fmt(c.minimalNoSupervisor.sandboxed, " ms")}, overhead ${fmt(c.minimalNoSupervisor.overhead, " ms")}`,
    `  without the start-up caches (first run; through env(1), about 1 ms more): ${fmt(c.noCache.sandboxed, " ms")}, overhead ${fmt(c.noCache.overhead, " ms")}`,
    `  compiled launcher floor (fork, Landlock, seccomp listener, exec): ${fmt(c.floor.sandboxed, " ms")}`,
    `  sandlock CLI / compiled floor: median ${(c.node.sandboxed.median / c.floor.sandboxed.median).toFixed(1)}x`,
  ];
  if (c.bwrap !== undefined) lines.push(`  bubblewrap (ro-binds, --unshare-all): ${fmt(c.bwrap.sandboxed, " ms")}`);
  else lines.push("  bubblewrap: not installed here (apt-get install bubblewrap to compare)");
  return lines.join("\n");
}

export function report(title: string, bareName: string, p: PairResult): string {
  return [
    `${title}`,
    `  ${bareName.padEnd(28)} ${fmt(p.bare, " ms")}`,
    `  ${"sandboxed".padEnd(28)} ${fmt(p.sandboxed, " ms")}`,
    `  ${"overhead (sandboxed - bare)".padEnd(28)} ${fmt(p.overhead, " ms")}`,
    `  ${"ratio (sandboxed / bare)".padEnd(28)} ${fmt(p.ratio, "x", 2)}`,
  ].join("\n");
}
