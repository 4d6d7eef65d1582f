// The fourth security review (docs/security.md): what the last two stops added, attacked
// from inside a sandbox, as root and as the test user. Races are bounded (a fixed number of
// rounds) and expect zero wins; each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

// A concurrent sandbox with the real workdir granted swaps the commit's temporary files and
// new directories for links to an outside file: the commit sets modes and times on the
// descriptors it created (cow/commit.ts), never by a path that a swap could redirect.
scriptCase("a commit's temporaries and new directories swapped for links never chmod what the links name", "dist/test/scripts/commit-swap-case.js", ["${PROBE}", "8"], (o) => {
  assert.equal(o.control, "640", `control: a chmod by path through a link in the workdir reaches the victim: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0, `the racer replaced names during the commits: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `commits that changed the outside file's mode: ${JSON.stringify(o)}`);
}, 400_000);

// The same racer, on a removal: a sandbox deletes a real directory, and while the host
// commits it the racer swaps old/sub (once its removal began) for a link to a host
// directory of the same entry names. The commit removes through descriptors of the
// directories it entered (cow/beneath.ts removeBeneath); fs.rmSync went on by path and
// emptied the host directory (measured before the fix: 4 of 4 rounds, 1,157 files).
scriptCase("a commit's removal of a directory swapped for a link never removes what the link names", "dist/test/scripts/rm-swap-case.js", ["${PROBE}", "4"], (o) => {
  assert.equal(o.control, 299, `control: a removal by path through a link in the workdir reaches the host directory: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0, `the racer swapped the directory under removal: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `commits that removed host files: ${JSON.stringify(o)}`);
}, 400_000);

// A descriptor of the overlay passed out (SCM_RIGHTS) to a sandbox that has the real
// workdir granted, which keeps turning the staged file into a link to a host file while
// the commit reads the branch: Landlock refuses every change under the overlay to that
// second sandbox (its rules do not reach an overlay detached with the first sandbox's
// namespace), and the commit opens the branch's files beneath upper without following a
// link anyway. With and without maxDisk (its stage is a tmpfs copied out by the host).
for (const quota of ["", "1M"]) {
  scriptCase(`an overlay descriptor passed to another sandbox cannot make the commit copy a host file${quota ? " (maxDisk)" : ""}`, "dist/test/scripts/fd-upper-case.js", ["${PROBE}", "3", ...(quota ? [quota] : [])], (o) => {
    assert.equal(o.control, true, `control: a staged copy of the file reaches the workdir and is seen: ${JSON.stringify(o)}`);
    assert.ok(o.got > 0, `the descriptor was passed: ${JSON.stringify(o)}`);
    assert.equal(o.wins, 0, `commits that wrote the host file's bytes into the workdir: ${JSON.stringify(o)}`);
  }, 300_000);
}

// clone(CLONE_UNTRACED) made a child the launcher's tracer did not attach: its exec read
// the host's clock under timeStart (2026 for 2000) and ran a program policyFn never
// approved (exec-race: evil-path 3 of 50 before the fix). The seccomp filter refuses the
// flag (plan/seccomp.ts) with EPERM, as the namespace flags.
scriptCase("clone(CLONE_UNTRACED) is refused: no child escapes the launcher's tracer (timeStart, policyFn exec check)", "dist/test/scripts/untraced-case.js", ["${PROBE}"], (o) => {
  assert.match(o.timeTraced, /^2000\nstatus 0$/, `control: a traced child's exec reads timeStart: ${JSON.stringify(o)}`);
  assert.match(o.timeHost, new RegExp(`^${o.year}\\nstatus 0$`), `control: without timeStart the host's year: ${JSON.stringify(o)}`);
  assert.equal(o.timeUntraced, "clone errno 1", JSON.stringify(o));
  assert.equal(o.timeUntracedVfork, "clone errno 1", JSON.stringify(o));
  assert.match(o.raceTraced, /evil-arg 0\nevil-env 0\nevil-path 0\n/, `control: the race in a traced child has no wins: ${JSON.stringify(o)}`);
  assert.match(o.raceTraced, /status 0$/, JSON.stringify(o));
  assert.equal(o.raceUntraced, "clone errno 1", JSON.stringify(o));
}, 300_000);

// A FIFO (and a link to /dev/zero) in the real workdir replaced by files in a dry run with
// --diff: the real side was opened to diff it, and the open of the FIFO never returned.
// Now only a regular file is diffed as the real side; anything else shows as /dev/null.
// The control: the regular file t beside them is diffed against its real content.
scriptCase("a dry run's --diff never blocks on a FIFO or reads a device in the real workdir", "dist/test/scripts/fifo-diff-case.js", [], (o) => {
  assert.equal(o.exit, 0, JSON.stringify(o));
  assert.match(o.diff, /--- a\/t\n\+\+\+ b\/t\n@@ -1 \+1 @@\n-old\n\+new\n/, `control: the regular file is diffed against the real one: ${o.diff}`);
  assert.match(o.diff, /--- \/dev\/null\n\+\+\+ b\/p\n@@ -0,0 \+1 @@\n\+hi\n/, o.diff);
  assert.match(o.diff, /--- \/dev\/null\n\+\+\+ b\/z\n@@ -0,0 \+1 @@\n\+zz\n/, o.diff);
}, 120_000);

// A sparse file in a maxDisk stage: the branch and the committed file keep its holes
// (cow/beneath.ts copyData), so the host's disk takes what the quota let the stage hold.
// Before: 256 MB allocated for a 2 MB quota. The control: a dense 512 KiB file is
// allocated in full, so the measure sees data where there is some.
scriptCase("a sparse file under maxDisk keeps its holes in the branch and the commit", "dist/test/scripts/sparse-case.js", [], (o) => {
  for (const [where, f] of [["branch", o.branch], ["commit", o.committed]] as const) {
    assert.equal(f.size, 256 << 20, `${where}: ${JSON.stringify(o)}`);
    assert.equal(f.byte, "x", `${where}: the byte written inside the holes: ${JSON.stringify(o)}`);
    assert.ok(f.used < 2 << 20, `${where}: allocated ${f.used} bytes for a 2M quota: ${JSON.stringify(o)}`);
    assert.ok(f.dense >= 512 << 10, `${where} control: the dense file is allocated in full: ${JSON.stringify(o)}`);
  }
  assert.equal(o.committed.action, "committed", JSON.stringify(o));
}, 120_000);

// A program run through /proc/self/fd/N under policyFn is looked up in the caller's own
// descriptor table (/proc/<tid>), not the supervisor's: the callback's `denied` describes
// the file that runs, and the exec stop, which compares files by identity, lets it run.
scriptCase("policyFn: a program run by /proc/self/fd/N is the caller's file, checked and run", "dist/test/scripts/proc-self-exec-case.js", [], (o) => {
  assert.equal(o.byPath, "hi-from-path\nrc=0", `control: ${JSON.stringify(o)}`);
  assert.equal(o.byFd, "hi-from-fd\nrc=0", JSON.stringify(o));
  assert.deepEqual(o.events[1], ["/proc/self/fd/7", false], JSON.stringify(o));
}, 120_000);
