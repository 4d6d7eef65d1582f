// Listeners handed from one sandbox's receiving thread to the next (the threads are pooled
// and stop without a join, native/notify-thread.c): 48 named sandboxes, four at a time,
// each asking its name (a trapped uname, answered by its own supervisor) five times.
// Prints one JSON line: the names each sandbox saw, and the host's name unconfined.
// Usage: listener-routing-case.js

import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { Sandbox } from "../../src/index.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
const SANDBOXES = 48;
const AT_ONCE = 4;

async function one(i: number): Promise<string[]> {
  const r = await Sandbox.run({ fsReadable: SYSTEM, name: `box-${i}` }, ["/bin/sh", "-c", "for i in 1 2 3 4 5; do uname -n; done"], { timeout: 20_000 });
  return r.stdout!.toString().split("\n").filter((x) => x !== "").concat(r.status === "exited" ? [] : [`status ${r.status}`]);
}

const seen: string[][] = [];
for (let i = 0; i < SANDBOXES; i += AT_ONCE) {
  const batch = await Promise.all(Array.from({ length: AT_ONCE }, (_, k) => one(i + k)));
  seen.push(...batch);
}
console.log(JSON.stringify({ seen, host: hostname() }));
