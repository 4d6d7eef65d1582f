// Kernel memory a sandbox can hold without mapping it, against the real kernel, as root
// and as the test user: threads (each a kernel stack and a task), socket queues, pipe
// buffers, SysV segments. Each attack has a positive control that the same probe passes.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { native } from "../../src/confine/native.js";
import type { CaseOutcome } from "../helpers/case-types.js";
import { answer, securityCase } from "../helpers/harness.js";
import { killedByMemory, MiB } from "../helpers/memory-checks.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const BASE = { fsReadable: ["${PROBE}"] };
const KiB = 1024;

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

// The probe's own static arrays take about 14 MiB of the cap.
securityCase("maxMemory 32M: a thread whose kernel stack and task would pass the cap gets EAGAIN, nothing is killed", { policy: { ...BASE, maxMemory: "32M" }, cmd: probe("kmem-threads", "4000") }, (o) => {
  const [made, err] = threads(o);
  assert.equal(err, "EAGAIN");
  assert.ok(made >= 200 && made * 24 * KiB < 32 * MiB, `${made} threads made`);
  assert.equal(o.result?.exitCode, 0);
  assert.equal(o.result?.limit, null);
});
securityCase("positive control: under maxMemory 32M, 200 threads are made", { policy: { ...BASE, maxMemory: "32M" }, cmd: probe("kmem-threads", "200") }, (o) =>
  assert.deepEqual(threads(o), [200, ""]),
);

// --- Socket queues and pipes, charged under maxMemory. ----------------------------------

const MEM = { ...BASE, maxMemory: "64M" };

/** "held MiB", exit 0, no limit: the MiB held. */
function heldMiB(o: CaseOutcome): number {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  const m = /^held (\d+)$/.exec(answer(o));
  assert.ok(m, `stdout: ${o.result?.stdout} stderr: ${o.result?.stderr}`);
  assert.equal(o.result?.exitCode, 0);
  assert.equal(o.result?.limit, null);
  return Number(m[1]);
}

// Unix socket pairs filled without reading: each queues a send buffer (232 KiB of data).
securityCase("maxMemory 64M: 400 unix stream pairs filled without reading (about 90 MiB queued) are killed", { policy: MEM, cmd: probe("kmem-pairs", "400", "stream", "keep"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: 32 unix stream pairs filled under 64M are held", { policy: MEM, cmd: probe("kmem-pairs", "32", "stream", "keep") }, (o) =>
  assert.ok(heldMiB(o) >= 5, "the pairs did queue data"),
);

// The sender closed: its data stays in the receiver's queue, which the kernel shows only
// in part for datagrams (the first message) and not at all for empty ones.
securityCase("maxMemory 64M: 400 datagram pairs filled, senders closed, are killed", { policy: MEM, cmd: probe("kmem-pairs", "400", "dgram", "close"), timeout: 30_000 }, killedByMemory());
securityCase("maxMemory 64M: 400 seqpacket pairs filled with empty messages, senders closed, are killed", { policy: MEM, cmd: probe("kmem-pairs", "400", "seqpacket", "zero"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: 32 datagram pairs filled, senders closed, are held under 64M", { policy: MEM, cmd: probe("kmem-pairs", "32", "dgram", "close") }, (o) =>
  assert.ok(heldMiB(o) >= 3, "the pairs did queue data"),
);
securityCase("positive control: 32 seqpacket pairs filled with empty messages, senders closed, are held under 64M", { policy: MEM, cmd: probe("kmem-pairs", "32", "seqpacket", "zero") }, (o) =>
  assert.equal(heldMiB(o), 0),
);

// Connections never accepted, their clients gone: the data is in no socket of a table.
securityCase(
  "maxMemory 64M: a listener with 400 connections never accepted, each filled by a client that closed, is killed",
  { fixtures: ["dirs"], policy: { ...MEM, fsWritable: ["${WRITE}"] }, cmd: probe("kmem-listen", "${WRITE}/l.sock", "400"), timeout: 30_000 },
  killedByMemory(),
);
securityCase("positive control: 16 such connections are held under 64M", { fixtures: ["dirs"], policy: { ...MEM, fsWritable: ["${WRITE}"] }, cmd: probe("kmem-listen", "${WRITE}/l.sock", "16") }, (o) =>
  assert.ok(heldMiB(o) >= 3, "the clients did queue data"),
);

// SO_SNDBUF may raise a unix socket's buffer to twice net.core.wmem_max (8 MiB here).
const wmemDefault = Number(readFileSync("/proc/sys/net/core/wmem_default", "latin1"));
securityCase("maxMemory: SO_SNDBUF is clamped to the host's default send buffer", { policy: MEM, cmd: probe("kmem-sndbuf", String(4 * MiB)) }, (o) =>
  assert.equal(answer(o), `sndbuf ${wmemDefault}`),
);
securityCase("positive control: without maxMemory SO_SNDBUF raises the buffer", { policy: BASE, cmd: probe("kmem-sndbuf", String(4 * MiB)) }, (o) =>
  assert.equal(answer(o), `sndbuf ${2 * Math.min(4 * MiB, Number(readFileSync("/proc/sys/net/core/wmem_max", "latin1")))}`),
);
securityCase("maxMemory 64M: 10 pairs with SO_SNDBUF raised to 64 MiB queue what default pairs do", { policy: MEM, cmd: probe("kmem-pairs", "10", "stream", "big") }, (o) =>
  assert.ok(heldMiB(o) <= 3, "at most a default send buffer each"),
);
securityCase("positive control: without maxMemory the same 10 pairs queue over 64 MiB", { policy: BASE, cmd: probe("kmem-pairs", "10", "stream", "big") }, (o) =>
  assert.ok(heldMiB(o) > 64),
);

// Pipes: 64 KiB each (F_SETPIPE_SZ may not raise it under maxMemory), in a descriptor
// table. The pipe budget (handlers/pipes.ts) stops a sandbox at 256 pipes (16 MiB) here, so
// the cap is 24M: 240 pipes are 15 MiB over a run's own 14.
const MEM24 = { ...BASE, maxMemory: "24M" };
securityCase("maxMemory 24M: 240 full pipes are killed", { policy: MEM24, cmd: probe("kmem-pipes", "240", "keep"), timeout: 30_000 }, killedByMemory(24));
// In flight in a socket's queue: inflight.test.ts (run alone: it takes its uid's count of
// files in flight, which every sandbox of the uid shares).
securityCase("maxMemory: F_SETPIPE_SZ past 64 KiB gets EPERM", { policy: MEM, cmd: probe("kmem-pipesz", String(MiB)) }, (o) => assert.equal(answer(o), "EPERM"));
securityCase("positive control: F_SETPIPE_SZ to 64 KiB under maxMemory works", { policy: MEM, cmd: probe("kmem-pipesz", "65536") }, (o) =>
  assert.equal(answer(o), "size 65536"),
);
// The pipe budget (handlers/pipes.ts) charges a pipe 16 pages in every supervised policy.
securityCase("without maxMemory, F_SETPIPE_SZ past 64 KiB gets EPERM too (the pipe budget)", { policy: BASE, cmd: probe("kmem-pipesz", String(MiB)) }, (o) => assert.equal(answer(o), "EPERM"));
securityCase("positive control: F_SETPIPE_SZ to 1 MiB without a supervisor works", { policy: { ...BASE, supervisor: false }, cmd: probe("kmem-pipesz", String(MiB)) }, (o) =>
  assert.equal(answer(o), `size ${MiB}`),
);

// TCP on loopback: the receive queues of connections never accepted, autotuned well past
// the default buffer with no setsockopt at all.
const tcpPolicy = { ...MEM, netAllow: ["tcp://127.0.0.1:${BIND_OK}"], netAllowBind: ["${BIND_OK}"] };
securityCase("maxMemory 64M: 100 loopback TCP connections never accepted, filled by their clients, are killed", { fixtures: ["ports"], policy: tcpPolicy, cmd: probe("kmem-tcp", "${BIND_OK}", "100"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: 2 such connections are held under 64M", { fixtures: ["ports"], policy: tcpPolicy, cmd: probe("kmem-tcp", "${BIND_OK}", "2") }, (o) =>
  assert.ok(heldMiB(o) >= 1),
);

// --- Epoll watches: every descriptor in every epoll instance, about 224 bytes each. -----
//
// Under a 32M cap: every add is a supervised call (the epoll budget, handlers/epoll.ts), and
// the 85 MiB these cases made under 64M took 6 to 12 s each as the timing part ran them.

const MEM32 = { ...BASE, maxMemory: "32M" };
securityCase("maxMemory 32M: 200,000 epoll watches (1,000 eventfds in 200 epoll instances, about 42 MiB) are killed", { policy: MEM32, cmd: probe("kmem-epoll", "1000", "200"), timeout: 30_000 }, killedByMemory(32));
securityCase("positive control: 40,000 epoll watches (about 8 MiB) are held under 32M", { policy: MEM32, cmd: probe("kmem-epoll", "1000", "40") }, (o) => assert.equal(heldMiB(o), 8));

// A watch lives while the file it watches does, whatever became of the descriptor it was
// made on: made on duplicates closed since, one epoll file holds far more watches than its
// process holds descriptors (probe budget_epoll), and is still charged by its watches.
securityCase("maxMemory 32M: an epoll file of 200,000 watches (about 42 MiB) made on duplicates closed since, its process holding some 400 descriptors, is killed", { policy: MEM32, cmd: probe("budget-epoll", "1", "200000", "3000"), timeout: 30_000 }, killedByMemory(32));
// In flight, passed and closed by its sender, the file would live in the socket's queue,
// where no descriptor table shows it: such a send is refused (handlers/epoll.ts; it was
// charged by its watches at the send before the epoll budget).
securityCase("maxMemory 64M: an epoll file of 20,000 watches cannot be passed in flight (EPERM)", { policy: MEM, cmd: probe("kmem-epoll-flight", "20000", "1"), timeout: 30_000 }, (o) => assert.equal(answer(o), "EPERM"));

// Passed in flight and closed, with one message always queued: the records the supervisor
// keeps of them are bounded (unit: kernel-buffers-in-flight.test.ts); nothing is overcharged.
securityCase("positive control: half a second of socket pairs passed one by one and closed, one message always queued, is held under 64M", { policy: MEM, cmd: probe("kmem-churn", "500", "socket") }, (o) => {
  assert.match(answer(o), /^passed \d+$/, `stdout: ${o.result?.stdout} stderr: ${o.result?.stderr}`);
  assert.ok(Number(answer(o).split(" ")[1]) > 100);
  assert.equal(o.result?.limit, null);
});

// --- Page tables: a read-only mapping costs no VmData, its page tables are kernel memory.

securityCase("maxMemory 64M: page tables of a 64 GiB read-only mapping read every 2 MiB (128 MiB of them) are killed", { policy: MEM, cmd: probe("kmem-pte", "64"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: a 4 GiB mapping read the same way (8 MiB of page tables) is held", { policy: MEM, cmd: probe("kmem-pte", "4") }, (o) => assert.equal(heldMiB(o), 4));

// --- SysV segments (sysv_ipc lifted): in the host's IPC namespace, in no process. -------

const SYSV = { ...MEM, extraAllowSyscalls: ["sysv_ipc"] };

/** Ids of the host's SysV segments. */
function segmentIds(): Set<number> {
  return new Set(
    readFileSync("/proc/sysvipc/shm", "latin1")
      .split("\n")
      .slice(1)
      .map((l) => Number(l.trim().split(/\s+/)[1]))
      .filter((n) => Number.isInteger(n)),
  );
}

/** "held MiB ids A,B,..." -> the ids. */
function heldSegments(o: CaseOutcome, mb: number): number[] {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  const m = /^held (\d+) ids ([\d,]+)$/.exec(answer(o));
  assert.ok(m, `stdout: ${o.result?.stdout} stderr: ${o.result?.stderr}`);
  assert.equal(Number(m[1]), mb);
  assert.equal(o.result?.limit, null);
  return m[2]!.split(",").map(Number);
}

securityCase("maxMemory 64M with sysv_ipc lifted: 256 MiB in SysV segments, each detached once written, is killed", { policy: SYSV, cmd: probe("kmem-shm", "256", "16"), timeout: 30_000 }, killedByMemory());
securityCase("positive control: 32 MiB in segments is held, and the segments are removed when the sandbox ends", { policy: SYSV, cmd: probe("kmem-shm", "32", "16") }, (o) => {
  const ids = heldSegments(o, 32);
  const left = segmentIds();
  assert.deepEqual(ids.filter((id) => left.has(id)), []);
});
// Pinned to the supervised view, as the cases above are (maxMemory needs its meminfo):
// under the kernel view the segments live in the sandbox's own IPC namespace and go with it
// (docs/kernel-view.md). Without maxMemory the supervisor makes them too (handlers/sysv.ts),
// and removes them; they outlived the sandbox before.
securityCase("without maxMemory the segments are removed when the sandbox ends too", { policy: { ...BASE, extraAllowSyscalls: ["sysv_ipc"], procView: "supervised" }, cmd: probe("kmem-shm", "32", "16") }, (o) => {
  const ids = heldSegments(o, 32);
  const left = segmentIds();
  const kept = ids.filter((id) => left.has(id));
  for (const id of kept) native().ipcRemove(0, id);
  assert.deepEqual(kept, []);
});
