// The supervised view's inotify broker (src/supervise/handlers/inotify-init.ts, the
// twentieth review) leaves no process behind, as root and as the test user: killed with
// its sandbox, and with its supervising process (test/scripts/inotify-broker-case.ts).
// Its limits are tested by redteam20.test.ts.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

buildStaged("redteam20.c", "sl-rt20");

scriptCase("the inotify broker ends with its sandbox (killed) and with its supervising process (killed): no broker and no sandbox process is left", "dist/test/scripts/inotify-broker-case.js", ["${STAGE}/sl-rt20"], (o) => {
  const msg = JSON.stringify(o);
  assert.equal(o.killed.ready, true, msg);
  assert.equal(o.killed.procView, "supervised", msg);
  assert.equal(o.killed.brokers, 1, `one broker while the sandbox held instances: ${msg}`);
  assert.deepEqual(o.killed.left, [], msg);
  assert.equal(o.crash.brokers, 1, `one broker in the supervising process: ${msg}`);
  assert.equal(o.crash.sandbox, true, msg);
  assert.deepEqual(o.crash.left, [], msg);
});
