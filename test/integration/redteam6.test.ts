// The sixth security review (docs/security.md, "Sixth review"): what the last stop added,
// attacked from inside a sandbox, as root and as the test user. Races are bounded (a fixed
// number of rounds) and expect zero wins; each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runScript, scriptCase } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";

// protectedFiles keeps .git/config, but a protected config may include another file
// (`[include] path`, `[includeIf "gitdir:..."] path`, in the repository's config or the
// user's ~/.gitconfig), or take hooks from the work tree (`core.hooksPath = .husky`, as
// husky sets it: the hook planted there ran at the user's next commit). One inside the writable grant was config the sandbox could write:
// its core.fsmonitor ran at the user's next `git status` (the control, protectedFiles off).
// Now such a start is refused, naming the config, the include and the grant
// (plan/protect-includes.ts). Control: an include outside the grant starts and runs.
scriptCase("protectedFiles: a git config that includes a file in a writable grant refuses the start, so git never runs a planted include", "dist/test/scripts/red6-case.js", ["${PROBE}", "git-include"], (o) => {
  for (const way of ["repo", "global", "hooks"]) {
    assert.equal(o[`${way}-allowed`].started, "exit 0", `control (${way}): without protectedFiles the sandbox runs: ${JSON.stringify(o)}`);
    assert.equal(o[`${way}-allowed`].ran, true, `control (${way}): without protectedFiles git runs the planted include: ${JSON.stringify(o)}`);
    assert.equal(o[`${way}-protected`].ran, false, `${way}: git ran the planted include: ${JSON.stringify(o)}`);
  }
  assert.match(o["repo-protected"].started, /^PolicyError: protectedFiles: BASE\/repo-protected\/\.git\/config has include\.path = "\.\.\/local\.cfg", which is BASE\/repo-protected\/local\.cfg, inside the writable grant BASE\/repo-protected: .*--allow-protected/);
  assert.match(o["global-protected"].started, /^PolicyError: protectedFiles: BASE\/home\/\.gitconfig has includeIf\.path = "BASE\/global-protected\/team\.cfg", which is BASE\/global-protected\/team\.cfg, inside the writable grant BASE\/global-protected: /);
  assert.match(o["hooks-protected"].started, /^PolicyError: protectedFiles: BASE\/hooks-protected\/\.git\/config has core\.hooksPath = "\.husky", which is BASE\/hooks-protected\/\.husky, inside the writable grant BASE\/hooks-protected: git runs the hooks in it/);
  assert.deepEqual(o["outside-protected"], { started: "exit 0", ran: true }, `an include outside the grant: ${JSON.stringify(o)}`);
}, 180_000);

// A writable grant that is a home directory: the shell start-up files were protected, the
// user's own git config was not (`~/.gitconfig`, `~/.config/git/config`: read by every
// git command the user types anywhere). A planted core.fsmonitor ran at the next `git
// status` in another repository (the control, protectedFiles off). Both are protected
// names now (policy/protected.ts): the write is refused with EACCES.
scriptCase("protectedFiles: a home directory grant cannot plant the user's own git config", "dist/test/scripts/red6-case.js", ["${PROBE}", "git-home"], (o) => {
  for (const file of [".gitconfig", ".config/git/config"]) {
    assert.equal(o[`${file}-allowed`].ran, true, `control (${file}): without protectedFiles git runs the planted config: ${JSON.stringify(o)}`);
    assert.equal(o[`${file}-protected`].ran, false, `${file}: git ran the planted config: ${JSON.stringify(o)}`);
    assert.notEqual(o[`${file}-protected`].exit, 0, JSON.stringify(o));
    assert.match(o[`${file}-protected`].stderr, /Permission denied/, JSON.stringify(o));
  }
}, 180_000);

// protectedFiles performs every write open; a FIFO opened for writing without O_NONBLOCK
// waits for a reader, so the supervisor held the call and polled every 20 ms, holding
// descriptors (its pin, the call's pins) for each, outside the hold budget that bounds
// what a sandbox may make its supervisor hold: 1,000 writer threads held 1,861 of this
// process's descriptors (and 4,000 took 35% of a core polling), enough, with a few
// sandboxes, to exhaust the host application's descriptors. Now the held opens take the
// sandbox's hold budget (names-fifo.ts): 64 held, 256 waiting with nothing held, ENFILE
// beyond. Control: 10 writers (within the budget) are all held (the sampling sees them)
// and every held or waiting open completes when a reader comes.
scriptCase("protectedFiles: a flood of FIFO write opens waiting for a reader stays within the supervisor's hold budget", "dist/test/scripts/red6-case.js", ["${PROBE}", "fifo-flood"], (o) => {
  assert.deepEqual({ ...o["10"], most: undefined }, { exit: 0, most: undefined, opened: 10, enfile: 0, other: 0 }, `control: every open under the budget completes once a reader comes: ${JSON.stringify(o)}`);
  assert.ok(o["10"].most >= 20, `control: the sampling sees the held calls' descriptors: ${JSON.stringify(o)}`);
  assert.ok(o["1000"].most <= 64 * 3 + 40, `descriptors the supervisor held for 1,000 waiting opens: ${JSON.stringify(o)}`);
  assert.equal(o["1000"].opened + o["1000"].enfile, 1000, JSON.stringify(o));
  assert.ok(o["1000"].opened >= 64 + 256, `every held and waiting open completed: ${JSON.stringify(o)}`);
}, 180_000);

// The base of a relative create swapped during the call: a sibling thread dup2()s `.git`
// and `sub` onto the dirfd number (or fchdir()s the shared working directory between them)
// while the probe creates hooks/red6-I. The supervisor pins the base once and decides and
// creates on that pin: nothing reaches .git/hooks. Control: creates through `sub` succeed
// and some are refused (the swap was live).
scriptCase("protectedFiles: a dirfd or working directory swapped during a create never lands in .git/hooks", "dist/test/scripts/red6-case.js", ["${PROBE}", "base-race"], (o) => {
  for (const how of ["dirfd", "cwd"]) {
    const m = /^ok (\d+) eacces (\d+) other (\d+)$/.exec(o[how].says);
    assert.ok(m, JSON.stringify(o));
    assert.ok(Number(m![1]) > 0 && Number(m![2]) > 0, `control (${how}): both bases were seen: ${JSON.stringify(o)}`);
    assert.equal(Number(m![1]), o[how].made, JSON.stringify(o));
    assert.equal(o[how].wins, 0, `${how}: files created in .git/hooks: ${JSON.stringify(o)}`);
  }
}, 240_000);

// An unnamed file (O_TMPFILE) in an unprotected directory, given a protected name with
// linkat(AT_EMPTY_PATH) or through /proc/self/fd/N: refused (EACCES), as is O_TMPFILE in
// .git/hooks itself. Control: the same link to an unprotected name is made.
scriptCase("protectedFiles: an O_TMPFILE file cannot be linked to a protected name", "dist/test/scripts/red6-case.js", ["${PROBE}", "tmpfile-link"], (o) => {
  assert.deepEqual(o.control, { says: "ok ENOENT", exists: false }, `control: linked (then unlinked: a second link of a file that had a name is ENOENT, as the kernel answers): ${JSON.stringify(o)}`);
  assert.deepEqual(o.hook, { says: "EACCES EACCES", exists: false }, JSON.stringify(o));
  assert.deepEqual(o.envrc, { says: "EACCES EACCES", exists: false }, JSON.stringify(o));
  assert.deepEqual(o["in-hooks"], { says: "EACCES", exists: false }, JSON.stringify(o));
}, 120_000);

// With policyFn's file events the supervisor performs every open, reads included: a FIFO
// opened for reading while no writer was there blocked the supervisor's own open, and the
// whole host process with it (its event loop stopped: before the fix this case hung until
// the runner's timeout, and so did any application running the sandbox). Now the reader is
// opened without blocking and held until data comes (names-fifo.ts holdReader), within the
// hold budget. Control: the same command without policyFn reads "hi" too.
scriptCase("policyFn file events: a FIFO read open waiting for a writer never blocks the supervisor", "dist/test/scripts/red6-case.js", ["${PROBE}", "fifo-reader"], (o) => {
  assert.deepEqual(o.control, { stdout: "hi", exit: 0, turned: true }, `control: ${JSON.stringify(o)}`);
  assert.deepEqual(o.events, { stdout: "hi", exit: 0, turned: true }, JSON.stringify(o));
}, 120_000);

// protectedFiles performs every write open: one of a file under a lease (a sandbox may take
// one on a file of its own: F_SETLEASE) waited in the supervisor's own open for the lease to
// break, up to fs.lease-break-time (45 s), with the host's event loop stopped (measured:
// 1 turn of a 100 ms timer in 46 s, against 452 without protectedFiles), again at every
// such open. Now the open is made without blocking and held while the lease breaks
// (names-fifo.ts hold: EWOULDBLOCK). The probe lets go after 5 s; a second sandbox run from
// the host meanwhile ends first. Control: protectedFiles off, the same order.
scriptCase("protectedFiles: a write open of a leased file never blocks the supervisor", "dist/test/scripts/red6-case.js", ["${PROBE}", "lease"], (o) => {
  assert.deepEqual(o.control, { says: "lease ok open ok", other: 0, order: ["other", "leased"] }, `control: ${JSON.stringify(o)}`);
  assert.deepEqual(o.protected, { says: "lease ok open ok", other: 0, order: ["other", "leased"] }, JSON.stringify(o));
}, 180_000);

// policyFn's ctx.denyPath(P) narrowed opens and name operations only: an exec of P (or of
// a link to it) still ran it, and the kernel maps an ELF whole (a preloaded library copies
// it out). Now an exec whose file, pinned once, is denied is refused with EACCES without
// asking the callback (policy-exec.ts), and the exec stop requires that same file.
// Control: without the denyPath both execs run.
scriptCase("policyFn: ctx.denyPath also refuses exec of the denied file, by its path or a link", "dist/test/scripts/red6-case.js", ["${PROBE}", "exec-denied"], (o) => {
  assert.deepEqual(o.control.stdout, ["ran-direct", "ran-alias"], `control: ${JSON.stringify(o)}`);
  assert.deepEqual(o.denied.stdout, [""], JSON.stringify(o));
  // Listed once (RunResult.refused keeps one entry per call, errno and target).
  assert.deepEqual(o.denied.refused.filter((r: string) => r.startsWith("execve")), ["execve EACCES BASE/exec/secret"], JSON.stringify(o));
}, 120_000);

// A checkpoint saved into a directory the sandbox can write (`sandlock checkpoint NAME DIR`
// into the project) was the sandbox's to rewrite after the save: it added a writable grant
// to the saved policy and fixed the manifest's sizes and checksums, and `sandlock restore
// DIR` (Sandbox.restore without a policy) ran the image under that policy: the restored
// loop created a file outside every grant of the original sandbox (root and user). Now a
// save beneath a directory the checkpoint's own policy can write is refused before
// anything is written, by its path or through a link in the grant (checked on the pinned
// parent: checkpoint/save-place.ts); saved where the sandbox cannot write, the rewrite
// fails and a restore without a policy stays inside. Control: the original policy given.
for (const who of ["root", "user"] as const) {
  test(`restore: a checkpoint is never saved where its sandbox could rewrite the policy a restore runs under [${who}]`, { skip: who === "root" && !isRoot ? "tests are not running as root" : false }, async () => {
    const o = (await runScript("dist/test/scripts/red6-case.js", ["${PROBE}", "restore-tamper"], who, 300_000)) as any;
    const why = (parent: string): string => `CheckpointError: checkpoint save ${parent}/cp: ${parent} is beneath BASE/g, which the checkpoint's own policy lets the sandbox write (fsWritable): a sandbox could rewrite the saved policy and image before a restore; save it in a directory the sandbox cannot write`;
    assert.deepEqual(o.refused, [why("BASE/g"), why("BASE/g/alias").replace("BASE/g/alias is", "BASE/g/sub is")], JSON.stringify(o));
    assert.deepEqual(o.inGrant, ["alias", "sub"], `nothing was written into the grant: ${JSON.stringify(o)}`);
    assert.equal(o.original, "", `the original sandbox never reached outside (killed while it tried): ${JSON.stringify(o)}`);
    assert.equal(o.tamper, "EACCES", `the sandbox cannot rewrite a checkpoint saved outside its grants: ${JSON.stringify(o)}`);
    assert.equal(o.control.escaped, false, `control: restored under the original policy it stays inside: ${JSON.stringify(o)}`);
    assert.equal(o.saved.error, undefined, `restored without a policy: ${JSON.stringify(o)}`);
    assert.equal(o.saved.escaped, false, `restored under the saved policy it stays inside: ${JSON.stringify(o)}`);
  });
}
