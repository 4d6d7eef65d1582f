// Many sandboxes supervised by one Node process (issue 16, DESIGN 5): 50 sandboxes each
// making trapped brk calls at once, against 50 separate minimal C supervisors doing the
// same in the same run; and the latency one sandbox sees per call while 49 others flood.
// `node dist/bench/scale.js [rounds]` runs it alone.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, verdict, type Summary } from "./stats.js";
import { buildFixture } from "./trap.js";

const SANDBOXES = 50;
const CALLS = 20_000;
const run = promisify(execFile);

export interface ScaleResult {
  /** Wall time of all calls / number of calls, in ns, the starts of the sandboxes (or of
   * the C supervisors) included. */
  oursAggregateNs: Summary;
  floorAggregateNs: Summary;
  /** The same from the first loop's start to the last loop's end (setup left out). */
  oursSpanNs: Summary;
  floorSpanNs: Summary;
  /** CPU time (this process's threads + every child's) / number of calls, in ns: what a
   * call costs the machine, whatever else runs on it. */
  oursCpuNs: Summary;
  floorCpuNs: Summary;
  /** Mean ns per call of one sandbox while the others flood, and alone. */
  oneUnderFloodNs: Summary;
  oneAloneNs: Summary;
  /** The 1-minute load average before and after the rounds. */
  load: [number, number];
}

/** CPU of this process (every thread) and of its reaped children, in ns. Children count
 * in clock ticks (10 ms): fine over the seconds a round lasts. */
function cpuNs(): number {
  const f = readFileSync("/proc/self/stat", "latin1");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  const children = (Number(fields[13]) + Number(fields[14])) * 1e7; // cutime, cstime
  const own = process.cpuUsage();
  return (own.user + own.system) * 1000 + children;
}

/** A loop's output: ns per call, and with `span` its start and end. */
function parseLoop(out: string): { ns: number; t0: number; t1: number } {
  const [ns, t0, t1] = out.trim().split(" ").map(Number);
  return { ns: ns!, t0: t0 ?? NaN, t1: t1 ?? NaN };
}

async function sandboxedLoop(loop: string, calls: number, span = false): Promise<{ ns: number; t0: number; t1: number }> {
  const r = await Sandbox.run({ fsReadable: [loop], maxMemory: "1G" }, [loop, String(calls), ...(span ? ["span"] : [])]);
  if (r.exitCode !== 0) throw new Error(`trap loop failed: ${r.stderrText}`);
  return parseLoop(r.stdoutText);
}

interface Flood {
  wallNs: number;
  spanNs: number;
  cpuNs: number;
}

async function flood(one: () => Promise<{ t0: number; t1: number }>): Promise<Flood> {
  const c0 = cpuNs();
  const t0 = performance.now();
  const loops = await Promise.all(Array.from({ length: SANDBOXES }, one));
  const calls = SANDBOXES * CALLS;
  const span = Math.max(...loops.map((l) => l.t1)) - Math.min(...loops.map((l) => l.t0));
  return { wallNs: ((performance.now() - t0) * 1e6) / calls, spanNs: span / calls, cpuNs: (cpuNs() - c0) / calls };
}

export async function benchScale(rounds: number): Promise<ScaleResult> {
  const loop = buildFixture("trap-loop", true);
  const floor = buildFixture("notify-floor", false);
  const ours: Flood[] = [];
  const theirs: Flood[] = [];
  const flooded: number[] = [];
  const alone: number[] = [];
  const load0 = loadavg()[0]!;
  await sandboxedLoop(loop, 100); // the plan cache, the worker pool
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so drift does not always favour one.
    const mine = (): Promise<Flood> => flood(() => sandboxedLoop(loop, CALLS, true));
    const c = (): Promise<Flood> => flood(async () => parseLoop((await run(floor, [String(CALLS), "span"])).stdout));
    if (r % 2 === 0) {
      ours.push(await mine());
      theirs.push(await c());
    } else {
      theirs.push(await c());
      ours.push(await mine());
    }
    alone.push((await sandboxedLoop(loop, CALLS)).ns);
    // One measured sandbox started once the flooders run, ending well before them.
    const flooders = Array.from({ length: SANDBOXES - 1 }, () => sandboxedLoop(loop, CALLS * 4));
    await new Promise((res) => setTimeout(res, 50));
    flooded.push((await sandboxedLoop(loop, CALLS / 4)).ns);
    await Promise.all(flooders);
  }
  const pick = (xs: Flood[], k: keyof Flood): Summary => summarize(xs.map((x) => x[k]));
  return {
    oursAggregateNs: pick(ours, "wallNs"),
    floorAggregateNs: pick(theirs, "wallNs"),
    oursSpanNs: pick(ours, "spanNs"),
    floorSpanNs: pick(theirs, "spanNs"),
    oursCpuNs: pick(ours, "cpuNs"),
    floorCpuNs: pick(theirs, "cpuNs"),
    oneUnderFloodNs: summarize(flooded),
    oneAloneNs: summarize(alone),
    load: [load0, loadavg()[0]!],
  };
}

export function reportScale(s: ScaleResult): string {
  const us = (x: Summary): Summary => ({ min: x.min / 1000, median: x.median / 1000, max: x.max / 1000 });
  const row = (label: string, x: Summary): string => `  ${label.padEnd(44)} ${fmt(us(x), " us")}`;
  return [
    `${SANDBOXES} sandboxes trapping brk at once from one Node process (${CALLS} calls each), per call; load average ${s.load[0].toFixed(1)} -> ${s.load[1].toFixed(1)} on ${cpuCount()} CPUs`,
    row("sandlock, one process: wall, starts included", s.oursAggregateNs),
    row(`${SANDBOXES} separate C supervisors: wall, starts included`, s.floorAggregateNs),
    row("sandlock: wall, first loop start to last end", s.oursSpanNs),
    row("C supervisors: wall, first loop start to last end", s.floorSpanNs),
    row("sandlock: CPU (supervisor + sandboxes + starts)", s.oursCpuNs),
    row("C supervisors: CPU (supervisors + children)", s.floorCpuNs),
    `  ${verdict("aggregate throughput at least that of separate supervisors (issue 16), wall with starts", s.oursAggregateNs.median <= s.floorAggregateNs.median)}`,
    `  ${verdict("the same, loops only (start to end)", s.oursSpanNs.median <= s.floorSpanNs.median)}`,
    row("one sandbox alone, per call", s.oneAloneNs),
    row(`one sandbox while ${SANDBOXES - 1} flood, per call`, s.oneUnderFloodNs),
  ].join("\n");
}

function cpuCount(): number {
  return readFileSync("/proc/cpuinfo", "latin1").split("\n").filter((l) => l.startsWith("processor")).length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(reportScale(await benchScale(Number(process.argv[2] ?? 3))));
}
