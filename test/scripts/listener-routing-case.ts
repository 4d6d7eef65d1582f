// Listeners handed from one sandbox's receiving thread to the next (the threads are pooled
// and stop without a join, native/notify-thread.c): 48 named sandboxes, four at a time,
// each asking its name (a trapped uname, answered by its own supervisor) five times; then
// whether the receiving threads leave when their sandbox ends (they wait in RECV itself on
// Linux 6.11+, which the end of the last task ends): this process's receiving threads after
// the 48 (the pool keeps at most four idle), against 8 sandboxes held running at once (the
// control: their threads are counted).
// Prints one JSON line: the names each sandbox saw, the host's name unconfined, the counts.
// Usage: listener-routing-case.js

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { Sandbox } from "../../src/index.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
const SANDBOXES = 48;
const AT_ONCE = 4;
/** Idle receiving threads the pool keeps (SL_IDLE_KEPT, native/notify-thread.c). */
const IDLE_KEPT = 4;

async function one(i: number): Promise<string[]> {
  const r = await Sandbox.run({ fsReadable: SYSTEM, name: `box-${i}` }, ["/bin/sh", "-c", "for i in 1 2 3 4 5; do uname -n; done"], { timeout: 20_000 });
  return r.stdout!.toString().split("\n").filter((x) => x !== "").concat(r.status === "exited" ? [] : [`status ${r.status}`]);
}

/** This process's receiving threads (native/notify-thread.c names them). Counting every
 * thread instead compared with a base taken after the first batch, which had made only
 * three when a worker freed by one of its sandboxes served the next (CI: 15 against 14). */
function threads(): number {
  let n = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, "utf8") === "sandlock-recv\n") n++;
    } catch {
      // ended while listed
    }
  }
  return n;
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
const before = threads();
let base = 0;
for (let i = 0; i < SANDBOXES; i += AT_ONCE) {
  const batch = await Promise.all(Array.from({ length: AT_ONCE }, (_, k) => one(i + k)));
  seen.push(...batch);
  if (i === 0) base = threads();
}
// A worker left blocked on an ended sandbox's listener would stay: 44 more threads.
const after = await settle(IDLE_KEPT);
// Control: 8 supervised sandboxes running at once, each blocked reading its stdin after a
// trapped uname, hold 8 receiving threads: the count sees them.
const held = Array.from({ length: 8 }, (_, i) => new Sandbox({ fsReadable: SYSTEM, name: `held-${process.pid}-${i}` }));
await Promise.all(held.map((sb) => sb.spawn(["/bin/sh", "-c", "uname -n; read x"], { stdin: "pipe", timeout: 20_000 })));
for (const sb of held) await sb.lines().next();
const holding = threads();
for (const sb of held) sb.stdin!.end();
await Promise.all(held.map((sb) => sb.wait()));
const released = await settle(IDLE_KEPT);
console.log(JSON.stringify({ seen, host: hostname(), threads: { before, base, after, holding, released } }));
