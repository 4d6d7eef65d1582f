// pause() against programs that make it hard, as whichever user runs it, for a bounded
// time: each round pauses, waits (up to 2 s) for every thread of every process to reach
// its stop, records any SIGSTOP left queued (ShdPnd, SigPnd) and any thread running again
// 10 ms later, then resumes. Prints one JSON line for test/integration/process.test.ts.
// Usage: pause-case.js PROBE MODE THREADS MS (MODE: spin or spin-cont, probe.c op_spin): MS
// of rounds, at least 10.

import { readdirSync, readFileSync } from "node:fs";
import { Sandbox } from "../../src/index.js";

const [probe, mode, threads, ms] = process.argv.slice(2) as [string, string, string, string];
const SIGSTOP_BIT = 1n << 18n;
/** Rounds made even when MS has passed (process.test.ts asserts at least as many). */
const MIN_ROUNDS = 10;
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/** The sandbox's processes: the command and its children (the probe forks at most one). */
function processes(root: number): number[] {
  const children = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      return Number(readFileSync(`/proc/${d}/stat`, "latin1").split(") ")[1]!.split(" ")[1]) === root;
    } catch {
      return false; // gone meanwhile
    }
  });
  return [root, ...children.map(Number)];
}

function threadsOf(pid: number): { tid: string; state: string; pending: bigint }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "latin1");
    const field = (name: string): bigint => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1] ?? "0"}`);
    return { tid, state: /^State:\s*(\S)/m.exec(status)?.[1] ?? "?", pending: field("ShdPnd") | field("SigPnd") };
  });
}

async function main(): Promise<void> {
  const sb = new Sandbox({ fsReadable: [probe] });
  await sb.spawn([probe, mode, threads], { stdout: "pipe" });
  await new Promise<void>((resolve) => sb.stdout!.once("data", () => resolve()));
  // The child of spin-cont: running before the first round.
  for (let i = 0; i < 100 && processes(sb.pid!).length < (mode === "spin-cont" ? 2 : 1); i++) await sleep(10);
  let rounds = 0;
  let queued = 0;
  let unstopped = 0;
  let continued = 0;
  // The probe forks once, at its start: the list is made once.
  const pids = processes(sb.pid!);
  const allStopped = (): boolean => pids.every((p) => threadsOf(p).every((t) => t.state === "T"));
  // MS of rounds, and at least MIN_ROUNDS of them however slowly a loaded machine runs
  // them (within 30 s): a fixed time alone left too few rounds to say anything.
  const end = performance.now() + Number(ms);
  const cap = performance.now() + 30_000;
  while (performance.now() < end || (rounds < MIN_ROUNDS && performance.now() < cap)) {
    rounds++;
    await sb.pause();
    // Threads still on their way to the group stop run no code of their own (the kernel
    // stops each before it returns to user space), but reach 'T' only when scheduled.
    let all = false;
    for (const until = performance.now() + 2000; !all && performance.now() < until; ) {
      all = allStopped();
      if (!all) await sleep(1);
    }
    if (!all) unstopped++;
    if (pids.some((p) => threadsOf(p).some((t) => (t.pending & SIGSTOP_BIT) !== 0n))) queued++;
    await sleep(10);
    if (!allStopped()) continued++;
    await sb.resume();
    await sleep(2);
  }
  await sb.kill();
  await sb.wait().catch(() => undefined);
  process.stdout.write(JSON.stringify({ rounds, procs: pids.length, queued, unstopped, continued }) + "\n");
}

await main();
