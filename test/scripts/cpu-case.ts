// maxCpu against children the kernel reaps on its own (issue 9, section 4): runs the
// probe's cpu-chain in a sandbox, counts from outside the children that finished in a 3 s
// window (each burned MS ms of its own CPU time before writing its byte), and prints the
// CPU share that shows, as one JSON line. Usage: cpu-case.js PROBE MODE MS INTERVAL [PERCENT]
// or cpu-case.js PROBE undumpable: the probe, copied execute-only (mode 0111), burns CPU
// under maxCpu after its exec made it not dumpable (the kernel then stops counting it).

import { chmodSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";

const [probe, mode, ms, interval, percent] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const WARMUP_MS = 1000;
const WINDOW_MS = 3000;

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

async function main(): Promise<void> {
  const sb = new Sandbox({ fsReadable: [probe], ...(percent !== undefined ? { maxCpu: Number(percent) } : {}) });
  await sb.spawn([probe, "cpu-chain", mode, ms, interval], { stdout: "pipe" });
  let bytes = 0;
  sb.stdout!.on("data", (c: Buffer) => (bytes += c.length));
  await sleep(WARMUP_MS);
  const first = bytes;
  const start = performance.now();
  await sleep(WINDOW_MS);
  const children = bytes - first;
  const windowMs = performance.now() - start;
  await sb.kill();
  const r = await sb.wait();
  const share = (children * Number(ms)) / windowMs;
  process.stdout.write(JSON.stringify({ children, windowMs, share, status: r.status, cpuThrottleFailure: r.cpuThrottleFailure }) + "\n");
}

async function undumpable(): Promise<void> {
  const dir = mkdtempSync("/tmp/sandlock-xo-");
  chmodSync(dir, 0o755);
  const copy = join(dir, "sl-probe-xo");
  copyFileSync(probe, copy);
  chmodSync(copy, 0o111);
  try {
    const r = await Sandbox.run({ fsReadable: [copy], maxCpu: 50 }, [copy, "dumpable-burn", "3000"], { timeout: 60_000 });
    process.stdout.write(JSON.stringify({ lines: r.stdoutText.split("\n"), status: r.status, signal: r.signal, cpuThrottleFailure: r.cpuThrottleFailure, limit: r.limit }) + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void (mode === "undumpable" ? undumpable() : main());
