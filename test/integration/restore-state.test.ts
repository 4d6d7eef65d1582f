// Restore of per-process kernel state, as root and as the unprivileged test user: timers
// and interrupted sleeps resume with the time they had left, rseq and robust-futex lists
// come back per thread, descriptors that shared an open file share it again, and a timer
// that cannot be re-created exactly is refused by name. Each has a positive control.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { scriptCase } from "../helpers/harness.js";
import { stagePackage } from "../helpers/stage.js";
import { ROOT } from "../helpers/system.js";

const SCRIPT = "dist/test/scripts/restore-state-case.js";

function buildFixture(): string {
  const out = join(stagePackage().dir, "sl-restore-state");
  execFileSync("gcc", ["-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", out, join(ROOT, "test", "fixtures", "checkpoint-state.c"), "-lpthread"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  chmodSync(out, 0o755);
  return out;
}
const FIXTURE = buildFixture();

// Timers and sleeps of 8 s, captured after 4.5 s or more (3.5 s or less left). Times are
// ms after Sandbox.restore resolved (all was re-armed by then), so a slow restore on a
// loaded machine cannot fail the bound; bounds are loose: "left" fires well before a full
// 8 s would have, and only after the restore began.
scriptCase(
  "restore: alarm, setitimer and a POSIX timer fire with the time they had left; a sleep with a rem pointer sleeps what was left, an absolute one ends on time, one without rem restarts in full",
  SCRIPT,
  ["clock", FIXTURE],
  (out) => {
    // What the capture recorded: ITIMER_REAL in both processes (setitimer in the root,
    // alarm in the child), POSIX timer 1 (0 was deleted) on CLOCK_MONOTONIC with SIGUSR1.
    // Timer 2 counts the process's CPU time (glibc's clock id -6), armed for 1000 s.
    assert.deepEqual(out.rootTimers, { itimers: [0], posix: [{ id: 1, clock: 1, signo: 10, value: "5157" }, { id: 2, clock: -6, signo: 0, value: "0" }] });
    assert.deepEqual(out.restoredTimers, [{ id: 1, clock: 1 }, { id: 2, clock: -6 }], "the same ids in the restored process (id 0 stays a gap)");
    assert.deepEqual(out.childItimers, [0]);
    assert.ok(out.leftAtCapture <= 3600, `captured with ${out.leftAtCapture} ms left`);
    for (const k of ["itimer", "posix", "childAlarm", "sleepRem", "sleepAbs"]) {
      assert.ok(out[k] !== null && out[k] < 6500, `${k} ${out[k]} ms after the restore (which took ${out.restoreMs} ms): the time left, not a full 8 s`);
    }
    assert.ok(out.firstSinceStart > 0, "nothing fired before the restore began");
    // The POSIX timer kept its id and value (si_timerid, si_value).
    assert.deepEqual(out.posixDetail, ["5157", "1"]);
    // Without a rem pointer the time left is nowhere: the sleep restarts with its full 8 s.
    assert.ok(out.sleepNull >= 7900, `the sleep without rem ended ${out.sleepNull} ms after the restore began`);
    assert.equal(out.exitCode, 0);
  },
  120_000,
);

scriptCase(
  "restore: each thread's rseq registration and robust-futex list come back (same addresses), sched_getcpu stays right, and a mutex holder dying after the restore gives its waiter EOWNERDEAD",
  SCRIPT,
  ["cpu", FIXTURE],
  (out) => {
    // Controls: a stale rseq area is caught by the check; without a restore the waiter gets EOWNERDEAD (130).
    if (cpus().length > 1) assert.ok(out.staleMismatches > 0, "the check sees a stale rseq area");
    assert.equal(out.controlLock, "lock 130");
    assert.equal(out.controlExit, 0);
    assert.equal(out.captured.length, 4, "main, pinner, holder, reporter");
    for (const t of out.captured) assert.ok(t.rseq !== null && t.rseq !== "absent" && t.robust !== "0" && t.robust !== "absent", `glibc registered rseq and a robust list: ${JSON.stringify(t)}`);
    assert.deepEqual(out.restored, out.captured, "a second checkpoint of the restored process reads the same registrations");
    assert.equal(out.before.mismatches, 0);
    assert.equal(out.after.mismatches, 0, "sched_getcpu (rseq) agrees with getcpu after the restore");
    assert.ok(out.after.rounds >= out.before.rounds + 20);
    // The holder's robust list and the mutex's owner tid were moved to its new tid.
    assert.equal(out.lock, "lock 130", "EOWNERDEAD after the restore");
    assert.equal(out.exitCode, 0);
  },
  120_000,
);

scriptCase(
  "restore: a capture from the kernel view gives every thread and process its id back (gaps included), so locks that record their owner's tid still know it; the supervised view's control gets new ids and its locks another owner",
  SCRIPT,
  ["tids", FIXTURE],
  (out) => {
    const names = ["main", "A", "C", "C1", "B"];
    const k = out.kernel;
    assert.equal(k.capturedIn, "kernel");
    assert.equal(k.restoredIn, "kernel");
    assert.deepEqual(Object.keys(k.before).sort(), [...names].sort());
    assert.equal(k.before.main[0], 2, "the command is pid 2 of its namespace (the init is 1)");
    for (const n of names) assert.deepEqual(k.after[n], [k.before[n][0], 0], `${n}: the same id after the restore, and its lock still its own (${JSON.stringify(k.after)})`);
    assert.equal(k.hung, false);
    assert.equal(k.exitCode, 0);
    // The checkpoint edited: a thread id past the bound on ids to use up is refused by name
    // before any is used up; one already handed out (the root's) fails naming it.
    assert.equal(out.farId.code, "CHECKPOINT_REFUSED", JSON.stringify(out.farId));
    assert.match(out.farId.message, /thread \d+: its id 131072 in the sandbox's pid namespace is past more than 65536 ids not in the checkpoint/);
    // The root's id given to a thread: two threads of the image with one id, refused when
    // the checkpoint is loaded (the restore's own check, "2 was taken already", is behind it).
    assert.equal(out.takenId.code, "CHECKPOINT_INVALID", JSON.stringify(out.takenId));
    assert.match(out.takenId.message, /processes: thread \d+ of process \d+ has the sandbox's id 2, as a thread of process \d+ has$/);
    // Control: the supervised view's host ids change, and the same checks fail.
    const c = out.supervised;
    assert.equal(c.capturedIn, "supervised");
    assert.equal(c.restoredIn, "supervised");
    assert.notEqual(c.after.main?.[0], c.before.main[0]);
    assert.deepEqual(c.after.main?.[1], 110, "main's recursive relock waited for another owner (ETIMEDOUT)");
    assert.deepEqual(c.after.A?.[1], 1, "A's error-checking unlock was refused (EPERM)");
    assert.equal(c.exitCode, 5);
  },
  120_000,
);

scriptCase(
  "restore: raced by a flood of SIGWINCH at every thread being rebuilt (a signal its process ignores, sent to it while traced), every restore succeeds",
  SCRIPT,
  ["winch", FIXTURE],
  (out) => {
    assert.ok(out.sent > 0, "the flood reached threads being rebuilt");
    assert.deepEqual(out.failures, [], `${out.failures.length} of ${out.rounds} restores failed`);
  },
  120_000,
);

scriptCase(
  "restore: a descriptor dup'd in a process and inherited by its child comes back as one open file (one offset: no line overwritten)",
  SCRIPT,
  ["shared", FIXTURE],
  (out) => {
    // Control: two opens of the file (two offsets) overwrite each other, and the check says so.
    assert.equal(out.separate.ok, false);
    assert.equal(out.before.ok, true);
    assert.deepEqual(out.rootFds, [
      { fd: 3, sharedWith: null },
      { fd: 10, sharedWith: { parent: false, self: true, fd: 3 } },
    ]);
    assert.deepEqual(out.childFds, [
      { fd: 3, sharedWith: { parent: true, self: false, fd: 3 } },
      { fd: 10, sharedWith: { parent: true, self: false, fd: 3 } },
    ]);
    assert.equal(out.after.ok, true, "every line of both writers, in order, none overwritten");
    assert.ok(out.after.p >= out.before.p + 10 && out.after.c >= out.before.c + 10, JSON.stringify(out));
  },
  120_000,
);

scriptCase("restore refuses, by name and before anything runs, a POSIX timer it cannot re-create exactly (a thread's CPU-time clock)", SCRIPT, ["refused", FIXTURE], (out) => {
  assert.equal(out.name, "CheckpointError");
  assert.equal(out.code, "CHECKPOINT_REFUSED");
  assert.match(out.message, /^restore: process \d+ POSIX timer 0 counts a thread's CPU time \(CLOCK_THREAD_CPUTIME_ID: the thread that made it, which a restore cannot tell\); only timers of CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_BOOTTIME can be restored$/);
  assert.equal(typeof out.pid, "number");
});
