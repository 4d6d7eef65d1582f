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

// An exception thrown by code that ran in the library's native event-loop callback (its
// scope includes the process.nextTick queue; pause() resolves there) is an uncaught
// exception like any other. Before, Node-API kept it pending: the program lived on, no
// library callback reached JavaScript again and the loop spun on a ready descriptor with a
// core busy (a CI run lost 25 minutes of a core to one whose stdout reader had gone).
scriptCase("an exception thrown in a tick queued when pause() resolved kills the program, and its sandbox with it", SCRIPT, args("throwAfterPause"), (out) => {
  assert.equal(out.sandboxRan, true, out.stderr);
  assert.equal(out.code, 1, `exit code (stdout ${JSON.stringify(out.stdout)})`);
  assert.match(out.stderr, /Error: boom from a tick/);
  assert.equal(out.stdout, "", "the timer that says it survived never ran");
  assert.deepEqual(out.left, [], "the sandbox's launcher and process are gone");
});

scriptCase("with an uncaughtException listener the same exception reaches it and sandboxes go on working", SCRIPT, args("throwAfterPauseHandled"), (out) => {
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { caught: ["boom from a tick"], after: "after" });
  assert.deepEqual(out.left, []);
});

scriptCase("a program whose stdout reader is gone dies of EPIPE after pause() resolved instead of spinning", SCRIPT, args("stdoutReaderGone"), (out) => {
  assert.equal(out.sandboxRan, true, out.stderr);
  assert.equal(out.code, 1, out.stderr);
  assert.match(out.stderr, /EPIPE/);
  assert.doesNotMatch(out.stderr, /all 200 lines printed/);
  assert.deepEqual(out.left, []);
});
