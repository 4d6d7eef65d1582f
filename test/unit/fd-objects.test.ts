// A process's descriptor table read in parts (native fdObjectsFrom, fdObjectParts): a part
// ends after FD_PART descriptors or once its time budget is spent, so a slow machine reads
// fewer descriptors per part instead of holding the supervisor's event loop longer. Against
// a real process holding 6,000 pipe ends and an epoll file watching 3,000 of them: the bound
// in time is what ends a part when it is short, a walk in parts sees every descriptor
// exactly once, and what it finds is what one unbounded read finds; only the kinds asked
// for are reported (an epoll file's watches are counted only when asked for). The same walk
// made off the event loop (fdObjectsFromAsync, fdObjectPartsOffLoop) finds the same; an
// epoll file's watches are counted off the loop on a duplicate (epollWatchesAsync); works
// off the loop are started at most OFF_LOOP_AT_ONCE at once, their owners served in turn.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { native } from "../../src/confine/native.js";
import { closeSync } from "node:fs";
import { FD_PART, OFF_LOOP_AT_ONCE, fdObjectParts, fdObjectPartsOffLoop, offLoop, type FdObjectKind } from "../../src/supervise/fd-objects.js";
import { runInSlices } from "../../src/supervise/slices.js";

const PIPES = 3000;
/** fdObjectsFrom's kinds: every one (bits 1 to 5). */
const ALL_KINDS = 0b111110;

/** A process holding PIPES pipes (both ends) and an epoll file watching their read ends,
 * alive until its stdin closes; `epoll` is that file's descriptor number there. */
async function holder(): Promise<{ child: ChildProcess; epoll: number }> {
  const program = `
import os, select, sys
ends = [os.pipe() for _ in range(${PIPES})]
ep = select.epoll()
for r, _ in ends: ep.register(r, select.EPOLLIN)
print("ready", ep.fileno(), flush=True)
sys.stdin.read()
`;
  const child = spawn("/usr/bin/python3", ["-c", program], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (out += d));
  // (the line may come in more than one piece)
  while (!/^ready \d+\n/.test(out)) {
    const [code] = await Promise.race([once(child.stdout!, "data"), once(child, "exit")]);
    if (typeof code === "number" || code === null) throw new Error(`holder exited: ${code}`);
  }
  return { child, epoll: Number(/^ready (\d+)\n/.exec(out)![1]) };
}

/** Runs `fn` with the pid of a holder (and its epoll file's descriptor), which ends after it. */
async function withHolder(fn: (pid: number, epoll: number) => void | Promise<void>): Promise<void> {
  const { child, epoll } = await holder();
  try {
    await fn(child.pid!, epoll);
  } finally {
    child.stdin!.end();
    await once(child, "exit");
  }
}

/** Reads one part: [next, read, triples]. */
function part(pid: number, from: number, max: number, budgetUs: number, kinds = ALL_KINDS): { next: number; read: number; fds: number[]; pipes: number; epolls: number[] } {
  const b = native().fdObjectsFrom(pid, from, max, budgetUs, kinds);
  assert.ok(typeof b !== "number", `fdObjectsFrom: ${String(b)}`);
  const fds: number[] = [];
  const epolls: number[] = [];
  let pipes = 0;
  for (let at = 8; at + 12 <= b.length; at += 12) {
    fds.push(b.readUInt32LE(at));
    const kind = b.readUInt32LE(at + 4);
    if (kind === 2) pipes++;
    if (kind === 3) epolls.push(b.readUInt32LE(at + 8));
  }
  return { next: b.readUInt32LE(0), read: b.readUInt32LE(4), fds, pipes, epolls };
}

test("a part bounded in time ends once its budget is spent; unbounded, at FD_PART", () =>
  withHolder((pid) => {
    const whole = part(pid, 0, FD_PART, 0);
    assert.equal(whole.read, FD_PART);
    assert.ok(whole.next > 0, "a table of 6,000 descriptors goes on past the first part");
    // A budget of 1 us is spent within the first few descriptors' reads (each a readlink of
    // /proc/PID/fd/N, a few microseconds), which ends the part there; a part reads at least
    // one, so a walk always moves on.
    const short = part(pid, 0, FD_PART, 1);
    assert.ok(short.read >= 1 && short.read < 16, `a part of 1 us read ${short.read} descriptors`);
    // The descriptors are 0, 1, 2, ... without a gap: it goes on from the next one.
    assert.equal(short.next, short.read);
    const after = part(pid, short.next, FD_PART, 0);
    assert.equal(after.read, FD_PART);
    assert.ok(after.fds.every((fd) => fd >= short.next), "the next part starts where the last stopped");
  }));

test("a walk in parts bounded in time reads every descriptor once and finds what one read finds", () =>
  withHolder((pid) => {
    const one = part(pid, 0, 1 << 30, 0);
    assert.ok(one.read >= 2 * PIPES, `read ${one.read}`);
    // The walk with parts of 1 us each: a few descriptors per part.
    const seen: number[] = [];
    let parts = 0;
    for (let from = 0; ; parts++) {
      const p = part(pid, from, FD_PART, 1);
      seen.push(...p.fds);
      if (p.next === 0) break;
      from = p.next;
    }
    assert.deepEqual(seen, one.fds);
    assert.ok(parts + 1 > one.read / 16, `${parts + 1} parts for ${one.read} descriptors`);
    // fdObjectParts (the budget the supervisor uses) finds the same pipes.
    const pipes: number[] = [];
    const read = { descriptors: 0 };
    const walk = fdObjectParts(pid, ["pipe"], (kind, _inode, fd) => void (kind === "pipe" && pipes.push(fd)), read);
    while (walk.next().done !== true);
    assert.equal(read.descriptors, one.read);
    assert.ok(one.pipes >= 2 * PIPES, `${one.pipes} pipe ends`);
    assert.equal(pipes.length, one.pipes);
  }));

test("only the kinds asked for are reported: an epoll file is counted when asked for, left out otherwise", () =>
  withHolder((pid) => {
    const all = part(pid, 0, 1 << 30, 0);
    assert.deepEqual(all.epolls, [PIPES], "the epoll file and its watches");
    const pipesOnly = part(pid, 0, 1 << 30, 0, 1 << 2);
    assert.deepEqual(pipesOnly.epolls, []);
    assert.equal(pipesOnly.pipes, all.pipes);
    assert.equal(pipesOnly.fds.length, all.pipes, "nothing but the pipes");
    assert.equal(pipesOnly.read, all.read, "every descriptor is still read");
    const walked: FdObjectKind[] = [];
    const walk = fdObjectParts(pid, ["epoll"], (kind) => void walked.push(kind));
    while (walk.next().done !== true);
    assert.deepEqual(walked, ["epoll"]);
  }));

test("off the event loop: a part is the part read on it, with the CPU it took; the walk finds the same", () =>
  withHolder(async (pid) => {
    for (const [from, max, kinds] of [[0, 1 << 30, ALL_KINDS], [5, 100, ALL_KINDS], [0, FD_PART, 1 << 3]] as const) {
      const [b, cpuUs] = await native().fdObjectsFromAsync(pid, from, max, 0, kinds);
      assert.ok(Buffer.isBuffer(b), `fdObjectsFromAsync: ${String(b)}`);
      assert.deepEqual(b, native().fdObjectsFrom(pid, from, max, 0, kinds), `from ${from}, max ${max}, kinds ${kinds}`);
      assert.ok(Number.isInteger(cpuUs) && cpuUs >= 0, `CPU ${cpuUs} us`);
    }
    const sync = { pipes: [] as number[], epolls: [] as number[] };
    const walk = fdObjectParts(pid, ["pipe", "epoll"], (kind, value, fd) => void (kind === "pipe" ? sync.pipes.push(fd) : sync.epolls.push(value)));
    while (walk.next().done !== true);
    const off = { pipes: [] as number[], epolls: [] as number[] };
    let busy = -1;
    await new Promise<void>((resolve) => runInSlices(fdObjectPartsOffLoop({}, pid, ["pipe", "epoll"], (kind, value, fd) => void (kind === "pipe" ? off.pipes.push(fd) : off.epolls.push(value))), (_, ms) => ((busy = ms), resolve())));
    assert.deepEqual(off, sync);
    assert.deepEqual(off.epolls, [PIPES]);
    assert.ok(busy > 0, "the work off the loop is counted in the busy time");
    // A process that is gone has nothing (as on the loop), and the walk ends.
    const gone = spawn("/bin/true");
    await once(gone, "exit");
    const none: number[] = [];
    await new Promise<void>((resolve) => runInSlices(fdObjectPartsOffLoop({}, gone.pid!, ["pipe"], (_k, _v, fd) => void none.push(fd)), () => resolve()));
    assert.deepEqual(none, []);
  }));

test("an epoll file's watches are counted off the loop on a duplicate: the caller may close its descriptor at once", () =>
  withHolder(async (pid, epoll) => {
    const pidfd = native().pidfdOpen(pid);
    assert.ok(pidfd >= 0, `pidfd_open: ${pidfd}`);
    const mine = native().pidfdGetfd(pidfd, epoll);
    closeSync(pidfd);
    assert.ok(mine >= 0, `pidfd_getfd: ${mine}`);
    const counting = native().epollWatchesAsync(mine);
    closeSync(mine);
    assert.ok(typeof counting !== "number", `epollWatchesAsync: ${String(counting)}`);
    const [watches, cpuUs] = await counting;
    assert.equal(watches, PIPES);
    assert.ok(cpuUs >= 0);
    // Not an epoll file: none; a descriptor not open: -EBADF at once.
    const [none] = (await native().epollWatchesAsync(0)) as [number, number];
    assert.equal(none, 0);
    assert.equal(native().epollWatchesAsync(mine), -9);
  }));

test(`works off the loop run ${OFF_LOOP_AT_ONCE} at once, one of an owner at a time, their owners served in turn`, async () => {
  const started: string[] = [];
  const ends: (() => void)[] = [];
  let running = 0;
  let most = 0;
  const work = (owner: object, name: string): Promise<number> =>
    offLoop(owner, () => {
      started.push(name);
      most = Math.max(most, ++running);
      return new Promise<number>((resolve) => ends.push(() => (running--, resolve(0))));
    });
  const [a, b, c] = [{}, {}, {}];
  const all = [...[1, 2, 3, 4].map((i) => work(a, `a${i}`)), work(b, "b1"), work(b, "b2"), work(c, "c1")];
  // a1 and b1 start at once (one work of an owner at a time), the rest wait.
  assert.deepEqual(started, ["a1", "b1"]);
  // Each work ends once started, oldest first, until all have run.
  while (ends.length > 0 || started.length < all.length) {
    await new Promise((r) => setImmediate(r));
    ends.shift()?.();
  }
  await Promise.all(all);
  assert.equal(most, OFF_LOOP_AT_ONCE);
  // The oldest ends first: a1 (a2 starts, a goes to the end of the turn: b, c, a), b1 (b2;
  // c, a), a2 (c1), b2 (a3), c1 (a4 waits for a3, a's own), a3 (a4).
  assert.deepEqual(started, ["a1", "b1", "a2", "b2", "c1", "a3", "a4"]);
});
