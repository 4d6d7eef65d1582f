// What held FIFO opens cost the supervising process (seventh review): sandboxes whose
// threads each open a FIFO for writing with no reader (protectedFiles: the supervisor
// performs the open, holds it within the hold budget and looks again), against the same
// number of sandboxes sleeping, in one invocation, rounds interleaved. Printed: this
// process's CPU as a share of one core while they wait, and the ratio held / idle.
// Target: 4 sandboxes of 100 waiting writers cost at most 0.10 of a core more than idle.
// Usage: node dist/bench/fifo-hold.js [rounds] [sandboxes]

import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, verdict } from "./stats.js";

const WRITERS = 100;
const SETTLE_MS = 3000;
const MEASURE_MS = 5000;
const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"];

/** Each sandbox: python with WRITERS threads opening `fifo` for writing (held) or none. */
async function round(sandboxes: number, held: boolean): Promise<number> {
  const base = mkdtempSync("/tmp/sandlock-bench-fifo-");
  chmodSync(base, 0o777);
  const boxes: Sandbox[] = [];
  try {
    for (let i = 0; i < sandboxes; i++) {
      const fifo = join(base, `f${i}`);
      execFileSync("mkfifo", [fifo]);
      const sb = new Sandbox({ fsReadable: SYSTEM, fsWritable: [base], protectedFiles: true });
      const threads = held ? WRITERS : 0;
      const code = `import os, threading, time\ndef w():\n  try: os.open(${JSON.stringify(fifo)}, os.O_WRONLY)\n  except OSError: pass\nfor _ in range(${threads}): threading.Thread(target=w, daemon=True).start()\ntime.sleep(60)`;
      await sb.spawn(["/usr/bin/python3", "-c", code]);
      boxes.push(sb);
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, MEASURE_MS));
    const c = process.cpuUsage(c0);
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    return (c.user + c.system) / us;
  } finally {
    for (const sb of boxes) await sb.kill();
    rmSync(base, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const sandboxes = Number(process.argv[3] ?? 4);
  const idle: number[] = [];
  const held: number[] = [];
  const load0 = loadavg()[0]!;
  for (let r = 0; r < rounds; r++) {
    idle.push(await round(sandboxes, false));
    held.push(await round(sandboxes, true));
  }
  const extra = held.map((h, i) => h - idle[i]!);
  console.log(`held FIFO opens: ${sandboxes} sandboxes x ${WRITERS} writers, ${rounds} rounds, load ${load0.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)} on 2 CPUs`);
  console.log(`  supervisor CPU, idle sandboxes: ${fmt(summarize(idle), " core")}`);
  console.log(`  supervisor CPU, held opens:     ${fmt(summarize(held), " core")}`);
  console.log(`  held / idle:                    ${fmt(summarize(held.map((h, i) => h / idle[i]!)), "x", 2)}`);
  console.log(`  ${verdict("at most 0.10 core above idle (median)", summarize(extra).median <= 0.1)}`);
}

await main();
