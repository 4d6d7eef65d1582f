// COW fork benchmark (issue 4, DESIGN 5): 1000 clones of a zygote holding 50 MB of
// initialised state. Times until fork() resolved (every clone exists and runs), until
// the last clone entered work, and until all are done; memory (sum of PSS of the zygote
// and its live clones, and the host's MemAvailable delta) against the zygote alone. The
// same zygote program forked without any sandbox is the baseline of the same run.

import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Sandbox } from "../src/index.js";
import { native } from "../src/confine/native.js";
import { ForkGroup, zygoteCommand, zygoteEnv, type ZygoteHost } from "../src/fork/zygote.js";
import { checkForkFunctions, type ForkFunctions } from "../src/fork/fns.js";
import { Policy } from "../src/policy/policy.js";
import { RunResult } from "../src/result.js";
import { descendantsOf } from "../src/supervise/members.js";
import { summarize, verdict, type Summary } from "./stats.js";

const CLONES = 1000;
const STATE_BYTES = 50 * 1024 * 1024;
const SYSTEM = ["/usr", "/lib", "/lib64", "/etc"];

/** The source of a clone's one line: the wall clock and `value`, with one
 * process.stdout.write, or with console.log as most work functions print (WORK=console). */
export function printLine(value: string): string {
  return process.env.WORK === "console" ? `console.log(Date.now(), ${value});` : `process.stdout.write(Date.now() + " " + ${value} + "\\n");`;
}

const fns = (hold: boolean, state = STATE_BYTES): ForkFunctions => ({
  init: new Function(`globalThis.state = Buffer.alloc(${state}, 7);`) as () => void,
  // Prints when work began (wall clock, comparable across processes); with hold, stays
  // alive so the memory of all clones can be measured at once.
  work: new Function("id", `${printLine("globalThis.state[id]")}${hold ? " return new Promise(() => setInterval(() => {}, 1e6));" : ""}`) as (id: number) => void,
});

/** Bare zygotes and clones: nothing kills them with this process, so this does. */
const bareProcesses = new Set<number>();
process.on("exit", () => {
  for (const pid of bareProcesses) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => process.exit(130));

/** A fork group whose zygote runs without any sandbox: same program, same protocol. */
/** How a bare zygote starts, for before/after runs in one process: more node flags,
 * another build of the zygote program, node's code left in the file, without LD_BIND_NOW. */
export interface BareOptions {
  flags?: string[];
  main?: string;
  hugeText?: boolean;
  bindNow?: boolean;
}

/** BareOptions from "flag,flag;main=<path>;hugetext=0;bindnow=0" (BENCH variables). */
export function bareOptions(text: string | undefined): BareOptions {
  const o: BareOptions = { flags: [] };
  for (const part of (text ?? "").split(";").filter((p) => p !== "")) {
    const [k, v] = part.split("=", 2) as [string, string | undefined];
    if (k === "main") o.main = v;
    else if (k === "hugetext") o.hugeText = v !== "0";
    else if (k === "bindnow") o.bindNow = v !== "0";
    else o.flags!.push(...part.split(",").filter((f) => f !== ""));
  }
  return o;
}

export async function bareGroup(f: ForkFunctions, opts: BareOptions = {}): Promise<{ group: ForkGroup; pid: number; kill(): void }> {
  const [mine, theirs] = native().seqpacketPair();
  const [node, ...args] = zygoteCommand(opts.flags ?? []);
  if (opts.main !== undefined) args[args.length - 2] = opts.main;
  const child = spawn(node!, args, {
    stdio: [theirs, "ignore", "inherit"],
    // (bindNow false: as if LD_BIND_NOW were inherited, so zygoteEnv adds none)
    env: { ...process.env, ...zygoteEnv(process.env.LD_PRELOAD, opts.bindNow === false ? "inherited" : process.env.LD_BIND_NOW, opts.hugeText ?? true) },
  });
  closeSync(theirs);
  bareProcesses.add(child.pid!);
  const exited = new Promise<RunResult>((resolve) =>
    child.once("exit", (code, signal) =>
      resolve(new RunResult({ status: "exited", exitCode: code, signal, stdout: null, stderr: null, durationMs: 0, enforcement: {} as never, pid: child.pid })),
    ),
  );
  const policy = new Policy({ maxProcesses: 100_000 });
  const host: ZygoteHost = {
    policy,
    launch: async () => undefined,
    rootPid: () => child.pid!,
    countProcesses: async () => 1 + descendantsOf(child.pid!).length,
    result: () => exited,
    setRef: () => undefined,
    setForkParent: () => undefined,
    onCloneLimit: () => undefined,
    setClonePipes: () => undefined,
    pipesReceived: () => undefined,
    enforcement: () => ({}) as never,
    kill: () => child.kill("SIGKILL"),
  };
  const group = await ForkGroup.attach(checkForkFunctions(f), host, mine);
  return { group, pid: child.pid!, kill: () => child.kill("SIGKILL") };
}

function pssKb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "latin1"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function memAvailableKb(): number {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "latin1"))?.[1] ?? 0);
}

export interface ForkRound {
  forkedMs: number;
  lastStartMs: number;
  doneMs: number;
  zygotePssMb: number;
  totalPssMb: number;
  memDeltaMb: number;
}

type Forker = { fork(n: number): Promise<{ wait(): Promise<RunResult>; pid?: number }[]>; pid: number; dispose(): Promise<void> };

/** The warm-up clone: one that holds never ends and is killed; one that does not is waited
 * for (killing it would race its own exit). */
async function warmUp(clones: Sandbox[], hold: boolean): Promise<void> {
  await Promise.all(clones.map((c) => (hold ? c.kill() : c.wait())));
}

async function sandboxed(hold: boolean, state: number): Promise<Forker> {
  const sb = Sandbox.newWithFns({ fsReadable: SYSTEM, maxProcesses: CLONES + 50 }, fns(hold, state));
  await warmUp(await sb.fork(1), hold); // zygote up, init run
  return { fork: (n) => sb.fork(n), pid: sb.pid!, dispose: () => sb[Symbol.asyncDispose]() };
}

async function bare(hold: boolean, state: number): Promise<Forker> {
  const b = await bareGroup(fns(hold, state));
  await warmUp(await b.group.fork(1), hold);
  // Without a sandbox nothing kills the clones with their zygote: this does.
  const made: Sandbox[] = [];
  return {
    fork: async (n) => {
      const clones = await b.group.fork(n);
      made.push(...clones);
      for (const c of clones) bareProcesses.add(c.pid!);
      return clones;
    },
    pid: b.pid,
    dispose: async () => {
      await Promise.all(made.map((c) => (c.state === "stopped" ? undefined : c.kill())));
      b.kill();
    },
  };
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The plain C fork floor (bench/fixtures/fork-floor.c), built once. */
function floorBinary(): string {
  const out = join(ROOT, "build", "bench", "fork-floor");
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", "-o", out, join(ROOT, "bench", "fixtures", "fork-floor.c")]);
  return out;
}

/** The C floor's round: the same clones, the same line each, no Node and no sandbox. */
async function floorRound(bin: string, state: number): Promise<ForkRound> {
  const run = (hold: boolean) => {
    const child = spawn(bin, [String(CLONES), String(state), hold ? "1" : "0"], { stdio: ["pipe", "pipe", "pipe"] });
    bareProcesses.add(child.pid!);
    let out = "";
    let err = "";
    child.stdout!.setEncoding("latin1").on("data", (d: string) => (out += d));
    const forked = new Promise<void>((resolve) =>
      child.stderr!.setEncoding("latin1").on("data", (d: string) => {
        err += d;
        if (err.includes("forked")) resolve();
      }),
    );
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return { child, forked, exited, out: () => out, err: () => err };
  };
  const t0 = Date.now();
  const timed = run(false);
  await timed.exited;
  const ms = (k: string): number => Number(new RegExp(`${k} ([\\d.]+)`).exec(timed.err())?.[1] ?? NaN);
  const lastStartMs = Math.max(...timed.out().trim().split("\n").map((l) => Number(l.split(" ")[0]))) - t0;
  const held = run(true);
  await new Promise((r) => setTimeout(r, 200));
  const zygotePss = pssKb(held.child.pid!);
  const before = memAvailableKb();
  held.child.stdin!.write("g");
  await held.forked;
  await new Promise((r) => setTimeout(r, 1500));
  let total = pssKb(held.child.pid!);
  for (const pid of descendantsOf(held.child.pid!)) total += pssKb(pid);
  const after = memAvailableKb();
  held.child.stdin!.end();
  await held.exited;
  // (the zygote's own PSS is measured before its clones exist: here, the state alone)
  return { forkedMs: ms("forked"), lastStartMs, doneMs: ms("done"), zygotePssMb: zygotePss / 1024, totalPssMb: total / 1024, memDeltaMb: (before - after) / 1024 };
}

async function round(make: (hold: boolean, state: number) => Promise<Forker>, state = STATE_BYTES, memory = true): Promise<ForkRound> {
  // Timing: clones print when they began and exit.
  let z = await make(false, state);
  const t0 = Date.now();
  const clones = await z.fork(CLONES);
  const forkedMs = Date.now() - t0;
  const results = await Promise.all(clones.map((c) => c.wait()));
  const doneMs = Date.now() - t0;
  const lastStartMs = Math.max(...results.map((r) => Number(r.stdout?.toString().split(" ")[0] ?? 0))) - t0;
  await z.dispose();
  if (!memory) return { forkedMs, lastStartMs, doneMs, zygotePssMb: NaN, totalPssMb: NaN, memDeltaMb: NaN };

  // Memory: all clones alive at once.
  z = await make(true, state);
  await new Promise((r) => setTimeout(r, 200));
  const zygotePss = pssKb(z.pid);
  const before = memAvailableKb();
  const held = await z.fork(CLONES);
  await new Promise((r) => setTimeout(r, 1500));
  let total = pssKb(z.pid);
  for (const c of held) total += pssKb(c.pid!);
  const after = memAvailableKb();
  await z.dispose();
  return { forkedMs, lastStartMs, doneMs, zygotePssMb: zygotePss / 1024, totalPssMb: total / 1024, memDeltaMb: (before - after) / 1024 };
}

/** A user's first call, cold: a new fork group (zygote start, init filling 50 MiB),
 * fork(1000), reduce; then the same fork and reduce again on the warm group. With
 * /proc among the grants or not. Milliseconds each. */
async function coldWarm(grants: string[]): Promise<{ coldMs: number; warmMs: number }> {
  const policy = { fsReadable: grants, maxProcesses: CLONES + 50 };
  const reducer = new Sandbox({ fsReadable: grants });
  const sum = ["/bin/sh", "-c", "wc -l"];
  const t0 = Date.now();
  await using sb = Sandbox.newWithFns(policy, fns(false));
  const r1 = await reducer.reduce(sum, await sb.fork(CLONES));
  const coldMs = Date.now() - t0;
  const t1 = Date.now();
  const r2 = await reducer.reduce(sum, await sb.fork(CLONES));
  const warmMs = Date.now() - t1;
  for (const r of [r1, r2]) if (r.stdoutText.trim() !== String(CLONES)) throw new Error(`reduce: expected ${CLONES} lines, got ${r.stdoutText.trim()}`);
  return { coldMs, warmMs };
}

export interface ForkBench {
  bare: ForkRound[];
  sandboxed: ForkRound[];
  floor: ForkRound[];
  sandboxedNoState: ForkRound[];
  floorNoState: ForkRound[];
  cold: { coldMs: number; warmMs: number }[];
  coldProc: { coldMs: number; warmMs: number }[];
}

/** Rounds interleave every configuration, so the load of the moment hits them alike. */
export async function benchFork(rounds: number): Promise<ForkBench> {
  const bin = floorBinary();
  const out: ForkBench = { bare: [], sandboxed: [], floor: [], sandboxedNoState: [], floorNoState: [], cold: [], coldProc: [] };
  for (let i = 0; i < rounds; i++) {
    out.floor.push(await floorRound(bin, STATE_BYTES));
    out.bare.push(await round(bare));
    out.sandboxed.push(await round(sandboxed));
    out.floorNoState.push(await floorRound(bin, 0));
    out.sandboxedNoState.push(await round(sandboxed, 0, false));
    if (process.env.BENCH_FORK_COLD !== "0") {
      out.cold.push(await coldWarm(SYSTEM));
      out.coldProc.push(await coldWarm([...SYSTEM, "/proc"]));
    }
  }
  return out;
}

function line(label: string, s: Summary, unit: string, digits = 0): string {
  return `  ${label.padEnd(44)} min ${s.min.toFixed(digits)}${unit}  median ${s.median.toFixed(digits)}${unit}  max ${s.max.toFixed(digits)}${unit}`;
}

export function reportFork(b: ForkBench): string {
  const rows: string[] = [`COW fork: ${CLONES} clones of a zygote holding 50 MiB of initialised state (${b.bare.length} rounds, load average ${readFileSync("/proc/loadavg", "latin1").split(" ")[0]} at the end)`];
  const groups = [
    ["C fork floor (stand-in for the reference)", b.floor],
    ["bare Node zygote (no sandbox)", b.bare],
    ["sandboxed", b.sandboxed],
  ] as const;
  for (const [name, rs] of groups) {
    rows.push(line(`${name}: all forked`, summarize(rs.map((r) => r.forkedMs)), " ms"));
    rows.push(line(`${name}: last clone entered work`, summarize(rs.map((r) => r.lastStartMs)), " ms"));
    rows.push(line(`${name}: all done`, summarize(rs.map((r) => r.doneMs)), " ms"));
    rows.push(line(`${name}: PSS per live clone`, summarize(rs.map((r) => (r.totalPssMb - r.zygotePssMb) / CLONES)), " MiB", 3));
    rows.push(line(`${name}: host MemAvailable drop`, summarize(rs.map((r) => r.memDeltaMb)), " MiB", 1));
  }
  rows.push(line("no state: C fork floor: all done", summarize(b.floorNoState.map((r) => r.doneMs)), " ms"));
  rows.push(line("no state: sandboxed: all done", summarize(b.sandboxedNoState.map((r) => r.doneMs)), " ms"));
  const ratio = (a: ForkRound[], f: ForkRound[]) => summarize(a.map((r, i) => r.doneMs / f[i]!.doneMs));
  rows.push(line("50 MiB: sandboxed / C floor, all done", ratio(b.sandboxed, b.floor), "x", 2));
  rows.push(line("no state: sandboxed / C floor, all done", ratio(b.sandboxedNoState, b.floorNoState), "x", 2));
  for (const [name, cw] of [["system grants", b.cold], ["system grants + /proc", b.coldProc]] as const) {
    if (cw.length === 0) continue;
    rows.push(line(`first call, cold (start, init, fork, reduce), ${name}`, summarize(cw.map((c) => c.coldMs)), " ms"));
    rows.push(line(`same fork and reduce, warm, ${name}`, summarize(cw.map((c) => c.warmMs)), " ms"));
    rows.push(line(`cold / warm, ${name}`, summarize(cw.map((c) => c.coldMs / c.warmMs)), "x", 2));
  }
  const perClone = summarize(b.sandboxed.map((r) => (r.totalPssMb - r.zygotePssMb) / CLONES));
  const drop = summarize(b.sandboxed.map((r) => r.memDeltaMb));
  rows.push(`  ${verdict("PSS per clone at most 0.2 MiB (issue 17)", perClone.median <= 0.2)}`);
  rows.push(`  ${verdict(`MemAvailable drop for ${CLONES} clones under 400 MiB (issue 17)`, drop.median < 400)}`);
  rows.push(`  ${verdict("fork(1000) with 50 MiB at or below the C floor's time (issue 17; all done, median of the per-round ratios)", ratio(b.sandboxed, b.floor).median <= 1)}`);
  rows.push(`  ${verdict("fork(1000) with no state within 2x of the C floor (issue 17)", ratio(b.sandboxedNoState, b.floorNoState).median <= 2)}`);
  // The issue's own figures for the Rust reference, measured on the issue's machine (not
  // in this run: it is not installed here): 1.65 s with 50 MiB, 0.46 s with no state.
  const done = (rs: ForkRound[]) => summarize(rs.map((r) => r.doneMs)).median;
  rows.push(`  ${verdict(`fork(1000) with 50 MiB at or below the issue's Rust figure, 1650 ms (median ${done(b.sandboxed).toFixed(0)} ms; another machine)`, done(b.sandboxed) <= 1650)}`);
  rows.push(`  ${verdict(`fork(1000) with no state within 2x of the issue's Rust figure, 2 x 460 ms (median ${done(b.sandboxedNoState).toFixed(0)} ms; another machine)`, done(b.sandboxedNoState) <= 920)}`);
  return rows.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const b = await benchFork(Number(process.env.BENCH_ROUNDS ?? 3));
  console.log(reportFork(b));
  process.exit(0);
}
