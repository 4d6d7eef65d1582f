// The maxMemory watchdog's cost with 50 sandboxes supervised by one Node process: CPU
// time the supervising process spends while they idle, with no memory cap, with a cap,
// with a cap and a memfd each (descriptors and mappings looked at every period), and with
// a cap and a writable tmpfs grant, with a cap and its output piped (two pipes the
// watchdog charges), and with a cap and 4 unix socket pairs holding data each (the host's
// socket table read every period). Run: node dist/bench/memory-watchdog.js

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import type { PolicyInput } from "../src/index.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const N = 50;
const WINDOW_MS = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function build(): string {
  const out = join(ROOT, "build", "bench", "memfd-idle");
  mkdirSync(join(ROOT, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", "-static", "-o", out, join(ROOT, "bench", "fixtures", "memfd-idle.c")]);
  return out;
}

/** CPU milliseconds per second of wall time the supervisor spends while N sandboxes idle. */
async function measure(policy: PolicyInput, cmd: string[], piped = false): Promise<number> {
  const boxes = Array.from({ length: N }, () => new Sandbox(policy));
  const io = piped ? "pipe" : "ignore";
  await Promise.all(boxes.map((b) => b.spawn(cmd, { stdout: io, stderr: io })));
  await sleep(1000);
  const before = process.cpuUsage();
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const used = process.cpuUsage(before);
  const wall = performance.now() - t0;
  await Promise.all(boxes.map((b) => b.kill()));
  return (used.user + used.system) / 1000 / (wall / 1000);
}

const bin = build();
const shm = mkdtempSync("/dev/shm/sandlock-bench-");
try {
  const idle = [bin, "none", "30"];
  const rows: [string, number][] = [];
  for (let round = 0; round < 3; round++) {
    rows.push(["no maxMemory", await measure({ fsReadable: [bin] }, idle)]);
    rows.push(["maxMemory", await measure({ fsReadable: [bin], maxMemory: "256M" }, idle)]);
    rows.push(["maxMemory + a memfd each", await measure({ fsReadable: [bin], maxMemory: "256M" }, [bin, "memfd", "30"])]);
    rows.push(["maxMemory + writable tmpfs grant", await measure({ fsReadable: [bin], fsWritable: [shm], maxMemory: "256M" }, idle)]);
    rows.push(["maxMemory + output piped", await measure({ fsReadable: [bin], maxMemory: "256M" }, idle, true)]);
    rows.push(["maxMemory + 4 socket pairs each", await measure({ fsReadable: [bin], maxMemory: "256M" }, [bin, "sockets", "30"])]);
  }
  console.log(`${N} idle sandboxes, supervisor CPU (ms per second of wall time = permille of one core), 3 rounds:`);
  for (const name of [...new Set(rows.map((r) => r[0]))]) {
    const v = rows.filter((r) => r[0] === name).map((r) => r[1].toFixed(1));
    console.log(`  ${name.padEnd(34)} ${v.join("  ")}`);
  }
} finally {
  rmSync(shm, { recursive: true, force: true });
}
