// The fifth security review (docs/security.md, "Fifth review"): what the last stop added,
// attacked from inside a sandbox, as root and as the test user. Races are bounded (a fixed
// number of rounds) and expect zero wins; each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

// A checkpoint saved into a directory a sandbox can write (`sandlock checkpoint NAME DIR` or
// cp.save(dir)): that sandbox swaps the save's temporary directory for a link to a
// directory it cannot write (since the sixth review the racer is not the captured sandbox:
// a save where the checkpoint's own policy can write is refused before anything is written). The owner wrote every
// file through the link (before the fix: 10 of 10 rounds, 31 files outside). Now the files
// are created beneath a descriptor of the temporary directory (kernel/new-dir.ts) and a
// save whose directory was swapped fails, naming why. Control: a save nobody races is
// complete and loads; the racer did swap (swaps > 0).
scriptCase("a checkpoint saved into a directory a sandbox can write never writes through a link it swapped in", "dist/test/scripts/red4-case.js", ["${PROBE}", "checkpoint", "10"], (o) => {
  assert.equal(o.controlLoaded, 1, `control: an unraced save loads: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0, `the racer swapped the temporary directory: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `files the owner wrote outside the sandbox's grant: ${JSON.stringify(o)}`);
  // A swap before the temporary was opened: ELOOP or ENOTDIR (the link is never followed); after: the rename's check.
  for (const e of o.errors) assert.match(e, /^checkpoint save \S+: writing failed \((ELOOP|ENOTDIR|the temporary directory \.cpN\.tmp-X was replaced while it was written \(another process can write the parent directory\))\)$/);
}, 180_000);

// protectedFiles keeps .git/config and .git/hooks, but git takes its config and hooks from
// elsewhere when a file the sandbox may write says so: `.git/commondir` in an existing
// repository, or `.git` itself made a file ("gitdir: evil") or a link where there was no
// repository. The planted config's core.fsmonitor runs at the user's next `git status`
// outside (before: every way, with and without a workdir). With a workdir the commit holds
// them back now (`.git/commondir` is a protected name; a `.git` that is not a directory is
// held). Control: with protectedFiles off, every way runs the planted command.
const WAYS = ["commondir", "gitfile", "symlink"];
scriptCase("protectedFiles: .git/commondir and a .git file or link made inside are held back with a workdir and refused without one, so git never runs a planted config", "dist/test/scripts/red4-case.js", ["${PROBE}", "git"], (o) => {
  for (const way of WAYS) {
    assert.equal(o[way]["workdir-allowed"], true, `control (${way}): without protectedFiles the commit lands and git runs the planted command: ${JSON.stringify(o)}`);
    assert.equal(o[way]["grant-allowed"], true, `control (${way}), without a workdir: ${JSON.stringify(o)}`);
    assert.equal(o[way]["workdir-protected"], false, `${way}: git ran the planted command after the commit: ${JSON.stringify(o)}`);
    // Without a workdir the names do not exist at the start: the supervisor's name
    // operations refuse them (protected names at any depth, .git only as a directory).
    // The plant itself is refused (EACCES: the sandbox's command fails naming it).
    assert.match(String(o[way]["grant-protected"]), /^exit [12]: .*(cannot create|failed to create).*Permission denied$/, `${way}, without a workdir: ${JSON.stringify(o)}`);
  }
}, 120_000);

// maxDisk: a hard link costs the stage's tmpfs an inode and no data, and the host copied
// each name as a file of its own into the branch and again into the workdir at commit
// (before: 1,000 names of a 900 KB file under a 1 MB quota made 861 MB in the branch).
// Now the copy-out (cow/quota.ts) and the commit (cow/commit.ts) link a second name to the
// first. Control: the file's own 900 KB are allocated, and every name reads the content.
scriptCase("maxDisk: hard links in the stage take the host's disk once, in the kept branch and in the commit", "dist/test/scripts/red4-case.js", ["${PROBE}", "links"], (o) => {
  for (const where of ["keep", "commit"]) {
    const u = o[where];
    assert.equal(u.stdout, "made", JSON.stringify(o));
    assert.equal(u.action, where === "keep" ? "kept" : "committed", JSON.stringify(o));
    assert.equal(u.names, 201, `${where}: every name is there: ${JSON.stringify(o)}`);
    assert.equal(u.content, true, `${where}: a linked name reads the file's content: ${JSON.stringify(o)}`);
    assert.ok(u.bytes >= 900_000, `${where} control: the file's data is allocated: ${JSON.stringify(o)}`);
    assert.ok(u.bytes < 2 << 20, `${where}: ${u.bytes} bytes allocated for a 1M quota: ${JSON.stringify(o)}`);
  }
}, 180_000);

// fsDenied: the ways around a cover that fs-denied.test's deny-ops does not try. The mount
// syscalls (old and new API), file handles, new namespaces and chroot are refused by the
// seccomp blocklist; the root of the supervisor (outside the sandbox's mount namespace)
// through /proc/<pid>/root is refused (Landlock's ptrace scope and the /proc view);
// /proc/self/root meets the cover. Control: without fsDenied the same policy reads the
// file, and /proc/self/root reaches an allowed file.
const REACH: Record<string, string> = {
  read: "EACCES", "umount-file": "EPERM", "umount-dir": "EPERM", "remount-dir": "EPERM", "bind-parent": "EPERM",
  "open-tree": "EPERM", fsopen: "EPERM", "move-mount": "EPERM", "name-to-handle": "EPERM", "open-by-handle": "EPERM",
  "unshare-mount": "EPERM", "unshare-user": "EPERM", chroot: "EPERM", "self-root-other": "read", "self-root-read": "EACCES",
  "outside-root-read": "EACCES", "outside-cwd": "EACCES",
};
scriptCase("fsDenied: mount syscalls, file handles, namespaces, chroot and /proc/<pid>/root never reach a covered file", "dist/test/scripts/red4-case.js", ["${PROBE}", "deny"], (o) => {
  assert.deepEqual(o.denied.ops, REACH, JSON.stringify(o));
  assert.equal(o.control.ops.read, "read", `control: without fsDenied the file is read: ${JSON.stringify(o)}`);
  assert.equal(o.control.ops["self-root-read"], "read", `control: /proc/self/root reaches it without fsDenied: ${JSON.stringify(o)}`);
});

// The git directories of submodules (.git/modules/NAME: the superproject's `git status`
// runs git in each, with that config) and of linked worktrees (.git/worktrees/NAME/commondir:
// where a worktree beside the grant takes its config from) were writable: a planted
// core.fsmonitor ran at the user's next `git status` (before: both). Both are protected
// names now (the supervisor refuses them, EACCES; a workdir's commit holds them back). Control: protectedFiles
// off, both run the planted command.
scriptCase("protectedFiles: submodule and linked-worktree git directories cannot be made to run a planted config", "dist/test/scripts/red4-case.js", ["${PROBE}", "git-nested"], (o) => {
  assert.equal(o.modules.allowed, true, `control: without protectedFiles a submodule's config is planted: ${JSON.stringify(o)}`);
  assert.equal(o.worktrees.allowed, true, `control: without protectedFiles a worktree's commondir is planted: ${JSON.stringify(o)}`);
  assert.equal(o.modules.protected, false, JSON.stringify(o));
  assert.equal(o.worktrees.protected, false, JSON.stringify(o));
  assert.match(o.modules["protected-stderr"], /cannot create \.git\/modules\/lib\/config: Permission denied/);
  assert.match(o.modules["protected-stderr"], /cannot create \.git\/worktrees\/wt\/commondir: Permission denied/);
}, 120_000);

// A fork group's zygote runs the sandbox's code, so what it reports is the sandbox's word.
// Its init rewrote the "forked" report: it reaped the clone it made (the clone's pidfd then
// names no process) and reported a host process group's leader as the clone's pid. The
// parent kept the reported number for a pidfd whose process was gone, and the clone's kill
// signals its process group by number: the host's `sleep` was SIGKILLed (before the fix).
// Now a gone clone keeps pid 0 (fork/host-pid.ts) and only its pidfd is signalled.
// Control: a real clone's kill ends it (SIGKILL).
scriptCase("fork: a zygote that reports a host pid for a clone it reaped never makes the clone's kill signal that host process group", "dist/test/scripts/red4-case.js", ["${PROBE}", "fork-pid"], (o) => {
  assert.equal(o.control, "SIGKILL", `control: a clone's kill ends the clone: ${JSON.stringify(o)}`);
  assert.equal(o.refused, undefined, JSON.stringify(o));
  assert.equal(o.clonePid, 0, `the forged pid was not taken: ${JSON.stringify(o)}`);
  assert.equal(o.victim, "alive", `the host process group named by the forged pid: ${JSON.stringify(o)}`);
}, 120_000);
