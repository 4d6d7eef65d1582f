// The CLI's signal guard without an AbortSignal: a signal that arrives while the command is
// being started is acted on when the guard is attached (kill at once, the signal's exit
// code), one after the start is forwarded, a second one kills.

import assert from "node:assert/strict";
import { test } from "node:test";
import { SignalGuard } from "../../src/cli/signals.js";

type Call = [string, boolean];

type Name = "SIGTERM" | "SIGHUP";

/** A guard and a way to deliver a signal to its listeners only: a real signal would also
 * reach the test runner's own handlers, which cancel the tests. */
function guarded(): { guard: SignalGuard; raise: (name: Name) => void } {
  const before = new Map((["SIGTERM", "SIGHUP"] as const).map((n) => [n, new Set(process.listeners(n))]));
  const guard = new SignalGuard(false);
  const raise = (name: Name): void => {
    const mine = process.listeners(name).filter((l) => !before.get(name)!.has(l));
    assert.equal(mine.length, 1, `the guard listens to ${name}`);
    (mine[0] as () => void)();
  };
  return { guard, raise };
}

test("a signal before attach(): attach() kills at once, the guard reports it and counts it as forced", () => {
  const listening = new Set(process.listeners("SIGTERM"));
  const { guard, raise } = guarded();
  try {
    raise("SIGTERM");
    assert.equal(guard.received, 15);
    assert.equal(guard.killedOnStart, false, "nothing is killed before there is a sandbox");
    const calls: Call[] = [];
    guard.attach((signal, force) => calls.push([signal, force]));
    assert.deepEqual(calls, [["SIGTERM", true]]);
    assert.equal(guard.killedOnStart, true);
    assert.equal(guard.forced, true);
  } finally {
    guard.dispose();
  }
  assert.deepEqual(new Set(process.listeners("SIGTERM")), listening, "dispose() removes the guard's listeners");
});

test("positive control: a signal after attach() is forwarded gracefully, a second one forces", () => {
  const { guard, raise } = guarded();
  try {
    const calls: Call[] = [];
    guard.attach((signal, force) => calls.push([signal, force]));
    assert.deepEqual(calls, [], "attach() alone stops nothing");
    raise("SIGHUP");
    assert.deepEqual(calls, [["SIGHUP", false]]);
    assert.equal(guard.killedOnStart, false);
    assert.equal(guard.forced, false);
    raise("SIGTERM");
    assert.deepEqual(calls, [["SIGHUP", false], ["SIGTERM", true]]);
    assert.equal(guard.forced, true);
    assert.equal(guard.receivedSignal, "SIGHUP", "the first signal is the one reported");
  } finally {
    guard.dispose();
  }
});
