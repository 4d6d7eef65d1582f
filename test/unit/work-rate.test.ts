// The token bucket that bounds the work one sandbox buys from its supervisor per second
// (src/supervise/work-rate.ts), on a fake clock.

import assert from "node:assert/strict";
import { test } from "node:test";
import { WorkRate } from "../../src/supervise/work-rate.js";

test("a burst is allowed at once, then work waits until its cost is paid back at the rate", () => {
  let now = 0;
  const r = new WorkRate(1000, 256, () => now);
  assert.ok(r.ready);
  r.spend(200);
  assert.ok(r.ready);
  r.spend(64 * 2); // a whole batch is done even past the credit
  assert.equal(r.ready, false);
  assert.equal(r.delayMs(), 73); // 72 units in debt, and one more to do anything
  now += 72;
  assert.equal(r.ready, false);
  now += 1;
  assert.ok(r.ready);
});

test("credit never exceeds the burst, however long the sandbox was idle", () => {
  let now = 0;
  const r = new WorkRate(1000, 256, () => now);
  now += 60_000;
  r.spend(256);
  assert.equal(r.ready, false);
  assert.equal(r.delayMs(), 1);
});
