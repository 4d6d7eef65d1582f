// Round trip of a trapped syscall: a program making 100,000 brk(0) calls, bare, under a
// sandbox whose supervisor answers each (maxMemory routes brk to it), and under a minimal
// C supervisor (the floor) — all in the same invocation.

import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, type Summary } from "./stats.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CALLS = 100_000;

function build(name: string, isStatic: boolean): string {
  const out = join(ROOT, "build", "bench", name);
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", ...(isStatic ? ["-static"] : []), "-o", out, join(ROOT, "bench", "fixtures", `${name}.c`)]);
  return out;
}

export interface TrapResult {
  bareNs: Summary;
  floorNs: Summary;
  sandboxedNs: Summary;
  ratioToFloor: Summary;
}

export async function benchTrap(rounds: number): Promise<TrapResult> {
  const loop = build("trap-loop", true);
  const floor = build("notify-floor", false);
  const bare: number[] = [];
  const c: number[] = [];
  const sandboxed: number[] = [];
  for (let r = 0; r < rounds; r++) {
    bare.push(Number(execFileSync(loop, [String(CALLS)]).toString()));
    c.push(Number(execFileSync(floor, [String(CALLS)]).toString()));
    const res = await Sandbox.run({ fsReadable: [loop], maxMemory: "1G" }, [loop, String(CALLS)]);
    if (res.exitCode !== 0) throw new Error(`trap loop failed: ${res.stderrText}`);
    sandboxed.push(Number(res.stdoutText));
  }
  return {
    bareNs: summarize(bare),
    floorNs: summarize(c),
    sandboxedNs: summarize(sandboxed),
    ratioToFloor: summarize(sandboxed.map((s, i) => s / c[i]!)),
  };
}

export function reportTrap(t: TrapResult): string {
  const us = (s: Summary): Summary => ({ min: s.min / 1000, median: s.median / 1000, max: s.max / 1000 });
  return [
    `Trapped syscall round trip (${CALLS} x brk(0)), mean per call in each round`,
    `  ${"bare (not trapped)".padEnd(28)} ${fmt(us(t.bareNs), " us")}`,
    `  ${"C supervisor (floor)".padEnd(28)} ${fmt(us(t.floorNs), " us")}`,
    `  ${"sandlock supervisor".padEnd(28)} ${fmt(us(t.sandboxedNs), " us")}`,
    `  ${"ratio to the C floor".padEnd(28)} ${fmt(t.ratioToFloor, "x", 2)}`,
  ].join("\n");
}
