// runInSlices: the steps run across turns of the event loop, the value arrives at the end,
// and work abandoned by `cancelled` is ended with its generator's `finally` run (a look
// that holds an open /proc file lets it go).

import { test } from "node:test";
import assert from "node:assert/strict";
import { InParts, IN_PARTS_AT_ONCE, IN_PARTS_WAITING, PART_MS, runInSlices, SLICE_MS } from "../../src/supervise/slices.js";

function* steps(n: number, stepMs: number, state: { ran: number; closed: boolean }): Generator<void, number> {
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      while (performance.now() - t0 < stepMs) {
        // busy: one step's work
      }
      state.ran++;
      yield;
    }
    return state.ran;
  } finally {
    state.closed = true;
  }
}

test("steps longer than a slice run one per turn, and the value and busy time arrive at the end", async () => {
  const state = { ran: 0, closed: false };
  let turns = 0;
  const counter = setInterval(() => turns++, 0);
  const [value, busy] = await new Promise<[number, number]>((resolve) => runInSlices(steps(5, SLICE_MS + 1, state), (v, ms) => resolve([v, ms])));
  clearInterval(counter);
  assert.equal(value, 5);
  assert.ok(busy >= 5 * (SLICE_MS + 1), `busy ${busy} ms`);
  assert.ok(turns >= 1, "the loop turned between slices");
  assert.equal(state.closed, true);
});

test("a slice begins no step that would end past SLICE_MS, as long as its longest: steps of 0.6 SLICE_MS run one per slice, short ones many", async () => {
  for (const [stepMs, most, least] of [
    [0.6 * SLICE_MS, 1, 1],
    [0.05 * SLICE_MS, Infinity, 5],
  ] as const) {
    const state = { ran: 0, closed: false };
    const perSlice: number[] = [];
    let before = 0;
    await new Promise<void>((resolve) =>
      runInSlices(steps(12, stepMs, state), () => resolve(), {
        spent: () => {
          perSlice.push(state.ran - before);
          before = state.ran;
        },
      }),
    );
    assert.equal(state.ran, 12);
    // (a slice's last step may be the one that ends the steps: counted in the slice it ran in)
    const full = perSlice.slice(0, -1);
    assert.ok(full.every((n) => n <= most), `steps of ${stepMs} ms per slice: ${perSlice.join(" ")}`);
    assert.ok(Math.max(...perSlice) >= least, `steps of ${stepMs} ms per slice: ${perSlice.join(" ")}`);
  }
});

test("cancelled work is ended: its finally runs, done is never called", async () => {
  const state = { ran: 0, closed: false };
  let cancel = false;
  let done = false;
  runInSlices(steps(1000, SLICE_MS + 1, state), () => (done = true), { cancelled: () => cancel });
  await new Promise((r) => setImmediate(r));
  cancel = true;
  await new Promise((r) => setTimeout(r, 3 * SLICE_MS));
  assert.ok(state.ran >= 1 && state.ran < 1000, `ran ${state.ran}`);
  assert.equal(state.closed, true, "the generator's finally ran");
  assert.equal(done, false);
});

test("works in parts: at most IN_PARTS_AT_ONCE hold a place, the others wait in order and each release hands one on", async () => {
  const parts = new InParts();
  for (let i = 0; i < IN_PARTS_AT_ONCE; i++) assert.equal(parts.take(), true);
  assert.equal(parts.take(), false, "no place left");
  const order: number[] = [];
  const waits = [1, 2, 3].map((k) => parts.wait().then(() => order.push(k)));
  assert.equal(parts.take(), false, "a place freed goes to those waiting first");
  assert.deepEqual(parts.counts, { running: IN_PARTS_AT_ONCE, waiting: 3 });
  parts.release();
  parts.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [1, 2], "handed on in order");
  assert.deepEqual(parts.counts, { running: IN_PARTS_AT_ONCE, waiting: 1 });
  parts.release();
  await Promise.all(waits);
  for (let i = 0; i < IN_PARTS_AT_ONCE; i++) parts.release();
  assert.deepEqual(parts.counts, { running: 0, waiting: 0 });
  assert.equal(parts.take(), true);
  for (let i = 0; i < IN_PARTS_WAITING; i++) void parts.wait();
  assert.equal(parts.canWait(), false, `at most ${IN_PARTS_WAITING} wait`);
});

test("a work in parts begins no step that would end past PART_MS, as long as its longest: steps of 0.6 PART_MS run one per part, short ones many", async () => {
  for (const [stepMs, most, least] of [
    [0.6 * PART_MS, 1, 1],
    [0.05 * PART_MS, Infinity, 5],
  ] as const) {
    const parts = new InParts();
    let ran = 0;
    const perPart: number[] = [];
    let before = 0;
    // A turn of the loop between parts: the count of the part before is taken there.
    const tick = setInterval(() => {
      if (ran > before) perPart.push(ran - before);
      before = ran;
    }, 0);
    const done = await parts.run(() => {
      const t0 = performance.now();
      while (performance.now() - t0 < stepMs) {
        // busy: one step's work
      }
      return ++ran === 12;
    }, () => true);
    clearInterval(tick);
    assert.equal(done, true);
    assert.ok(perPart.every((n) => n <= most), `steps of ${stepMs} ms per part: ${perPart.join(" ")}`);
    assert.ok(Math.max(...perPart, ran - before) >= least, `steps of ${stepMs} ms per part: ${perPart.join(" ")}`);
  }
});
