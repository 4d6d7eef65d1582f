// Kernel memory a sandbox can hold without mapping it, against the real kernel, as root
// and as the test user: threads (each a kernel stack and a task), socket queues, pipe
// buffers, SysV segments. Each attack has a positive control that the same probe passes.

import assert from "node:assert/strict";
import type { CaseOutcome } from "../helpers/case-types.js";
import { answer, securityCase } from "../helpers/harness.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const BASE = { fsReadable: ["${PROBE}"] };
const KiB = 1024;
const MiB = 2 ** 20;

/** "threads K ERRNO" or "threads K": [K, errno or ""]. */
function threads(o: CaseOutcome): [number, string] {
  const m = /^threads (\d+)(?: (\w+))?$/.exec(answer(o));
  assert.ok(m, `stdout: ${o.result?.stdout} stderr: ${o.result?.stderr}`);
  return [Number(m[1]), m[2] ?? ""];
}

// --- Threads: capped at 64 per allowed process (at least 256), main threads included. ---

securityCase("maxProcesses 4: the sandbox's 256th thread gets EAGAIN (the root process's own thread is the first)", { policy: { ...BASE, maxProcesses: 4 }, cmd: probe("kmem-threads", "1000") }, (o) =>
  assert.deepEqual(threads(o), [255, "EAGAIN"]),
);
securityCase("maxProcesses 8: the cap is 64 threads per allowed process (512)", { policy: { ...BASE, maxProcesses: 8 }, cmd: probe("kmem-threads", "1000") }, (o) =>
  assert.deepEqual(threads(o), [511, "EAGAIN"]),
);
securityCase("positive control: under maxProcesses 4, 200 threads are made", { policy: { ...BASE, maxProcesses: 4 }, cmd: probe("kmem-threads", "200") }, (o) =>
  assert.deepEqual(threads(o), [200, ""]),
);

// --- Threads: each charged 24 KiB of kernel memory under maxMemory. ---------------------

securityCase("maxMemory 16M: a thread whose kernel stack and task would pass the cap gets EAGAIN, nothing is killed", { policy: { ...BASE, maxMemory: "16M" }, cmd: probe("kmem-threads", "4000") }, (o) => {
  const [made, err] = threads(o);
  assert.equal(err, "EAGAIN");
  assert.ok(made >= 100 && made * 24 * KiB < 16 * MiB, `${made} threads made`);
  assert.equal(o.result?.exitCode, 0);
  assert.equal(o.result?.limit, null);
});
securityCase("positive control: under maxMemory 16M, 100 threads are made", { policy: { ...BASE, maxMemory: "16M" }, cmd: probe("kmem-threads", "100") }, (o) =>
  assert.deepEqual(threads(o), [100, ""]),
);
