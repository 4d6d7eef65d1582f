// The seventeenth review (2026-12-06), of two changes made that day, as root and as the
// test user (docs/security.md, "The seventeenth review"):
//
// - maxProcesses' refusal settling (handlers/processes.ts RUNNING_SETTLE_MS): a refusal that
//   rests on callers counted as still in their fork recounts for up to 31 ms first. Held:
//   no mix of threads forking, vforking, cloning with CLONE_PARENT, callers busy after
//   their fork or kept "running" took a sandbox past its limit (peaks sampled every 0.3 ms
//   from the host's /proc, zombies included), and none cost the supervisor more than 1.4x
//   a plain fork bomb. The case below keeps the one that rests on the new wait.
// - the checkpoint freeze and vfork (checkpoint/freeze.ts): two breaks, fixed since. A vfork
//   child that never exec'd left its parent seized but never stopped: the checkpoint failed
//   after 5 s, the thread stayed traced by the supervisor, and every later checkpoint of
//   the sandbox failed at once with EPERM ("already traced by process <the supervisor>").
//   And a vfork child made with CLONE_PARENT (its parent's sibling) was never let go: every
//   checkpoint failed after 5 s. A thread waiting in vfork is no longer seized (nor any
//   other while one waits), so nothing is left traced; stopped processes are let go while
//   one waits, whoever's child they are.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

const SCRIPT = "dist/test/scripts/red17-case.js";

// The attack programs, built static into the staged package so the test user can run them.
buildStaged("redteam17.c", "sl-rt17");
const RT17 = "${STAGE}/sl-rt17";

// 32 threads fork for 2 s under maxProcesses 4, each spinning 3 ms in user space after its
// fork before it reaps (a caller /proc shows "running"): every refusal then waits out the
// recounts. The sandbox never holds more than 4 processes (the kernel view's init is one
// more), counted from the host's /proc every 0.3 ms, zombies included but the launcher's
// (it reaps them itself); control: the limit was reached and forks went through.
for (const view of ["supervised", "kernel"] as const) {
  scriptCase(`maxProcesses 4 (${view} view): 32 threads forking, each busy 3 ms after its fork, never pass the limit`, SCRIPT, [RT17, "peak", view, "4", "4", "busy", "32", "2"], (out) => {
    const { peakNoLauncherZombies: peak, samples } = out.sampler as { peakNoLauncherZombies: number; samples: number };
    const bound = view === "kernel" ? 5 : 4;
    assert.ok(samples > 100, `control: sampled: ${JSON.stringify(out)}`);
    assert.ok(peak <= bound, `a peak of ${peak} processes where ${bound} may be: ${JSON.stringify(out)}`);
    assert.ok(peak >= bound - 1, `control: the limit was reached (${peak}): ${JSON.stringify(out)}`);
    const forks = JSON.parse(out.out) as { ok: number; eagain: number; other: number };
    assert.ok(forks.ok > 50, `control: forks went through: ${out.out}`);
    assert.equal(forks.other, 0, out.out);
  });
}

// Children that fork three grandchildren and exit at once, for 2 s under maxProcesses 4,
// the orphans given to a subreaper the sandbox made (its first process, which reaps them),
// not to the launcher: the launcher's count walks its tree (native/launcher/tree.c walk),
// and orphans moving to a list it has read already must still be counted. The same bounds
// as above; control: the limit was reached and forks went through.
for (const view of ["supervised", "kernel"] as const) {
  scriptCase(`maxProcesses 4 (${view} view): orphans given to a subreaper of the sandbox's are counted`, SCRIPT, [RT17, "peak", view, "4", "4", "suborphan", "2"], (out) => {
    const { peakNoLauncherZombies: peak, samples } = out.sampler as { peakNoLauncherZombies: number; samples: number };
    const bound = view === "kernel" ? 5 : 4;
    assert.ok(samples > 100, `control: sampled: ${JSON.stringify(out)}`);
    assert.ok(peak <= bound, `a peak of ${peak} processes where ${bound} may be: ${JSON.stringify(out)}`);
    const forks = JSON.parse(out.out) as { ok: number; eagain: number; other: number };
    assert.ok(peak >= bound - 1, `control: the limit was reached (${peak}): ${JSON.stringify(out)}`);
    assert.ok(forks.ok > 50, `control: forks went through: ${out.out}`);
    assert.equal(forks.other, 0, out.out);
  });
}

// A worker vforks a child that never calls exec nor exits. The checkpoint cannot stop the
// worker: it fails, naming the wait, and leaves no thread traced or stopped; a second one
// fails the same way (before: EPERM at once, the worker still traced by the supervisor).
scriptCase("a checkpoint of a vfork parent whose child never execs fails naming the wait, twice, and leaves nothing traced", SCRIPT, [RT17, "ckpt", "supervised", "vflong", "2"], (out) => {
  assert.equal(out.runs.length, 2);
  for (const r of out.runs) {
    assert.match(r.res, /^checkpoint: thread \d+ of process \d+ waits in vfork for a child that has not called exec or exited within 5000 ms/, JSON.stringify(out));
    assert.equal(r.tracedAfter, 0, JSON.stringify(r));
    assert.equal(r.heldAfter30ms, 0, JSON.stringify(r));
  }
});

// A worker loops clone(CLONE_VFORK | CLONE_PARENT), each child working 100 ms: its child is
// its sibling. Every checkpoint succeeds (before: every one failed after 5 s), nothing left traced.
scriptCase("checkpoints of a process whose vfork children are its siblings (CLONE_PARENT) succeed and leave nothing traced", SCRIPT, [RT17, "ckpt", "supervised", "vfcparent", "3"], (out) => {
  assert.equal(out.runs.length, 3);
  for (const r of out.runs) {
    assert.match(r.res, /^ok \d+ processes$/, JSON.stringify(out));
    assert.equal(r.tracedAfter, 0, JSON.stringify(r));
    assert.equal(r.heldAfter30ms, 0, JSON.stringify(r));
  }
});
