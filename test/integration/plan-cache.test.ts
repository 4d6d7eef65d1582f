// A plan reused for a policy seen before never outlives the host facts it was computed
// from: the same policy object runs while the path it grants changes between runs. As
// root, a symlink in a directory only root can change (links there are followed) is
// swapped: a stale plan would list the host's processes through the swapped /proc link
// (the /proc view would be missing); the control lists them unconfined, and the first
// repeat shows the cache is really used. As root and as the user, a granted directory in
// /tmp that becomes a link is refused by name at every run (plan/grant-path.ts), never
// served from the directory's plan, and planned afresh when it is a directory again.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("a cached plan is reused only while the paths it read resolve the same: a grant swapped to another directory, into /proc, to nothing or to an untrusted link is planned afresh", "dist/test/scripts/plan-cache-case.js", [], (out, who) => {
  const u = out.untrusted;
  assert.deepEqual(u.dir.listed, ["in-a"], JSON.stringify(u.dir));
  assert.equal(u.dir.misses, 1);
  assert.deepEqual([u.dirAgain.hits, u.dirAgain.misses], [1, 0], "the same policy with nothing changed: from the cache");
  for (const r of [u.link, u.linkAgain]) {
    assert.match(r.error, /PolicyError: fsReadable: ".*\/grant" passes through .*\/grant is a symbolic link \(to .*\/b\) in a directory that processes other than root can change \(\/tmp: writable by others\)/, JSON.stringify(r));
    assert.equal(r.hits, 0, "never from the cache");
  }
  assert.deepEqual(u.dirBack.listed, ["in-a"], JSON.stringify(u.dirBack));
  if (who !== "root") return;
  const t = out.trusted;
  assert.deepEqual(t.first.listed, ["in-a"], JSON.stringify(t.first));
  assert.equal(t.first.misses, 1);
  assert.deepEqual(t.again.listed, ["in-a"], JSON.stringify(t.again));
  assert.deepEqual([t.again.hits, t.again.misses], [1, 0]);
  assert.deepEqual(t.swapped.listed, ["in-b"], JSON.stringify(t.swapped));
  assert.equal(t.swapped.misses, 1);
  // /proc behind the link: planned afresh, with the /proc view (no host process listed).
  assert.equal(t.procUnsandboxed, true, "control: unconfined, the link lists this process");
  assert.equal(t.proc.misses, 1, JSON.stringify(t.proc));
  assert.ok(t.proc.listed !== undefined, JSON.stringify(t.proc));
  assert.ok(t.proc.listed.includes("version"), JSON.stringify(t.proc.listed));
  assert.ok(!t.proc.listed.includes(t.pid), `the host's pid ${t.pid} is listed: ${JSON.stringify(t.proc.listed)}`);
  // A grant that no longer exists fails by name, as it would without a cache.
  assert.match(t.gone.error, /PolicyError: fsReadable: ".*\/link" does not exist/);
  assert.equal(t.gone.misses, 1);
});
