// Listeners handed from one sandbox's receiving thread to the next (the threads are pooled
// and stop without a join, native/notify-thread.c): 48 named sandboxes, four at a time,
// each asking its name (a trapped uname, answered by its own supervisor) five times; then
// whether the receiving threads leave when their sandbox ends (they wait in RECV itself on
// Linux 6.11+, which the end of the last task ends): this process's thread count after the
// 48, against 8 sandboxes held running at once (the control: their threads are counted).
// Prints one JSON line: the names each sandbox saw, the host's name unconfined, the counts.
// Usage: listener-routing-case.js

import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { Sandbox } from "../../src/index.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
const SANDBOXES = 48;
const AT_ONCE = 4;

async function one(i: number): Promise<string[]> {
  const r = await Sandbox.run({ fsReadable: SYSTEM, name: `box-${i}` }, ["/bin/sh", "-c", "for i in 1 2 3 4 5; do uname -n; done"], { timeout: 20_000 });
  return r.stdout!.toString().split("\n").filter((x) => x !== "").concat(r.status === "exited" ? [] : [`status ${r.status}`]);
}

function threads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]);
}

/** Waits (bounded) until this process has at most `max` threads; returns the last count. */
async function settle(max: number): Promise<number> {
  let n = threads();
  for (let i = 0; i < 100 && n > max; i++) {
    await new Promise((r) => setTimeout(r, 50));
    n = threads();
  }
  return n;
}

const seen: string[][] = [];
let base = 0;
for (let i = 0; i < SANDBOXES; i += AT_ONCE) {
  const batch = await Promise.all(Array.from({ length: AT_ONCE }, (_, k) => one(i + k)));
  seen.push(...batch);
  if (i === 0) base = threads(); // Node's own threads are all up after the first batch
}
// A worker left blocked on an ended sandbox's listener would stay: 44 more threads.
const after = await settle(base);
// Control: 8 supervised sandboxes running at once, each blocked reading its stdin after a
// trapped uname, hold 8 receiving threads: the count sees them.
const held = Array.from({ length: 8 }, (_, i) => new Sandbox({ fsReadable: SYSTEM, name: `held-${process.pid}-${i}` }));
await Promise.all(held.map((sb) => sb.spawn(["/bin/sh", "-c", "uname -n; read x"], { stdin: "pipe", timeout: 20_000 })));
for (const sb of held) await sb.lines().next();
const holding = threads();
for (const sb of held) sb.stdin!.end();
await Promise.all(held.map((sb) => sb.wait()));
const released = await settle(base);
console.log(JSON.stringify({ seen, host: hostname(), threads: { base, after, holding, released } }));
