// Start-up cost of a confined run, against the bare equivalent in the same invocation:
// the library (Sandbox.run of /bin/true vs child_process.spawn of /bin/true) and the CLI
// (`sandlock run -- /bin/true` vs `node -e 0`). Rounds interleave the two sides so drift
// in machine load hits both.

import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, type Summary } from "./stats.js";

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

export async function benchLibrary(rounds: number, perRound: number): Promise<PairResult> {
  const policy = { fsReadable: SYSTEM_RO };
  const run = async (): Promise<void> => {
    const r = await Sandbox.run(policy, ["/bin/true"], { stdout: "ignore", stderr: "ignore" });
    if (r.exitCode !== 0) throw new Error(`sandboxed /bin/true failed: ${JSON.stringify(r)}`);
  };
  await perOp(bareSpawn, 20); // warm-up both paths
  await perOp(run, 20);
  const bare: number[] = [];
  const sandboxed: number[] = [];
  for (let r = 0; r < rounds; r++) {
    bare.push(await perOp(bareSpawn, perRound));
    sandboxed.push(await perOp(run, perRound));
  }
  return pair(bare, sandboxed);
}

function timeCommand(file: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(file, args, { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.status}`);
  return performance.now() - t0;
}

export function benchCli(rounds: number, perRound: number): PairResult {
  const cli = join(ROOT, "bin", "sandlock.cjs");
  const sandlockArgs = [cli, "run", ...SYSTEM_RO.flatMap((p) => ["-r", p]), "--", "/bin/true"];
  const avg = (f: () => number): number => {
    let t = 0;
    for (let i = 0; i < perRound; i++) t += f();
    return t / perRound;
  };
  timeCommand(process.execPath, sandlockArgs);
  const bare: number[] = [];
  const sandboxed: number[] = [];
  for (let r = 0; r < rounds; r++) {
    bare.push(avg(() => timeCommand(process.execPath, ["-e", "0"])));
    sandboxed.push(avg(() => timeCommand(process.execPath, sandlockArgs)));
  }
  return pair(bare, sandboxed);
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
