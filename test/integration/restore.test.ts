// Checkpoint restore against the real kernel, as root and as the unprivileged test user: a
// counter and a file-reading loop resume where they were (memory, registers, descriptor
// offsets) from a saved checkpoint; the restored process is confined by the new policy;
// everything that cannot be restored is refused, by name, before any of it runs.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { scriptCase } from "../helpers/harness.js";
import { stagePackage } from "../helpers/stage.js";
import { ROOT } from "../helpers/system.js";

const SCRIPT = "dist/test/scripts/restore-case.js";

function buildCounter(): string {
  const out = join(stagePackage().dir, "sl-restore-counter");
  execFileSync("gcc", ["-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", out, join(ROOT, "test", "fixtures", "checkpoint-counter.c"), "-lpthread"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  chmodSync(out, 0o755);
  return out;
}
const COUNTER = buildCounter();

const consecutive = (values: number[]): void => assert.deepEqual(values, [...values.keys()], "every number once, in order");

scriptCase("restore: a counter saved to disk resumes from where it was in a new sandbox (heap value, file offset)", SCRIPT, ["count", COUNTER], (out) => {
  assert.ok(out.values.length >= out.before + 20, `it counted on: ${out.values.length} lines, ${out.before} before`);
  // Neither restarted from 0 (memory) nor overwrote the file's start (offset).
  consecutive(out.values);
  assert.notEqual(out.restoredPid, out.originalPid, "a new process (getpid differs)");
  assert.equal(out.status, "killed");
});

scriptCase("restore of a capture made under SANDLOCK_KERNEL_VIEW=1 runs in the kernel view of the capture (under SANDLOCK_KERNEL_VIEW=0 too) and resumes", SCRIPT, ["kview", COUNTER], (out) => {
  assert.equal(out.originalView, "kernel");
  assert.equal(out.restoredView, "kernel");
  assert.ok(out.values.length >= out.before + 10);
  consecutive(out.values);
});

scriptCase("checkpoint records each caught signal's handler and leaves a paused sandbox paused, counting on after resume", SCRIPT, ["handlers", COUNTER], (out) => {
  assert.equal(out.sigCaught, "0000000100000000", "glibc's SIGCANCEL (33) handler of a threaded program");
  assert.deepEqual(out.actions, [{ sig: 33, handlerInText: true }], "the handler address lies in executable memory");
  assert.equal(out.stoppedLines, out.atPause, "paused through the capture: not a line written until resume");
  assert.ok(out.values.length >= out.atPause + 5, "counting on after resume");
  consecutive(out.values);
});

scriptCase("restore: a process with two threads resumes with both (the counting one counts on)", SCRIPT, ["thread", COUNTER], (out) => {
  assert.equal(out.threadsCaptured, 2);
  assert.equal(out.tasks, 2, "the restored process has both threads");
  assert.ok(out.values.length >= out.before + 10);
  consecutive(out.values);
});

scriptCase("restore: a process tree (a counter and its forked child) resumes, both counting on", SCRIPT, ["tree", COUNTER], (out) => {
  assert.equal(out.processes, 2);
  assert.equal(out.children, 1, "the restored root has its child again");
  assert.ok(out.values.length >= out.before[0] + 10 && out.childValues.length >= out.before[1] + 10);
  consecutive(out.values);
  consecutive(out.childValues);
});

scriptCase("restore: a program in the middle of a loop over a file continues it to the end", SCRIPT, ["readloop", COUNTER], (out) => {
  assert.ok(out.before >= 9 * 30 && out.before < out.input.length, `it was in the middle: ${out.before} of ${out.input.length} bytes`);
  assert.equal(out.copy, `${out.input}EOF\n`, "every record once, in order, then EOF");
  assert.equal(out.exitCode, 0);
});

scriptCase("restore: the restored process runs under the new, stricter policy (a path it read before is refused: ENOENT in the kernel view, EACCES in the supervised one)", SCRIPT, ["confined", COUNTER], (out) => {
  // Positive control: under the saved policy the same open worked.
  assert.deepEqual(out.errnosBefore, ["0"]);
  if (out.restoredView === "kernel") assert.deepEqual(out.errnosAfter, ["2"], "ENOENT after the restore: the path is not in the kernel view's root");
  else assert.deepEqual(out.errnosAfter, ["13"], "EACCES after the restore");
  consecutive(out.values);
});

scriptCase("restore refuses, before anything runs, what it cannot restore or must not widen, naming process and fd", SCRIPT, ["refusals", COUNTER], (out) => {
  const refused = (r: any, message: RegExp, fd: number | null = null): void => {
    assert.equal(r.name, "CheckpointError", JSON.stringify(r));
    assert.equal(r.code, "CHECKPOINT_REFUSED");
    assert.match(r.message, message);
    assert.equal(r.fd, fd);
  };
  refused(out.socket, /^restore: process \d+ fd 3 is a socket \(socket:\[\d+\]\); sockets cannot be restored$/, 3);
  // SIGUSR2 left pending for the process (bit 11), SIGUSR1 for its thread: refused by name.
  refused(out.pending, /^restore: process \d+ has signals pending for the process \(ShdPnd 0*800\); pending signals cannot be restored$/);
  refused(out.pipe, /^restore: process \d+ fd 3 is a pipe \(pipe:\[\d+\]\); its buffered data is not in the checkpoint$/, 3);
  refused(out.ungranted, /^restore: process \d+ fd 3: \/.*\/out\/count is not writable under the new policy$/, 3);
  refused(out.wider, /^restore: the policy given is wider than the checkpoint's: fsWritable grants \/.*\/secret, which the saved policy does not grant writable$/);
  refused(out.widerLimit, /^restore: the policy given is wider than the checkpoint's: maxProcesses 100000 is above the saved policy's 64$/);
  refused(out.kernel, /^restore: the checkpoint was taken on kernel 2\.6\.32-other, this host runs .+; a restore needs the same kernel$/);
  refused(out.changed, /^restore: process \d+ fd 3: \/.*\/out\/count changed since the checkpoint: its size changed from \d+ to \d+ bytes$/, 3);
  refused(out.mapChanged, /^restore: process \d+: the mapping 0x[0-9a-f]+-0x[0-9a-f]+ \(\/.*\/counter-copy\): the file changed since the checkpoint: its size changed from (\d+) to \d+ bytes$/);
  assert.equal(out.untouched, true, "no refused restore ran any of the image (the counter's file is as captured)");
});

// Stop signals queued in a paused sandbox: its resume's SIGCONT discards them, and the
// restore, which resumes it, does the same. pause() itself used to leave a second SIGSTOP
// queued now and then (process.test.ts), which made this restore refuse.
scriptCase("restore: stop signals queued in a paused sandbox are discarded as its resume discards them; captured running, they are refused", SCRIPT, ["stoppending", COUNTER], (out) => {
  // SIGTTIN (21) for the process, SIGTSTP (20) for the thread.
  assert.equal(out.running.code, "CHECKPOINT_REFUSED", JSON.stringify(out.running));
  assert.match(out.running.message, /^restore: process \d+ has signals pending for the process \(ShdPnd 0*100000\); pending signals cannot be restored$/);
  assert.deepEqual(out.captured, { stops: ["group-stop"], shdPnd: "0000000000100000", sigPnd: ["0000000000080000"] });
  assert.equal(out.whilePaused, "0000000000100000/0000000000080000", "queued while paused");
  assert.equal(out.beforeResume, "0000000000100000/0000000000080000");
  assert.equal(out.afterResume, "0000000000000000/0000000000000000", "the kernel discarded both at the resume");
  assert.equal(out.restored, "0000000000000000/0000000000000000");
  assert.ok(out.values.length >= out.before + 5);
  consecutive(out.values);
});

scriptCase("sandlock restore DIR resumes what sandlock checkpoint NAME DIR saved (a capture from the supervised view with a warning); refusals and usage errors are named", SCRIPT, ["cli", COUNTER], (out) => {
  assert.equal(out.one.code, 0, out.one.stderr);
  assert.match(out.one.stdout, /^one: 1 process, \d+\.\d MiB of memory, saved to \//);
  assert.equal(out.restored.stderr, "");
  assert.equal(out.restored.code, 0, "the restored sleep finished its sleep and exited 0");
  assert.equal(out.tree.code, 0, out.tree.stderr);
  assert.equal(out.treeRestore.stderr, "");
  assert.equal(out.treeRestore.stdout, "after\n", "the restored shell ran on after its restored child");
  assert.equal(out.treeRestore.code, 0);
  // Captured in the supervised view: the same restore, and the warning about its thread ids
  // (the kernel view's captures above got none).
  assert.equal(out.supervised.code, 0, out.supervised.stderr);
  assert.equal(out.supervisedRestore.stderr, `${out.warning}\n`);
  assert.match(out.warning, /^sandlock restore: warning: this checkpoint was captured in the supervised view: its threads get new ids/);
  assert.equal(out.supervisedRestore.code, 0);
  assert.equal(out.usage.code, 125);
  assert.match(out.usage.stderr, /^sandlock restore: give the checkpoint's directory \(got 0 arguments\)\n/);
});

// The seal (src/checkpoint/seal.ts): a restore without a policy runs under the one saved in
// the directory, so a sandbox that may write there could choose it. Here another sandbox,
// granted the directory, rewrites the saved policy to grant itself a directory writable and
// puts manifest.json's checksum in step; nothing in the sandbox reaches the key.
scriptCase("restore: a saved policy rewritten by another sandbox is not trusted (the seal, keyed in the user's kernel keyring, fails); given a policy it runs under that", SCRIPT, ["seal", COUNTER], (out) => {
  assert.deepEqual(out.saved, { sealed: true, dir: out.place });
  assert.equal(out.captured, null, "a checkpoint captured here is trusted");
  assert.equal(out.fresh, null, "the seal verifies on the directory as saved");
  assert.match(out.sealFile, /^[0-9a-f]{64}\n\//);
  assert.equal(out.tamper, "rewritten", "the other sandbox could rewrite the directory");
  assert.equal(out.keyInSandbox, "-1 1", "keyctl(KEYCTL_SEARCH) of the seal key in a sandbox: EPERM");
  assert.equal(out.tamperedPolicyGrants, true, "the rewritten policy is what load read");
  const mismatch = /^checkpoint \/.*\/shared\/cp: its seal does not match this user's key: a file of it was changed after it was saved/;
  assert.match(out.tampered, mismatch);
  assert.equal(out.saved_.code, "CHECKPOINT_REFUSED");
  assert.match(out.saved_.message, /^restore: checkpoint \/.*: its seal does not match this user's key: .*; the policy saved in it is therefore not trusted: give the policy to restore it under/);
  assert.ok(out.givenCounted >= 5, "restored under the policy given, the counter counts on");
  assert.equal(out.cli.code, 1);
  assert.match(out.cli.stderr, /^sandlock restore: restore: checkpoint \/.*: its seal does not match this user's key/);
  assert.equal(out.cliWithCmd.code, 125);
  assert.match(out.cliWithCmd.stderr, /^sandlock restore: \/.*with-cmd\.toml names a command \(\[program\] exec\); a restore runs the checkpoint's own/);
  assert.equal(out.cliEmpty.code, 125);
  assert.match(out.cliEmpty.stderr, /^sandlock restore: --profile is empty \(give a preset or profile name\)/);
  assert.equal(out.cliUnknown.code, 1);
  assert.match(out.cliUnknown.stderr, /^sandlock restore: profile: "no-such-profile-here" is neither a preset/);
  assert.deepEqual(out.cliProfile, { code: 0, stderr: "" }, "an unsealed checkpoint restored under --profile-file runs to its end");
  assert.equal(out.cliUnsealed.code, 1);
  assert.match(out.cliUnsealed.stderr, /^sandlock restore: restore: checkpoint \/.*\/cp3: it has no seal/);
  assert.match(out.removed, /^checkpoint \/.*: it has no seal \(the file seal: /);
  assert.match(out.lost, /^checkpoint \/.*\/cp2: its seal cannot be checked: this user's kernel keyring holds no seal key \(sandlock:checkpoint-seal-test-absent\)/);
  assert.equal(out.found, null, "the same directory verifies under the user's key");
  // The seal binds the directory's real path: swapped checkpoints are not trusted.
  assert.equal(out.sealFile, out.sealFile.slice(0, 65) + out.place, "the seal file: the HMAC, then the place it was saved as");
  assert.equal(out.swap, "swapped");
  assert.equal(out.swappedPolicy, true, "what lies at a is the other checkpoint, with its own saved policy");
  assert.match(out.swapped, /^checkpoint \/.*\/shared\/a: it was saved as \/.*\/shared\/b and is read from \/.*\/shared\/a: a seal binds a checkpoint to the directory it was saved as, so one moved, copied or swapped with another is not trusted$/);
  assert.equal(out.swappedRestore.code, "CHECKPOINT_REFUSED");
  assert.match(out.swappedRestore.message, /^restore: checkpoint \/.*\/shared\/a: it was saved as /);
  assert.match(out.pathRewritten, /^checkpoint \/.*\/shared\/a: its seal does not match this user's key/);
  assert.match(out.linked, /^checkpoint \/.*\/shared\/a\.link: it was read through a symbolic link \(the directory named is \/.*\/shared\/b\): a sealed checkpoint is trusted only under its own path/);
  assert.match(out.viaLink, /^checkpoint \/.*\/link\/d: it was read through a symbolic link \(the directory named is \/.*\/shared\/d\)/);
  assert.equal(out.direct, null, "the same directory named by its own path: trusted");
  assert.deepEqual(out.savedViaLink, { sealed: true, dir: out.savedViaLink.real, trusted: null, real: out.savedViaLink.real }, "saved through a link: save names the real path, trusted under it");
  assert.match(out.savedViaLink.real, /\/shared\/e$/);
  // Real paths that do not read back as exact text are never sealed (they could collide).
  const inexact = /^its directory's real path \(".*\/odd-\uFFFD\/g"\) holds bytes that are not UTF-8 text, or the character U\+FFFD they are read as, so it cannot be named exactly and is never sealed/;
  assert.equal(out.savedOdd.sealed, false);
  assert.match(out.savedOdd.why, inexact);
  assert.match(out.savedOdd.loaded, /^checkpoint \/.*\/odd\/g: it has no seal/, "saved unsealed");
  assert.deepEqual({ ...out.savedReplacement, why: "" }, { sealed: false, why: "", sameText: true }, "the other directory reads as the same text: unsealed too");
  assert.match(out.savedReplacement.why, inexact);
  assert.match(out.copiedSealed, /^checkpoint \/.*\/odd-\uFFFD\/h: its directory's real path \(".*\/odd-\uFFFD\/h"\) holds bytes that are not UTF-8 text/);
});
