// Calls a handler parks while the supervisor works for the sandbox (handler.ts parkCall: an
// epoll add waiting for the count): decided when the work ends, or restarted by a freeze
// that interrupted their thread (ForkHold.restart), never both, and forgotten either way.

import assert from "node:assert/strict";
import { test } from "node:test";
import { holdForks, parkCall } from "../../src/supervise/handler.js";

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
