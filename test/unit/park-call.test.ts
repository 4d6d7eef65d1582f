// Calls a handler parks while the supervisor works for the sandbox (handler.ts parkCall: an
// epoll add waiting for the count): decided when the work ends, or restarted by a freeze
// that interrupted their thread (ForkHold.restart), never both, and forgotten either way.

import assert from "node:assert/strict";
import { test } from "node:test";
import { forkHeld, holdForks, parkCall } from "../../src/supervise/handler.js";

test("parkCall: decided (false) when the work ends; restarted (true) by a freeze of its thread, only its launcher's", async () => {
  let finish!: () => void;
  const work = new Promise<void>((resolve) => (finish = resolve));
  const a = parkCall(2001, 11, work);
  const b = parkCall(2001, 12, work);
  const other = parkCall(2002, 11, work); // another sandbox's thread 11
  const hold = holdForks(2001);
  hold.restart(new Set([11]));
  hold.release();
  assert.equal(await a, true, "thread 11 of launcher 2001: restarted");
  finish();
  assert.equal(await b, false, "thread 12: decided once the work ended");
  assert.equal(await other, false, "launcher 2002's thread 11 was not restarted by 2001's freeze");
  // Settled calls are forgotten: a later freeze restarts nothing of theirs.
  const later = parkCall(2001, 11, new Promise<void>(() => undefined));
  const h2 = holdForks(2001);
  h2.restart(new Set([11]));
  h2.release();
  assert.equal(await later, true);
});

test("parkCall: a failed work decides the call too (the handler answers)", async () => {
  const failed = Promise.reject(new Error("count failed"));
  failed.catch(() => undefined);
  assert.equal(await parkCall(2003, 5, failed), false);
});

test("restartAll (the launcher's hold): restarts parked calls and held forks, and every one that comes until it ends; another launcher's are untouched", async () => {
  const never = new Promise<void>(() => undefined);
  const hold = holdForks(2004);
  const held = forkHeld(2004, 7);
  const parked = parkCall(2004, 8, never);
  const other = parkCall(2005, 8, Promise.resolve());
  const end = hold.restartAll();
  assert.equal(await held, true, "a held fork is restarted");
  assert.equal(await parked, true, "a parked call is restarted");
  assert.equal(await parkCall(2004, 9, never), true, "a call parked meanwhile is restarted at once");
  assert.equal(await forkHeld(2004, 10), true, "a fork held meanwhile too");
  assert.equal(await other, false, "another sandbox's call is decided as usual");
  end();
  // Ended (every thread stopped): a call parked now waits for its work again.
  let settled = false;
  const after = parkCall(2004, 11, Promise.resolve()).then((v) => ((settled = true), v));
  assert.equal(await after, false);
  assert.ok(settled);
  const fork = forkHeld(2004, 12);
  hold.release();
  assert.equal(await fork, false, "held after the end: let go at release, not restarted");
  assert.equal(forkHeld(2004, 13), undefined, "no hold left");
});
