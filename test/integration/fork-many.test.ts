// COW fork with many clones at once, against the real kernel, as root and as the
// unprivileged test user (test/scripts/fork-case.ts): 1000 clones, and rounds of clones that
// exit at once. Apart from fork.test.ts (its other cases) so that only these run alone in
// the suite's timing-sensitive part (scripts/test.mjs SERIAL).

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/fork-case.js";
type Json = any;

function ok(o: Json): Json {
  assert.equal(o.crashed, undefined, o.crashed);
  return o;
}

scriptCase("fork: clones that exit at once are each held by a pidfd on that clone (the handle's pid is the one it printed as process.pid, never 0; its process.ppid is the zygote), round after round; control: a zygote that reaps before reporting leaves every handle at pid 0", SCRIPT, ["exitAtOnce"], (o: Json) => {
  ok(o);
  assert.ok(o.rounds >= 1 && o.clones === o.rounds * 40, JSON.stringify(o));
  assert.equal(o.zero, 0, `handles without their clone: ${JSON.stringify(o)}`);
  assert.deepEqual(o.wrong, [], `handles naming another process: ${JSON.stringify(o)}`);
  assert.deepEqual([o.controlZero, o.controlHeld], [20, 0], `control: reaped before the report, no clone is held: ${JSON.stringify(o)}`);
}, 120_000);

scriptCase(
  "fork(1000): 1000 clones, each output correct and in order",
  SCRIPT,
  ["thousand"],
  (o: Json) => {
    ok(o);
    assert.equal(o.count, 1000);
    assert.deepEqual(o.wrong, []);
    assert.equal(o.distinctPids, 1000);
    assert.equal(o.reduced, String(Array.from({ length: 1000 }, (_, i) => i * i).reduce((a, b) => a + b, 0)));
  },
  120_000,
);
