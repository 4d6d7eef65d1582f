// The capture's sort with turns of the event loop (checkpoint/turns.ts): what Array.sort
// gives, stable, and the loop turns while a slow comparison (kcmp, a system call, in a
// capture) sorts many items. And the turns freezes of one sandbox take (freeze.ts).

import assert from "node:assert/strict";
import { test } from "node:test";
import { Turns, sortInTurns } from "../../src/checkpoint/turns.js";
import { freezeTurn } from "../../src/checkpoint/freeze.js";

test("sortInTurns sorts as Array.prototype.sort does, stable, for every length up to 70", async () => {
  for (let n = 0; n <= 70; n++) {
    const items = Array.from({ length: n }, (_, i) => ({ key: (i * 7919) % 13, at: i }));
    const by = (a: { key: number }, b: { key: number }): number => a.key - b.key;
    assert.deepEqual(await sortInTurns(items, by, new Turns()), items.slice().sort(by), `n = ${n}`);
  }
});

test("sortInTurns lets the event loop turn while it sorts", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  // 20,000 items, each comparison spinning 2 us: some 0.5 s of comparisons in all.
  const slow = (a: number, b: number): number => {
    const until = performance.now() + 0.002;
    while (performance.now() < until);
    return a - b;
  };
  const items = Array.from({ length: 20_000 }, (_, i) => (i * 104729) % 20_000);
  const t0 = performance.now();
  const sorted = await sortInTurns(items, slow, new Turns());
  const ms = performance.now() - t0;
  clearInterval(timer);
  assert.deepEqual(sorted, Array.from({ length: 20_000 }, (_, i) => i));
  assert.ok(ticks >= ms / 50, `${ticks} timer ticks in ${ms.toFixed(0)} ms of sorting`);
});

test("freezeTurn: the freezes of one sandbox (a checkpoint's, an epoll count's) take turns; another sandbox's do not wait", async () => {
  const order: string[] = [];
  const endA = await freezeTurn(1001);
  const b = freezeTurn(1001).then((end) => {
    order.push("b");
    return end;
  });
  const c = freezeTurn(1001).then((end) => {
    order.push("c");
    return end;
  });
  const other = await freezeTurn(1002); // not held up by 1001's turns
  order.push("other");
  other();
  await new Promise((wake) => setImmediate(wake));
  assert.deepEqual(order, ["other"], "b and c wait for a's turn to end");
  endA();
  const endB = await b;
  await new Promise((wake) => setImmediate(wake));
  assert.deepEqual(order, ["other", "b"], "c waits for b's");
  endB();
  (await c)();
  assert.deepEqual(order, ["other", "b", "c"]);
  // Every turn ended: a new one starts at once.
  (await freezeTurn(1001))();
});
