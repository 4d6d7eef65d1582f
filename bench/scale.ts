// Many sandboxes supervised by one Node process (issue 16, DESIGN 5): 50 sandboxes each
// making trapped brk calls at once, against 50 separate minimal C supervisors doing the
// same in the same run; and the latency one sandbox sees per call while 49 others flood.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, verdict, type Summary } from "./stats.js";
import { buildFixture } from "./trap.js";

const SANDBOXES = 50;
const CALLS = 20_000;
const run = promisify(execFile);

export interface ScaleResult {
  /** Wall time of all calls / number of calls, in ns. */
  oursAggregateNs: Summary;
  floorAggregateNs: Summary;
  /** Mean ns per call of one sandbox while the others flood, and alone. */
  oneUnderFloodNs: Summary;
  oneAloneNs: Summary;
}

async function sandboxedLoop(loop: string, calls: number): Promise<number> {
  const r = await Sandbox.run({ fsReadable: [loop], maxMemory: "1G" }, [loop, String(calls)]);
  if (r.exitCode !== 0) throw new Error(`trap loop failed: ${r.stderrText}`);
  return Number(r.stdoutText);
}

export async function benchScale(rounds: number): Promise<ScaleResult> {
  const loop = buildFixture("trap-loop", true);
  const floor = buildFixture("notify-floor", false);
  const ours: number[] = [];
  const theirs: number[] = [];
  const flood: number[] = [];
  const alone: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    await Promise.all(Array.from({ length: SANDBOXES }, () => sandboxedLoop(loop, CALLS)));
    ours.push(((performance.now() - t0) * 1e6) / (SANDBOXES * CALLS));
    t0 = performance.now();
    await Promise.all(Array.from({ length: SANDBOXES }, () => run(floor, [String(CALLS)])));
    theirs.push(((performance.now() - t0) * 1e6) / (SANDBOXES * CALLS));
    alone.push(await sandboxedLoop(loop, CALLS));
    // One measured sandbox started once the flooders run, ending well before them.
    const flooders = Array.from({ length: SANDBOXES - 1 }, () => sandboxedLoop(loop, CALLS * 4));
    await new Promise((res) => setTimeout(res, 50));
    flood.push(await sandboxedLoop(loop, CALLS / 4));
    await Promise.all(flooders);
  }
  return { oursAggregateNs: summarize(ours), floorAggregateNs: summarize(theirs), oneUnderFloodNs: summarize(flood), oneAloneNs: summarize(alone) };
}

export function reportScale(s: ScaleResult): string {
  const us = (x: Summary): Summary => ({ min: x.min / 1000, median: x.median / 1000, max: x.max / 1000 });
  return [
    `${SANDBOXES} sandboxes trapping brk at once from one Node process (${CALLS} calls each), wall time per call`,
    `  ${"sandlock, one process".padEnd(34)} ${fmt(us(s.oursAggregateNs), " us")}`,
    `  ${`${SANDBOXES} separate C supervisors`.padEnd(34)} ${fmt(us(s.floorAggregateNs), " us")}`,
    `  ${verdict("aggregate throughput at least that of separate supervisors (issue 16)", s.oursAggregateNs.median <= s.floorAggregateNs.median)}`,
    `  ${"one sandbox alone, per call".padEnd(34)} ${fmt(us(s.oneAloneNs), " us")}`,
    `  ${`one sandbox while ${SANDBOXES - 1} flood`.padEnd(34)} ${fmt(us(s.oneUnderFloodNs), " us")}`,
  ].join("\n");
}
