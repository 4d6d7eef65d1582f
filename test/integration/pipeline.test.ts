// Pipelines (SPEC 2.5) against the real kernel, as root and as the test user: stages under
// their own policies wired by kernel pipes; early exits, a killed middle stage and a
// timeout end the pipeline without a hang; this process keeps no pipe end.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

interface StageOut { status: string; code: number | null; signal: string | null; err: string }

scriptCase("pipelines: own policies per stage, early exits, a killed middle stage and a timeout end without a hang", "dist/test/scripts/pipeline-case.js", [], (o) => {
  // wc counted the first stage's three lines; the second stage could not read the file itself
  // (it would have added them again, and LEAK).
  assert.equal(o.three.out, "3\n");
  assert.deepEqual(o.three.stages.map((s: StageOut) => [s.status, s.code]), [["exited", 0], ["exited", 0], ["exited", 0]]);
  assert.equal(o.headEarly.out, "y\ny\n");
  assert.deepEqual(o.headEarly.stages.map((s: StageOut) => s.signal ?? s.code), ["SIGPIPE", 0], "the writer got SIGPIPE once its reader was gone");
  assert.deepEqual(o.writerEarly.stages.map((s: StageOut) => s.code), [1, 0], "the reader got EOF");
  assert.notEqual(o.killedMiddle, "hung");
  assert.deepEqual(o.killedMiddle.stages.map((s: StageOut) => [s.status, s.signal ?? s.code]), [["signaled", "SIGPIPE"], ["signaled", "SIGKILL"], ["exited", 0]]);
  assert.notEqual(o.timedOut, "hung");
  assert.deepEqual(o.timedOut.stages.map((s: StageOut) => s.status), ["timeout", "timeout"]);
  assert.notEqual(o.timedOutGc, "hung", "the timeout fired under garbage collection");
  assert.deepEqual(o.timedOutGc.stages.map((s: StageOut) => s.status), ["timeout", "timeout"]);
  assert.notEqual(o.abortedGc, "hung", "the caller's abort ended the pipeline under garbage collection");
  assert.deepEqual(o.abortedGc.stages.map((s: StageOut) => s.status), ["killed", "killed"]);
  assert.match(o.cannotStart, /^execve\(\/nonexistent-sandlock\/cmd\): ENOENT/);
  assert.deepEqual(o.errors, [
    "Pipeline.of: a pipeline needs at least two stages (got 1)",
    "Stage: argv must be a non-empty array of strings",
    "Pipeline.of: argument 1 is not a Stage or a Pipeline",
  ]);
  assert.equal(o.input.out, "TIREHNI\n", "input is data for the first stage, even \"inherit\\n\"");
  assert.equal(o.pipesAfter, o.pipesBefore, "no pipe end left in this process");
});
