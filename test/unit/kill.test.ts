// The supervisor's own signals (src/supervise/kill.ts) on fake pidfd calls: the pidfd is
// opened before the target is confirmed, and the signal goes through that very pidfd.

import assert from "node:assert/strict";
import { test } from "node:test";
import { SIGKILL, SIGPIPE, descendsFrom, killMember, signalCaller, type PidfdOps } from "../../src/supervise/kill.js";
import { NOTIF_BYTES, Notification } from "../../src/supervise/notification.js";

/** Fake pidfd calls that log what happens, in order. */
function fakeOps(open: (pid: number) => number, openThread: (tid: number) => number = () => -22): PidfdOps & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    open: (pid) => (log.push(`open ${pid}`), open(pid)),
    openThread: (tid) => (log.push(`openThread ${tid}`), openThread(tid)),
    send: (fd, sig) => (log.push(`send ${fd} ${sig}`), 0),
    close: (fd) => void log.push(`close ${fd}`),
  };
}

const notification = (tid: number): Notification => {
  const b = Buffer.alloc(NOTIF_BYTES);
  b.writeUInt32LE(tid, 8);
  return new Notification(b);
};

test("killMember pins the process with a pidfd, then checks it is the sandbox's, then kills through that pidfd", () => {
  const ops = fakeOps(() => 7);
  const checked: string[] = [];
  const sent = killMember(1234, (pid) => (checked.push(`member ${pid} after ${ops.log.join(",")}`), true), ops);
  assert.equal(sent, true);
  assert.deepEqual(checked, ["member 1234 after open 1234"]);
  assert.deepEqual(ops.log, ["open 1234", `send 7 ${SIGKILL}`, "close 7"]);
});

test("killMember sends nothing when the pid now names a process outside the sandbox (reused since the scan)", () => {
  const ops = fakeOps(() => 7);
  assert.equal(killMember(1234, () => false, ops), false);
  assert.deepEqual(ops.log, ["open 1234", "close 7"]);
});

test("killMember does nothing for a process already gone", () => {
  const ops = fakeOps(() => -3);
  let asked = false;
  assert.equal(killMember(1234, () => (asked = true), ops), false);
  assert.equal(asked, false);
  assert.deepEqual(ops.log, ["open 1234"]);
});

test("signalCaller opens the calling thread's pidfd, then confirms the notification, then signals through it", () => {
  const ops = fakeOps(() => -1, () => 9);
  const n = notification(4321);
  const checked: string[] = [];
  assert.equal(signalCaller(n, SIGPIPE, () => (checked.push(ops.log.join(",")), true), ops), true);
  assert.deepEqual(checked, ["openThread 4321"]);
  assert.deepEqual(ops.log, ["openThread 4321", `send 9 ${SIGPIPE}`, "close 9"]);
});

test("signalCaller sends nothing once the notification is gone (the thread died; its id may be reused)", () => {
  const ops = fakeOps(() => -1, () => 9);
  assert.equal(signalCaller(notification(4321), SIGKILL, () => false, ops), false);
  assert.deepEqual(ops.log, ["openThread 4321", "close 9"]);
});

test("descendsFrom walks parents read now, up to the root (excluded) or init", () => {
  const parents = new Map([
    [10, 5],
    [5, 2],
    [2, 1],
    [20, 1],
  ]);
  const parent = (p: number): number | undefined => parents.get(p);
  assert.equal(descendsFrom(10, 2, parent), true);
  assert.equal(descendsFrom(5, 2, parent), true);
  assert.equal(descendsFrom(2, 2, parent), false, "the root itself is not its own member");
  assert.equal(descendsFrom(20, 2, parent), false);
  assert.equal(descendsFrom(99, 2, parent), false, "gone");
});
