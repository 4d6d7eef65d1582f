// Teardown always completes (issue 9, section 2): a daemon that escaped with setsid and a
// double fork dies when the supervising CLI is SIGKILLed, when -t or a spawn timeout fires
// and when kill is asked, also when the launcher has no descriptor left to read /proc
// with (before the launcher scoped its own signals, kill and -t never completed then, and
// the daemon outlived even the CLI's SIGKILL). Each case is bounded (10 s per wait).

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/teardown-case.js";
const args = (scenario: string): string[] => [scenario, "${PROBE}", "${STAGE}/bin/sandlock.cjs"];

scriptCase("kill completes and the daemon dies, though the launcher has no descriptor left", SCRIPT, args("killStarved"), (out) => {
  assert.equal(out.done, "completed");
  assert.equal(out.status, "killed");
  assert.deepEqual(out.left, [], "no process of the sandbox (launcher, root, daemon) remains");
});

scriptCase("a timeout completes and the daemon dies, though the launcher has no descriptor left", SCRIPT, args("timeoutStarved"), (out) => {
  assert.equal(out.done, "completed");
  assert.equal(out.status, "timeout");
  assert.deepEqual(out.left, []);
});

scriptCase("SIGKILL of the supervising CLI leaves no process of the sandbox", SCRIPT, args("cliKilled"), (out) => {
  assert.equal(out.daemonAliveBefore, true, "the daemon ran (positive control)");
  assert.deepEqual(out.left, []);
});

scriptCase("SIGKILL of the supervising CLI leaves nothing, though the launcher has no descriptor left", SCRIPT, args("cliKilledStarved"), (out) => {
  assert.equal(out.daemonAliveBefore, true);
  assert.deepEqual(out.left, []);
});

scriptCase("the CLI's -t exits 124 once the daemon is gone", SCRIPT, args("cliTimeout"), (out) => {
  assert.equal(out.code, 124);
  assert.equal(out.daemonAliveAtExit, false);
  assert.deepEqual(out.left, []);
});
