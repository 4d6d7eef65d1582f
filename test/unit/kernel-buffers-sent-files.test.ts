// Memory-backed files a sandbox passes with SCM_RIGHTS, descriptors queued to its sockets
// (kernel-buffers.ts SentFile, IN_FLIGHT_MS) and its lock records (LOCK_RECORD_BYTES),
// against the real kernel: a memfd in a queue is in no descriptor table and no mapping, and
// a lock record in no memory figure, so these counts are all that charge them.

import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, fstatSync, readdirSync, readlinkSync } from "node:fs";
import { IN_FLIGHT_MS, KernelBuffers, LOCK_RECORD_BYTES, LOCK_SCAN_MS, SENT_FILES_MAX } from "../../src/supervise/kernel-buffers.js";
import { MemoryFiles } from "../../src/supervise/memory-files.js";
import { native } from "../../src/confine/native.js";

/** A measure run to its end, its works off the event loop waited for. */
async function measure(kb: KernelBuffers, procs: Map<number, { unit: number; task: number }> = new Map()): Promise<Map<number, number>> {
  const g = kb.measure(procs, 0);
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
    if (r.value !== undefined) await r.value;
  }
}

/** Lets the clock move past the millisecond of the last socket dump (a dump "no older than
 * 0 ms" is one from another millisecond). */
const fresher = (): Promise<void> => new Promise((ok) => setTimeout(ok, 3));

/** This process's descriptors that are memfds named `name`. */
function memfdsNamed(name: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`/memfd:${name}`)) n++;
    } catch {
      // closed meanwhile (readdir's own descriptor)
    }
  }
  return n;
}

const MiB = 1 << 20;
const unixDiag = typeof native().unixSockets(0) !== "number";

test("a memfd passed is charged to the unit that sent it while its message is queued, and let go once it is read", { skip: unixDiag ? false : "no unix_diag on this host" }, async () => {
  const files = new MemoryFiles([]);
  const kb = new KernelBuffers(undefined, (fd) => files.chargedFileKey(fd));
  const [a, b] = native().seqpacketPair();
  try {
    const memfd = native().memfd(Buffer.alloc(MiB, 1));
    const key = files.chargedFileKey(memfd);
    assert.ok(key !== null, "a memfd is charged as a memory-backed file");
    const sender = fstatSync(a).ino;
    // Sent twice on one socket, as the supervisor's send does: then only the queue holds it.
    assert.equal(native().sendFds(a, Buffer.from("x"), [memfd]), 1);
    kb.passed(7, sender, 0, [memfd]);
    assert.equal(native().sendFds(a, Buffer.from("y"), [memfd]), 1);
    kb.passed(7, sender, 0, [memfd]);
    closeSync(memfd);
    assert.deepEqual(kb.sentFiles(), [{ unit: 7, key, bytes: MiB }], "one record per file, charged its blocks");

    await fresher();
    await measure(kb);
    assert.equal(kb.sentFiles().length, 1, "kept while the sender has messages queued");

    // The receiver takes both messages (and closes what they carried).
    const out = Buffer.alloc(16);
    for (let i = 0; i < 2; i++) {
      const got = native().recvFds(b, out);
      assert.ok(typeof got !== "number", `received: ${String(got)}`);
      for (const fd of got[1]) closeSync(fd);
    }
    assert.equal(memfdsNamed(""), 1, "the supervisor's handle is the memfd's last file");
    await fresher();
    await measure(kb);
    assert.deepEqual(kb.sentFiles(), [], "nothing the sender passed may be queued now");
    assert.equal(memfdsNamed(""), 0, "and the handle is closed: the supervisor no longer holds the memory");
  } finally {
    closeSync(a);
    closeSync(b);
    kb.close();
    files.close();
  }
});

test("files passed are recorded up to SENT_FILES_MAX; past it a memory-backed file may not be passed, anything else may", async () => {
  const files = new MemoryFiles([]);
  const kb = new KernelBuffers(undefined, (fd) => files.chargedFileKey(fd));
  const [a, b] = native().seqpacketPair();
  const [r, w] = native().pipe();
  try {
    const sender = fstatSync(a).ino;
    for (let i = 0; i < SENT_FILES_MAX; i++) {
      const memfd = native().memfd(Buffer.alloc(0));
      assert.equal(kb.roomToPass(memfd), true);
      kb.passed(1, sender, 0, [memfd]);
      closeSync(memfd);
    }
    assert.equal(kb.sentFiles().length, SENT_FILES_MAX);
    const one = native().memfd(Buffer.alloc(0));
    assert.equal(kb.roomToPass(one), false, "a memfd more is turned away");
    assert.equal(kb.roomToPass(r), true, "a pipe is not a memory-backed file");
    closeSync(one);
  } finally {
    kb.close();
    files.close();
    for (const fd of [a, b, r, w]) closeSync(fd);
  }
  assert.equal(memfdsNamed(""), 0, "close() let every handle go");
});

test("descriptors queued to a socket flag its unit at every look; the unit is reported once they have stayed IN_FLIGHT_MS; taking them clears it after two looks", { skip: unixDiag ? false : "no unix_diag on this host" }, async () => {
  const kb = new KernelBuffers();
  const procs = new Map([[process.pid, { unit: 3, task: process.pid }]]);
  const [a, b] = native().seqpacketPair();
  const [r, w] = native().pipe();
  try {
    await fresher();
    await measure(kb, procs);
    assert.deepEqual(kb.queuedTooLong(Date.now() + IN_FLIGHT_MS), [], "control: nothing queued, nothing flagged");

    // A zero-length message carrying a pipe: no byte shows in any queue length.
    assert.equal(native().sendFds(a, Buffer.alloc(0), [r]), 0);
    await fresher();
    await measure(kb, procs);
    assert.deepEqual(kb.queuedTooLong(), [], "not yet: queued since this look");
    assert.deepEqual(kb.queuedTooLong(Date.now() + IN_FLIGHT_MS), [3], "queued at every look for IN_FLIGHT_MS: reported");
    await fresher();
    await measure(kb, procs);
    assert.deepEqual(kb.queuedTooLong(Date.now() + IN_FLIGHT_MS), [3], "a later look keeps the first sighting");

    const got = native().recvFds(b, Buffer.alloc(4));
    assert.ok(typeof got !== "number" && got[1].length === 1, `received: ${String(got)}`);
    closeSync(got[1][0]!);
    await fresher();
    await measure(kb, procs);
    assert.deepEqual(kb.queuedTooLong(Date.now() + IN_FLIGHT_MS), [3], "one look that finds none is let pass");
    await fresher();
    await measure(kb, procs);
    assert.deepEqual(kb.queuedTooLong(Date.now() + IN_FLIGHT_MS), [], "two in a row clear it");
  } finally {
    for (const fd of [a, b, r, w]) closeSync(fd);
  }
});

test("a count behind many lock lines is still read: a socket with 2,000 OFD lock records and a descriptor queued flags its unit", { skip: unixDiag ? false : "no unix_diag on this host" }, async () => {
  // The count comes after a line per lock taken through the file, and the kernel makes the
  // whole text at the first read: a reader of its first 512 bytes (the first version) saw no
  // count behind 8 lock lines, so one lock hid a queue. The look now reads its own
  // duplicate's fdinfo, which lists no POSIX lock of the sandbox's: OFD locks here, taken
  // through the very open file the duplicate shares, are listed.
  const py = [
    "import socket, fcntl, struct, os, sys, array",
    "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)",
    "for i in range(2000): fcntl.fcntl(b.fileno(), fcntl.F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_RDLCK, 0, 2 * i, 1, 0))",
    "r, w = os.pipe()",
    "a.sendmsg([b''], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [r]))])",
    "print(os.getpid(), flush=True)",
    "sys.stdin.read()",
  ].join("\n");
  const { spawn } = await import("node:child_process");
  const child = spawn("python3", ["-c", py], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    const pid = await new Promise<number>((ok, fail) => {
      child.stdout.once("data", (d: Buffer) => ok(Number(d.toString().trim())));
      child.once("exit", (c) => fail(new Error(`python3 exited ${c}`)));
    });
    const kb = new KernelBuffers();
    const procs = new Map([[pid, { unit: 4, task: pid }]]);
    await fresher();
    await measure(kb, procs);
    assert.deepEqual(kb.queuedTooLong(Date.now() + IN_FLIGHT_MS), [4], "the queued pipe is seen behind the lock lines");
  } finally {
    child.kill();
  }
});

test("lock records: every record a process's descriptors list is charged LOCK_RECORD_BYTES, counted once per LOCK_SCAN_MS", async () => {
  const py = [
    "import fcntl, os, struct, sys, tempfile",
    "d = tempfile.mkdtemp()",
    "a = os.open(os.path.join(d, 'a'), os.O_RDWR | os.O_CREAT)",
    "b = os.open(os.path.join(d, 'b'), os.O_RDWR | os.O_CREAT)",
    "for i in range(10): fcntl.fcntl(a, fcntl.F_SETLK, struct.pack('hhqqi', fcntl.F_RDLCK, 0, 2 * i, 1, 0))",
    "for i in range(20): fcntl.fcntl(b, fcntl.F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_RDLCK, 0, 2 * i, 1, 0))",
    "print(os.getpid(), flush=True)",
    "sys.stdin.readline()",
    "for i in range(10): fcntl.fcntl(a, fcntl.F_SETLK, struct.pack('hhqqi', fcntl.F_UNLCK, 0, 2 * i, 1, 0))",
    "print('unlocked', flush=True)",
    "sys.stdin.read()",
  ].join("\n");
  const { spawn } = await import("node:child_process");
  const child = spawn("python3", ["-c", py], { stdio: ["pipe", "pipe", "inherit"] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    const parts = (pending + d).split("\n");
    pending = parts.pop()!;
    lines.push(...parts);
    waiters.splice(0).forEach((w) => w());
  });
  const line = async (n: number): Promise<string> => {
    while (lines.length < n) await new Promise<void>((ok) => waiters.push(ok));
    return lines[n - 1]!;
  };
  try {
    const pid = Number(await line(1));
    const kb = new KernelBuffers();
    const procs = new Map([[pid, { unit: 6, task: pid }]]);
    // (the unit is charged its stdio pipes too: the records are told by the differences)
    // The count runs apart from the look: a look starts it, a later look charges it.
    const none = (await measure(kb, procs)).get(6) ?? 0;
    assert.ok(kb.lockCount !== undefined, "the first look started a count");
    await kb.lockCount;
    const first = (await measure(kb, procs)).get(6) ?? 0;
    assert.equal(first - none, 30 * LOCK_RECORD_BYTES, "10 POSIX and 20 OFD records");
    child.stdin.write("\n");
    assert.equal(await line(2), "unlocked");
    assert.equal((await measure(kb, procs)).get(6), first, "the count stands until the next one");
    await new Promise((ok) => setTimeout(ok, LOCK_SCAN_MS));
    await measure(kb, procs);
    await kb.lockCount;
    const later = (await measure(kb, procs)).get(6) ?? 0;
    assert.equal(first - later, 10 * LOCK_RECORD_BYTES, "counted again a second later: the 10 POSIX records are gone");
    assert.ok(later >= 20 * LOCK_RECORD_BYTES, `the 20 OFD records are left: ${later}`);
    assert.equal((later - 20 * LOCK_RECORD_BYTES) % 65536, 0, `nothing but the records and 64 KiB pipes: ${later}`);
  } finally {
    child.kill();
  }
});
