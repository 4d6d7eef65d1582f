// The copy-on-write workdir (issue 12), as root and as the test user: filesystem semantics
// and the real tree untouched until commit, dry runs, real programs, branches and
// conflicts, metadata attacks on the real files, commits killed at random points, and the
// refusal where namespaces are not available. Cases in test/scripts/cow-case.ts.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/cow-case.js";

scriptCase("workdir: filesystem semantics staged, abort leaves the real tree, dry run lists, commit writes", SCRIPT, ["${PROBE}", "files"], (o) => {
  const lines = String(o.failed.out).split("\n");
  const got = (name: string): string | undefined => lines.find((l) => l.startsWith(`${name} `))?.slice(name.length + 1);
  assert.equal(o.failed.code, 1);
  assert.equal(got("mkdir-existing"), "EEXIST");
  assert.equal(got("rmdir-nonempty"), "ENOTEMPTY");
  assert.equal(got("open-dir-write"), "EISDIR");
  assert.equal(got("file-as-dir"), "ENOTDIR");
  assert.equal(got("excl-existing"), "EEXIST");
  for (const ok of ["rename-over", "link", "symlink", "truncate", "chmod", "utime", "mkdir-new"]) assert.equal(got(ok), "ok", ok);
  assert.equal(got("symlink-existing"), "EEXIST");
  assert.equal(got("rmdir-file"), "ENOTDIR");
  assert.equal(got("unlink-dir"), "EISDIR");
  assert.equal(got("rename-dir-into-itself"), "EINVAL");
  // the staged view: a.txt renamed over d.txt, b.txt appended (hard link truncated to 3), chmod, utime
  assert.equal(got("read"), "alpha bra 3 0o600 True");
  assert.equal(got("list"), "['b-link.txt', 'b-sym', 'b.txt', 'link', 'new', 'sub']");
  assert.equal(got("after-rm"), "['c.txt'] False");
  assert.equal(o.unchangedByAbort, true, "a failed run's writes never reached the real tree");

  assert.equal(o.dry.code, 0);
  assert.equal(o.dry.unchanged, true);
  const list = (o.dry.changes as { kind: string; path: string; type: string }[]).map((c) => `${c.kind} ${c.path.replace(/^.*\/files\//, "")} ${c.type}`);
  assert.deepEqual(list, ["modified a.txt file", "deleted b.txt file", "added l2 symlink", "added n dir", "added n/x file", "deleted sub/deep dir"]);
  assert.match(o.dry.diff, /^--- a\/a\.txt\n\+\+\+ b\/a\.txt\n@@ -1 \+1,2 @@\n alpha\n\+more\n/m);
  assert.match(o.dry.diff, /^--- a\/b\.txt\n\+\+\+ \/dev\/null\n/m);

  assert.equal(o.committed.code, 0);
  assert.equal(o.committed.workdir.action, "committed");
  const tree = (o.afterCommit as string[]).join("\n");
  assert.match(tree, /^f 644 a\.txt YWxwaGEKbW9yZQo=$/m); // "alpha\nmore\n"
  assert.doesNotMatch(tree, /b\.txt/);
  assert.match(tree, /^d 700 n$/m);
  assert.match(tree, /^l l2 -> sub$/m);
  assert.doesNotMatch(tree, /sub\/deep/);
  assert.equal(o.cliDry.code, 0);
  assert.match(o.cliDry.stderr, /sandlock: dry run: 1 change, none written/);
  assert.match(o.cliDry.stderr, /^ {2}M \/.*\/files\/a\.txt$/m);
  assert.match(o.cliDry.stdout, /^\+cli$/m);
  assert.equal(o.cliUnchanged, true);
  assert.equal(o.leftBranches, 0);
  assert.match(o.crossDir, /^rename ok\nlink ok\nrename-into-read-only (EACCES|EXDEV)\n$/);
}, 120_000);

scriptCase("workdir: git commit, sed -i, make, compileall and an editor's save, committed", SCRIPT, ["${PROBE}", "programs"], (o) => {
  assert.equal(o.code, 0, o.err);
  assert.equal(o.out.trim(), "socket rel hi socket abs hi second first tiny 42");
  assert.deepEqual(o.log, ["second", "first"]);
  assert.equal(o.fsck, "ok");
  assert.equal(o.a, "ALPHA\n");
  assert.equal(o.b, "saved\n");
  assert.equal(o.gen, "#define X ALPHA\n");
  assert.equal(o.prog, true);
  assert.equal(o.tiny, "module.exports = 42;\n");
  assert.equal(o.pyc, true);
  // What git sees as changed is only what make and compileall generated.
  assert.deepEqual(String(o.status).split("\n").sort(), ["?? .home/", "?? Makefile", "?? gen.h", "?? node_modules/", "?? npm.err", "?? package-lock.json", "?? package.json", "?? prog", "?? py/"]);
}, 120_000);

scriptCase("workdir: a kept branch is listed, shown, applied; a conflicting commit is refused and kept", SCRIPT, ["${PROBE}", "branches"], (o) => {
  assert.deepEqual(o.listed, [{ id: o.id, state: "kept" }]);
  assert.equal(o.shown.state, "kept");
  assert.deepEqual(o.shown.changes, ["modified /a.txt", "added /n.txt"]);
  assert.match(o.shown.diff, /^\+kept$/m);
  assert.equal(o.untouched, "alpha\n");
  assert.deepEqual(o.applied, ["modified /a.txt", "added /n.txt"]);
  assert.equal(o.a, "alpha\nkept\n");
  assert.equal(o.second.action, "committed");
  assert.equal(o.b, "bravo\nsecond\n", "the refused commit wrote nothing");
  assert.ok(o.conflict !== null, "the second commit on b.txt must be refused");
  assert.equal(o.conflict.name, "BranchError");
  assert.match(o.conflict.message, /commit refused: 1 path\(s\) changed in .* since the run started: \/.*\/b\.txt; the branch \S+ is kept/);
  assert.equal((o.conflict.paths as string[]).length, 1);
  assert.equal(o.conflict.kept, true);
  assert.match(o.badId, /^BranchError: branch: "nope" is not a branch id/);
  assert.match(o.cliBranch.list, new RegExp(`^${o.id2} {2}kept +/\\S+  /bin/sh -c echo cli > c\\.txt$`, "m"));
  assert.match(o.cliBranch.show, /^ {2}A \/.*\/c\.txt$/m);
  assert.equal(o.cliBranch.drop, `branch ${o.id2} dropped\n`);
  assert.equal(o.cliBranch.after, "");
  assert.match(o.cliBranch.bad, /^exit 125: sandlock branch apply: needs one branch ID/);
  assert.equal(o.left, 0);
}, 120_000);

scriptCase("workdir: metadata calls by absolute path and symlink swaps reach only the overlay (zero wins)", SCRIPT, ["${PROBE}", "attack"], (o) => {
  assert.equal(o.action, "aborted");
  assert.deepEqual(o.after, o.before, "the real files' mode, times and attributes are unchanged");
  assert.equal(o.treeUnchanged, true);
  // Inside, the same calls did change the staged file (the probe's own view)...
  assert.match(o.out, /^inside mode=0\d+ /m);
  assert.doesNotMatch(o.out, new RegExp(`^inside ${o.before[0].split(" ")[0]} .*mtime=1500000000`, "m"));
  // The shell's stderr goes with each message: a fork it could not make (the host out of
  // pids beside another part's 1,000 clones) ends the script early, and says so there.
  const seen = `stdout:\n${o.out}\nstderr (last 1000 bytes):\n${o.err}`;
  assert.match(o.out, /^chmods 3000 ok \d+$/m, seen);
  // The stage is covered inside, even where a grant reaches it.
  assert.match(o.out, /^stage ls: cannot open directory '\/.*\/branches\/\d{8}-\d{6}-[0-9a-f]{8}\/': Permission denied$/m, seen);
  assert.match(o.out, /^stage-upper-hidden$/m, seen);
  assert.equal(o.stageControl, "k.txt\n", "without the cover the same grant reaches a stage");
  // ...and with a plain writable grant they change the real file: the test tells them apart.
  assert.equal(o.control.code, 0);
  assert.notEqual(o.control.after, o.control.before);
}, 120_000);

scriptCase("workdir: a commit killed at random points is listed, applied again, and equals a whole commit", SCRIPT, ["${PROBE}", "crash"], (o) => {
  assert.equal(o.results.length, 6);
  for (const r of o.results) {
    assert.equal(r.recovered, true, JSON.stringify(r));
    assert.equal(r.equal, true, `tree after kill at ${r.killedAfterMs} ms and recovery`);
  }
  assert.ok(o.results.some((r: { listedAfterKill: boolean }) => r.listedAfterKill), "at least one kill landed before the commit ended");
}, 180_000);

scriptCase("workdir: refused inside a sandbox (no namespaces), ConfinementError naming why; control runs", SCRIPT, ["${PROBE}", "nested"], (o) => {
  assert.equal(o.refused.code, 126, o.refused.stderr);
  assert.match(o.refused.stderr, /workdir: the copy-on-write overlay needs a (user|mount) namespace, and this host refuses it: this process runs under a seccomp filter \(a sandbox inside a sandbox\)/);
  assert.equal(o.ranAfterRefused, false);
  assert.equal(o.control.code, 0, o.control.stderr);
  assert.equal(o.ranFile, "ran\n");
}, 120_000);

scriptCase("workdir: maxDisk gives ENOSPC past the quota, commits the same tree, and counts against maxMemory", SCRIPT, ["${PROBE}", "quota"], (o) => {
  assert.equal(o.full.code, 1, o.full.err);
  assert.deepEqual(o.full.out.trim().split("\n"), ["new ENOSPC", "copy-up ENOSPC", "small ok"]);
  assert.equal(o.unchangedByAbort, true, "a failed run's writes never reached the real tree");
  // The abort's change list is read from the quota stage (nothing copied to disk first).
  assert.equal(o.full.workdir.action, "aborted");
  assert.ok((o.full.workdir.changes as { kind: string; path: string }[]).some((c) => c.kind === "added" && c.path.endsWith("/small.txt")), JSON.stringify(o.full.workdir.changes));
  assert.deepEqual(o.dry.changes, ["modified a.txt"]);
  assert.match(o.dry.diff, /^--- a\/a\.txt\n\+\+\+ b\/a\.txt\n@@ -1 \+1,2 @@\n alpha\n\+more\n/m);
  assert.equal(o.dry.unchanged, true);
  assert.equal(o.quotaCommit.code, 0, o.quotaCommit.err);
  assert.equal(o.quotaCommit.workdir.action, "committed");
  assert.equal(o.plainCommit.workdir.action, "committed");
  assert.equal(o.equalTrees, true, `the quota stage's commit differs from a plain one: ${JSON.stringify(o.tree)}`);
  assert.ok((o.tree as string[]).some((l) => l.startsWith("f 644 sub/s")), "the control tree holds the new file");
  assert.equal(o.capped.status, "signaled", JSON.stringify(o.capped));
  assert.equal(o.capped.limit, "maxMemory");
  assert.equal(o.capped.out, "");
  assert.equal(o.roomy.code, 0);
  assert.equal(o.roomy.out.trim(), "filled");
  assert.equal(o.cliFull.code, 0, o.cliFull.stderr);
  assert.equal(o.cliFull.stdout.trim(), "rc=1");
  assert.match(o.cliFull.stderr, /No space left on device/);
  assert.equal(o.leftBranches, 0);
}, 120_000);
