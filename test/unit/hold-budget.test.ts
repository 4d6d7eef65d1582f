// The hold budget's bookkeeping (src/supervise/hold-budget.ts): limits from the process's
// descriptor limit, room taken and given back, waiters served in order with reserved room.

import assert from "node:assert/strict";
import { test } from "node:test";
import { HoldBudget, MAX_RUNNING, MAX_WAITING, ONE_CALL_MAX, holdLimits, openFileLimit } from "../../src/supervise/hold-budget.js";
import { Notification, NOTIF_BYTES } from "../../src/supervise/notification.js";
import { FIFO_POLL_MAX_MS, FIFO_POLL_MS, nextPoll } from "../../src/supervise/handlers/names-fifo.js";

let ids = 0;
const note = (): Notification => {
  const b = Buffer.alloc(NOTIF_BYTES);
  b.writeUInt32LE(++ids, 0);
  return new Notification(b);
};

test("limits: a sixteenth of RLIMIT_NOFILE per sandbox (between one call's worth and 512), half of it for all", () => {
  assert.deepEqual(holdLimits(20_000), { perSandbox: 512, perProcess: 10_000 });
  assert.deepEqual(holdLimits(1024), { perSandbox: ONE_CALL_MAX, perProcess: 512 });
  assert.deepEqual(holdLimits(6000), { perSandbox: 375, perProcess: 3000 });
  assert.equal(openFileLimit("Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                20000                files\n"), 20_000);
  assert.equal(openFileLimit("Max open files            unlimited            unlimited            files\n"), Number.MAX_SAFE_INTEGER);
});

test("a call takes room and gives it back; beyond the sandbox's budget it is refused", () => {
  const b = new HoldBudget({ perSandbox: 512, perProcess: 100_000 });
  assert.ok(b.take(note(), 254));
  assert.ok(b.take(note(), 254));
  assert.equal(b.holding, 508);
  assert.equal(b.take(note(), 254), false);
  assert.ok(b.take(note(), 4), "a small call still fits");
  b.release(254);
  b.release(254);
  b.release(4);
  assert.equal(b.holding, 0);
});

test("a single call of any size runs when its sandbox holds nothing", () => {
  const b = new HoldBudget({ perSandbox: 100, perProcess: 100 });
  assert.ok(b.take(note(), 255));
  assert.equal(b.take(note(), 1), false);
  b.release(255);
});

test("at most MAX_RUNNING calls hold threads at once", () => {
  const b = new HoldBudget({ perSandbox: 100_000, perProcess: 100_000 });
  for (let i = 0; i < MAX_RUNNING; i++) assert.ok(b.take(note(), 1));
  assert.equal(b.take(note(), 1), false);
  for (let i = 0; i < MAX_RUNNING; i++) b.release(1);
});

test("waiters are served in order with room reserved for them, which their new attempt takes", async () => {
  const b = new HoldBudget({ perSandbox: 512, perProcess: 100_000 });
  const running = note();
  assert.ok(b.take(running, 500));
  const [w1, w2] = [note(), note()];
  assert.equal(b.take(w1, 200), false);
  const g1 = b.wait(w1);
  assert.equal(b.take(w2, 10), false, "a call that finds others waiting waits behind them");
  const g2 = b.wait(w2);
  assert.equal(b.waiting, 2);
  b.release(500);
  assert.equal(await g1, true);
  assert.equal(await g2, true);
  assert.equal(b.holding, 210, "room reserved for both");
  assert.ok(b.take(w1, 200), "the reservation is taken by the new attempt");
  b.drop(w1); // nothing left to give back
  assert.equal(b.holding, 210);
  b.drop(w2); // w2's new attempt completed without a thread
  assert.equal(b.holding, 200);
  b.release(200);
});

test("the queue is bounded; close() tells waiters no", async () => {
  const b = new HoldBudget({ perSandbox: 1, perProcess: 100_000 });
  assert.ok(b.take(note(), 1));
  const waits: Promise<boolean>[] = [];
  for (let i = 0; i < MAX_WAITING; i++) {
    const n = note();
    assert.equal(b.take(n, 1), false);
    waits.push(b.wait(n));
  }
  const extra = note();
  assert.equal(b.take(extra, 1), false);
  assert.equal(await b.wait(extra), false, "beyond the queue: refused at once");
  b.close();
  assert.deepEqual(new Set(await Promise.all(waits)), new Set([false]));
  b.release(1); // a call still running when its sandbox closed ends later
  assert.equal(b.holding, 0);
});

test("the process-wide budget spans sandboxes: a release in one serves another's waiter", async () => {
  const limits = { perSandbox: 300, perProcess: 400 };
  const a = new HoldBudget(limits);
  const c = new HoldBudget(limits);
  assert.ok(a.take(note(), 250));
  const n = note();
  assert.equal(c.take(n, 250), false, "the process has no room for it");
  const granted = c.wait(n);
  a.release(250);
  assert.equal(await granted, true);
  assert.ok(c.take(n, 250));
  c.release(250);
});

test("held FIFO and lease opens look again after 20 ms, then at doubling pauses up to 250 ms (seventh review: a fixed 20 ms cost 3,200 looks a second per sandbox)", () => {
  const pauses = [FIFO_POLL_MS];
  while (pauses.length < 10) pauses.push(nextPoll(pauses[pauses.length - 1]!));
  assert.deepEqual(pauses, [20, 40, 80, 160, 250, 250, 250, 250, 250, 250]);
  assert.equal(FIFO_POLL_MAX_MS, 250);
  // 64 held opens (one sandbox's budget) waiting a minute: looks made
  const looks = (ms: number): number => {
    let t = 0;
    let n = 0;
    for (let p = FIFO_POLL_MS; t + p <= ms; p = nextPoll(p)) {
      t += p;
      n++;
    }
    return n;
  };
  assert.equal(64 * looks(60_000), 64 * 242, "about 4 a second each once the pause is at its longest");
});
