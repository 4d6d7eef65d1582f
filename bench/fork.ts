// COW fork benchmark (issue 4, DESIGN 5): 1000 clones of a zygote holding 50 MB of
// initialised state. Times until fork() resolved (every clone exists and runs), until
// the last clone entered work, and until all are done; memory (sum of PSS of the zygote
// and its live clones, and the host's MemAvailable delta) against the zygote alone. The
// same zygote program forked without any sandbox is the baseline of the same run.

import { spawn } from "node:child_process";
import { closeSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
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

const fns = (hold: boolean): ForkFunctions => ({
  init: new Function(`globalThis.state = Buffer.alloc(${STATE_BYTES}, 7);`) as () => void,
  // Prints when work began (wall clock, comparable across processes); with hold, stays
  // alive so the memory of all clones can be measured at once.
  work: new Function(
    "id",
    `process.stdout.write(Date.now() + " " + globalThis.state[id] + "\\n");${hold ? " return new Promise(() => setInterval(() => {}, 1e6));" : ""}`,
  ) as (id: number) => void,
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
export async function bareGroup(f: ForkFunctions, flags: string[] = []): Promise<{ group: ForkGroup; pid: number; kill(): void }> {
  const [mine, theirs] = native().seqpacketPair();
  const [node, ...args] = zygoteCommand();
  args.unshift(...flags);
  const child = spawn(node!, args, {
    stdio: [theirs, "ignore", "inherit"],
    env: { ...process.env, ...zygoteEnv(process.env.LD_PRELOAD) },
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

async function sandboxed(hold: boolean): Promise<Forker> {
  const sb = Sandbox.newWithFns({ fsReadable: SYSTEM, maxProcesses: CLONES + 50 }, fns(hold));
  await warmUp(await sb.fork(1), hold); // zygote up, init run
  return { fork: (n) => sb.fork(n), pid: sb.pid!, dispose: () => sb[Symbol.asyncDispose]() };
}

async function bare(hold: boolean): Promise<Forker> {
  const b = await bareGroup(fns(hold));
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

async function round(make: (hold: boolean) => Promise<Forker>): Promise<ForkRound> {
  // Timing: clones print when they began and exit.
  let z = await make(false);
  const t0 = Date.now();
  const clones = await z.fork(CLONES);
  const forkedMs = Date.now() - t0;
  const results = await Promise.all(clones.map((c) => c.wait()));
  const doneMs = Date.now() - t0;
  const lastStartMs = Math.max(...results.map((r) => Number(r.stdout?.toString().split(" ")[0] ?? 0))) - t0;
  await z.dispose();

  // Memory: all clones alive at once.
  z = await make(true);
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

export interface ForkBench {
  bare: ForkRound[];
  sandboxed: ForkRound[];
}

export async function benchFork(rounds: number): Promise<ForkBench> {
  const out: ForkBench = { bare: [], sandboxed: [] };
  for (let i = 0; i < rounds; i++) {
    out.bare.push(await round(bare));
    out.sandboxed.push(await round(sandboxed));
  }
  return out;
}

function line(label: string, s: Summary, unit: string, digits = 0): string {
  return `  ${label.padEnd(44)} min ${s.min.toFixed(digits)}${unit}  median ${s.median.toFixed(digits)}${unit}  max ${s.max.toFixed(digits)}${unit}`;
}

export function reportFork(b: ForkBench): string {
  const rows: string[] = [`COW fork: ${CLONES} clones of a zygote holding 50 MiB of initialised state (${b.bare.length} rounds)`];
  for (const [name, rs] of [["bare (no sandbox)", b.bare], ["sandboxed", b.sandboxed]] as const) {
    rows.push(line(`${name}: all forked (fork() resolved)`, summarize(rs.map((r) => r.forkedMs)), " ms"));
    rows.push(line(`${name}: last clone entered work`, summarize(rs.map((r) => r.lastStartMs)), " ms"));
    rows.push(line(`${name}: all done`, summarize(rs.map((r) => r.doneMs)), " ms"));
    rows.push(line(`${name}: zygote PSS alone`, summarize(rs.map((r) => r.zygotePssMb)), " MB", 1));
    rows.push(line(`${name}: PSS of zygote + ${CLONES} live clones`, summarize(rs.map((r) => r.totalPssMb)), " MB", 1));
    rows.push(line(`${name}: ratio to the zygote alone`, summarize(rs.map((r) => r.totalPssMb / r.zygotePssMb)), "x", 2));
    rows.push(line(`${name}: host MemAvailable drop`, summarize(rs.map((r) => r.memDeltaMb)), " MB", 1));
  }
  rows.push(line("ratio sandboxed / bare: all forked", summarize(b.sandboxed.map((r, i) => r.forkedMs / b.bare[i]!.forkedMs)), "x", 2));
  rows.push(line("ratio sandboxed / bare: all done", summarize(b.sandboxed.map((r, i) => r.doneMs / b.bare[i]!.doneMs)), "x", 2));
  const perClone = summarize(b.sandboxed.map((r) => (r.totalPssMb - r.zygotePssMb) / CLONES));
  const drop = summarize(b.sandboxed.map((r) => r.memDeltaMb));
  const total = summarize(b.sandboxed.map((r) => r.totalPssMb / r.zygotePssMb));
  rows.push(line("sandboxed: PSS per live clone", perClone, " MB", 3));
  rows.push(`  ${verdict("PSS per clone at most 0.2 MiB (issue 17, DESIGN 5)", perClone.median <= 0.2)}`);
  rows.push(`  ${verdict(`MemAvailable drop for ${CLONES} clones under 400 MiB (issue 17)`, drop.median < 400)}`);
  rows.push(`  ${verdict("zygote and all clones under 2x the zygote's PSS (issue 4)", total.median < 2)}`);
  rows.push(`  ${verdict(`all ${CLONES} forked within 1 s (issue 4)`, summarize(b.sandboxed.map((r) => r.forkedMs)).median <= 1000)}`);
  return rows.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const b = await benchFork(Number(process.env.BENCH_ROUNDS ?? 3));
  console.log(reportFork(b));
  process.exit(0);
}
