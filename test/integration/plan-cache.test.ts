// A plan reused for a policy seen before never outlives the host facts it was computed
// from: the same policy object runs while the symlink it grants is swapped between runs.
// A stale plan would list the host's processes through the swapped /proc link (Landlock
// follows the link at launch, the /proc view would be missing); the control lists them
// unconfined, and the first repeat shows the cache is really used.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("a cached plan is reused only while the paths it read resolve the same: a grant swapped to another directory, into /proc or to nothing is planned afresh", "dist/test/scripts/plan-cache-case.js", [], (out) => {
  assert.deepEqual(out.first.listed, ["in-a"], JSON.stringify(out.first));
  assert.equal(out.first.misses, 1);
  // The same policy with nothing changed: from the cache.
  assert.deepEqual(out.again.listed, ["in-a"], JSON.stringify(out.again));
  assert.deepEqual([out.again.hits, out.again.misses], [1, 0]);
  assert.deepEqual(out.swapped.listed, ["in-b"], JSON.stringify(out.swapped));
  assert.equal(out.swapped.misses, 1);
  // /proc behind the link: planned afresh, with the /proc view (no host process listed).
  assert.equal(out.procUnsandboxed, true, "control: unconfined, the link lists this process");
  assert.equal(out.proc.misses, 1, JSON.stringify(out.proc));
  assert.ok(out.proc.listed !== undefined, JSON.stringify(out.proc));
  assert.ok(out.proc.listed.includes("version"), JSON.stringify(out.proc.listed));
  assert.ok(!out.proc.listed.includes(out.pid), `the host's pid ${out.pid} is listed: ${JSON.stringify(out.proc.listed)}`);
  // A grant that no longer exists fails by name, as it would without a cache.
  assert.match(out.gone.error, /PolicyError: fsReadable: ".*\/link" does not exist/);
  assert.equal(out.gone.misses, 1);
});
