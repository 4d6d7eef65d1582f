// Restore of each thread's scheduling (nice, policy, CPU affinity), a process with glibc's
// SIGEV_THREAD helper thread (restored from the kernel view, refused from the supervised
// view, where its id changes), and a restore that fails after its sandbox started
// (it ends with a CheckpointError and no process left), as root and as the test user.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { scriptCase } from "../helpers/harness.js";
import { stagePackage } from "../helpers/stage.js";
import { ROOT } from "../helpers/system.js";

const SCRIPT = "dist/test/scripts/restore-sched-case.js";

function buildFixture(): string {
  const out = join(stagePackage().dir, "sl-restore-sched");
  execFileSync("gcc", ["-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", out, join(ROOT, "test", "fixtures", "checkpoint-sched.c"), "-lpthread"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  chmodSync(out, 0o755);
  return out;
}
const FIXTURE = buildFixture();
const parse = (l: string[]) => l.map((s) => JSON.parse(s) as { nice: number; policy: number; priority: number; cpus: number[] });

scriptCase("restore: every thread gets its own nice, scheduling policy and CPU affinity back (nice 12 on CPU 0, SCHED_BATCH, an untouched one)", SCRIPT, ["sched", FIXTURE], (out) => {
  const captured = parse(out.captured);
  assert.equal(captured.length, 4, "main, niced, batch, plain");
  assert.ok(captured.some((s) => s.nice === 12 && s.cpus.join() === "0"), `the niced thread was captured: ${out.captured}`);
  assert.ok(captured.some((s) => s.policy === 3), "the SCHED_BATCH thread was captured");
  // Control: the values differ between threads (the untouched ones keep the sandbox's), so
  // an equal multiset after the restore is per thread, not one value inherited by all.
  assert.ok(captured.some((s) => s.nice !== 12 && s.policy === 0), "threads differ");
  if (cpus().length > 1) assert.ok(captured.some((s) => s.cpus.length > 1), "an unpinned thread may use more than CPU 0");
  assert.deepEqual(out.restored, out.captured, "the restored threads, read from /proc");
});

scriptCase("restore refuses, naming the thread, a nice lower than the new sandbox's (lowering needs CAP_SYS_NICE, which a sandbox lacks even as root), and leaves no process", SCRIPT, ["sched-lower", FIXTURE], (out) => {
  assert.equal(out.outcome, "refused");
  assert.equal(out.name, "CheckpointError");
  assert.equal(out.code, "CHECKPOINT_REFUSED");
  assert.equal(out.errno, "EACCES");
  // The sandbox's own nice: 0 as root, +5 as the user (the supervisor's receiving thread
  // cannot be raised there: plan/features.ts RECEIVER_RAISE); the restorer adds 6 to it.
  const m = /^restore: process \d+: thread \d+ ran at nice (\d+), lower than the new sandbox's nice (\d+); lowering it needs CAP_SYS_NICE or RLIMIT_NICE, so the thread cannot get its priority back$/.exec(out.message);
  assert.ok(m !== null, out.message);
  assert.equal(Number(m[2]), Number(m[1]) + 6);
  assert.ok(parse(out.captured).some((s) => s.nice === Number(m[1])), "the captured nice is named");
  assert.deepEqual(out.left, [], "no process of the failed restore is left");
});

scriptCase("restore refuses by name a process with glibc's SIGEV_THREAD helper thread captured in the supervised view (a new SIGEV_THREAD timer would fail after it, its id changed)", SCRIPT, ["sigev-thread-supervised", FIXTURE], (out) => {
  assert.equal(out.outcome, "refused");
  assert.equal(out.code, "CHECKPOINT_REFUSED");
  assert.match(out.message, /^restore: process \d+ thread \d+ is glibc's helper thread of SIGEV_THREAD timers; glibc keeps its thread id in a variable a restore cannot find, and the id changes \(the checkpoint was captured in the supervised view\), so a SIGEV_THREAD timer created after the restore would fail \(EINVAL\); a process that uses SIGEV_THREAD timers can be restored only from a capture in the kernel view, which keeps thread ids$/);
  assert.equal(typeof out.pid, "number");
});

scriptCase("restore: the same SIGEV_THREAD program captured in the kernel view restores (its helper keeps its id) and makes and fires a second timer", SCRIPT, ["sigev-thread", FIXTURE], (out) => {
  assert.deepEqual(out, { outcome: "restored", exitCode: 0, lines: ["second OK", "fired 3 times"] }, JSON.stringify(out));
});

scriptCase("restore control: the SIGEV_SIGNAL variant restores and makes and fires a second timer", SCRIPT, ["sigev-signal", FIXTURE], (out) => {
  assert.deepEqual(out, { outcome: "restored", exitCode: 0, lines: ["second OK", "fired 3 times"] }, JSON.stringify(out));
});

scriptCase("restore control: not restored, the SIGEV_THREAD program makes and fires a second timer after deleting the first", SCRIPT, ["sigev-control", FIXTURE], (out) => {
  assert.deepEqual(out, { exitCode: 0, lines: ["second OK", "fired 3 times"] }, JSON.stringify(out));
});

scriptCase("restore: a failure after the new sandbox started (the image does not fit the new maxMemory) throws a CheckpointError naming the process and the cap, returns, and leaves no process", SCRIPT, ["big", FIXTURE], (out) => {
  // Control: under the saved policy the same checkpoint runs, and the walk of /proc sees it.
  assert.equal(out.whileRunning, 3, "launcher, restored parent, restored child");
  assert.deepEqual(out.afterControl, []);
  assert.equal(out.error?.name, "CheckpointError");
  assert.equal(out.error.code, "CHECKPOINT_REFUSED");
  assert.equal(out.error.pid, out.imagePids[1], "the child, whose 24 MiB did not fit");
  assert.match(out.error.message, /^restore: process \d+: the image does not fit the new policy's maxMemory of 8388608 bytes \(the supervisor ended the sandbox at \d+ bytes while rebuilding it\)$/);
  assert.ok(out.seen >= 2, `the failing restore started processes (${out.seen} seen)`);
  assert.deepEqual(out.stillThere, [], "every process seen during the failed restore is gone (no zombie either)");
  assert.deepEqual(out.left, []);
});

// The restoring process runs under `taskset -c 1`; the new sandbox inherits that affinity.
if (cpus().length > 1) {
  scriptCase("restore: each thread's CPU affinity is intersected with the CPUs the new sandbox may use (the restorer's own, CPU 1): a thread pinned to CPU 1 keeps it, unpinned ones get CPU 1", SCRIPT, ["narrow-1", FIXTURE], (out) => {
    assert.equal(out.outcome, "restored");
    // Control: the capture had unpinned threads (CPUs 0 and 1) besides the pinned one.
    assert.equal(parse(out.captured).filter((s) => s.cpus.join() === "0,1").length, 3, out.captured.join(" "));
    assert.deepEqual(parse(out.restored).map((s) => s.cpus.join()), ["1", "1", "1", "1"]);
    assert.deepEqual(parse(out.restored).map((s) => [s.nice, s.policy]), parse(out.captured).map((s) => [s.nice, s.policy]));
  });

  scriptCase("restore refuses, naming the thread, a thread pinned to CPUs none of which the new sandbox may use, and leaves no process", SCRIPT, ["narrow-0", FIXTURE], (out) => {
    assert.equal(out.outcome, "refused");
    assert.equal(out.code, "CHECKPOINT_REFUSED");
    assert.match(out.message, /^restore: process \d+: thread \d+ may run on CPUs 0 only, none of which the new sandbox may use \(1\)$/);
    assert.deepEqual(out.left, []);
  });
}
