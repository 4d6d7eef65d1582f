// Start-up cost of a confined run, against the bare equivalent in the same invocation:
// the library (Sandbox.run of /bin/true vs child_process.spawn of /bin/true) and the CLI
// (`sandlock run -- /bin/true` vs `node -e 0`). Rounds interleave the two sides so drift
// in machine load hits both.

import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
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
  /** The listed grants with and without /proc (its split lists /proc at each start). */
  system: PairResult;
  /** The system grants with supervisor: false (no listener, no supervisor). */
  unsupervised: PairResult;
  withProc: PairResult;
}

async function libraryPair(policy: object, rounds: number, perRound: number): Promise<PairResult> {
  const run = async (): Promise<void> => {
    const r = await Sandbox.run(policy, ["/bin/true"], { stdout: "ignore", stderr: "ignore" });
    if (r.exitCode !== 0) throw new Error(`sandboxed /bin/true failed: ${JSON.stringify(r)}`);
  };
  await perOp(bareSpawn, 20); // warm-up both paths
  await perOp(run, 20);
  const bare: number[] = [];
  const sandboxed: number[] = [];
  // The two sides alternate run by run, not block by block: a bare spawn forks this process,
  // so its cost grows with the bench's heap, and load on a shared machine comes and goes.
  for (let r = 0; r < rounds; r++) {
    let b = 0;
    let s = 0;
    for (let i = 0; i < perRound; i++) {
      const t0 = performance.now();
      await bareSpawn();
      const t1 = performance.now();
      await run();
      const t2 = performance.now();
      b += t1 - t0;
      s += t2 - t1;
    }
    bare.push(b / perRound);
    sandboxed.push(s / perRound);
  }
  return pair(bare, sandboxed);
}

/** Every policy has a supervisor unless it says supervisor: false (the default
 * maxProcesses and the network's performed connects need one). The same policy object
 * runs each time, as a program starting many commands does (its plan is cached and
 * checked against the host at each start: plan/cache.ts). */
export async function benchLibrary(rounds: number, perRound: number): Promise<LibraryResult> {
  return {
    system: await libraryPair({ fsReadable: SYSTEM_RO }, rounds, perRound),
    unsupervised: await libraryPair({ fsReadable: SYSTEM_RO, supervisor: false }, rounds, perRound),
    withProc: await libraryPair({ fsReadable: [...SYSTEM_RO, "/proc"] }, rounds, perRound),
  };
}

export function reportLibrary(l: LibraryResult): string {
  return [
    report("Library: Sandbox.run(/bin/true) vs child_process.spawn(/bin/true), per run (system grants)", "child_process.spawn", l.system),
    `  ${verdict("supervised start within 0.5 ms of child_process.spawn (DESIGN 5)", l.system.overhead.median <= 0.5)}`,
    report("Library: the same with supervisor: false (no listener)", "child_process.spawn", l.unsupervised),
    `  ${verdict("unsupervised start within 0.3 ms of child_process.spawn (DESIGN 5)", l.unsupervised.overhead.median <= 0.3)}`,
    report("Library: the same with /proc granted (the /proc view)", "child_process.spawn", l.withProc),
    `  ${verdict("supervised start within 0.5 ms of child_process.spawn (DESIGN 5)", l.withProc.overhead.median <= 0.5)}`,
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
  const bwrap = ["/usr/bin/bwrap", "/bin/bwrap"].find((p) => existsSync(p));
  if (bwrap !== undefined) sides.bwrap = [bwrap, [...SYSTEM_RO.flatMap((p) => ["--ro-bind", p, p]), "--unshare-all", "--die-with-parent", "/bin/true"]];
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
