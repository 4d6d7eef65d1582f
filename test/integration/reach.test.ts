// Calls aimed at other processes (issue 9, section 2): prlimit64, priorities, scheduling,
// I/O priority, robust lists, page migration, pidfd_open and signals work on the caller and
// its own sandbox and fail with EPERM on the launcher, the supervising process and an
// outside process of the same user, whose state stays as it was; process groups likewise.
// The supervised view's filter (seccomp-reach.ts), pinned: under the kernel view these calls
// pass unchecked, every pid the sandbox can name being its own (kernel-view.test.ts).

import assert from "node:assert/strict";
import { answer, scriptCase, securityCase } from "../helpers/harness.js";
import type { CaseOutcome } from "../helpers/case-types.js";

const CALLS = [
  "prlimit-get", "prlimit-set", "getpriority", "setpriority", "sched_getscheduler", "sched_setscheduler",
  "sched_getparam", "sched_setparam", "sched_getattr", "sched_setattr", "sched_getaffinity", "sched_setaffinity",
  "sched_rr_get_interval", "ioprio_get", "ioprio_set", "get_robust_list", "migrate_pages", "move_pages",
  "pidfd_open", "kill", "tgkill", "rt_sigqueueinfo",
];

type Target = { pid: number; calls: Record<string, string>; after: string | null };

function every(t: Target, want: string, what: string, except: Record<string, string> = {}): void {
  assert.deepEqual(Object.keys(t.calls).sort(), [...CALLS].sort(), `${what}: every call ran`);
  for (const call of CALLS) assert.equal(t.calls[call], except[call] ?? want, `${what}: ${call}`);
}

scriptCase(
  "calls aimed at other processes work inside the sandbox and get EPERM on the launcher, the supervisor and an outside process",
  "dist/test/scripts/reach-case.js",
  ["${PROBE}", "targets"],
  (out) => {
    const t = out.targets as Record<string, Target>;
    every(t.zero!, "ok", "the caller (pid 0)", { pidfd_open: "EINVAL", tgkill: "EINVAL", rt_sigqueueinfo: "ESRCH" }); // the kernel's answers for pid 0
    every(t.self!, "ok", "the caller (its own pid)");
    every(t.child!, "ok", "the caller's child");
    every(t.launcher!, "EPERM", "the launcher");
    every(t.supervisor!, "EPERM", "the supervising process");
    every(t.victim!, "EPERM", "an outside process of the same user");
    assert.equal(t.supervisor!.pid, out.supervisor);
    // Nothing changed: the launcher inherits the supervisor's attributes at spawn.
    assert.equal(t.launcher!.after, out.baseline, "the launcher's state");
    assert.equal(out.supervisorAfter, out.baseline, "the supervisor's state");
    assert.equal(t.victim!.after, out.victimBefore, "the victim's state");
    // Positive control: the same calls from outside any sandbox change such a process.
    every(out.control, "ok", "unsandboxed control");
    assert.notEqual(out.control.after, out.control.before, "the control's state changed");
    assert.match(out.control.after, /^nice 9 policy 0 affinity 1 ioprio 24576 msgqueue 4321$/);
  },
);

scriptCase(
  "process groups: no joining the supervisor's group, no renicing a group with outside members or a user; the sandbox's own group works",
  "dist/test/scripts/reach-case.js",
  ["${PROBE}", "groups"],
  (out) => {
    const lines = new Map((out.lines as string[]).map((l) => l.split(" ") as [string, string]));
    assert.equal(lines.get("setpgid-join"), "EPERM");
    assert.equal(lines.get("setpriority-pgrp"), "EPERM");
    assert.equal(lines.get("ioprio_set-pgrp"), "EPERM");
    assert.equal(lines.get("setpriority-user"), "EPERM", "a broken filter would say ESRCH (no process has that uid)");
    assert.equal(lines.get("ioprio_set-user"), "EPERM");
    assert.notEqual(Number(lines.get("pgid")), out.supervisorPgid, "still in the sandbox's own group");
    // Its own group (all of it the sandbox's) may be reniced, also as "the caller's group".
    assert.equal(lines.get("setpriority-pgrp0"), "ok");
    assert.deepEqual(out.own, ["setpgid-new ok", "setpgid-child ok", "setpriority-pgrp ok", "setpriority-pgrp0 ok", "ioprio_set-pgrp ok"]);
  },
);

function perCall(o: CaseOutcome): Record<string, string> {
  if (o.error) throw new Error(`${o.error.name}: ${o.error.message}`);
  const lines = (o.result?.stdout ?? "").trim().split("\n").slice(1);
  return Object.fromEntries(lines.map((l) => l.split(" ") as [string, string]));
}

// sched_getaffinity is also the view's (numCpus): the target is checked before the view answers.
securityCase(
  "numCpus: sched_getaffinity of the supervisor is refused, the caller's own is the view's",
  { policy: { fsReadable: ["${PROBE}"], numCpus: 1 }, cmd: ["${PROBE}", "reach", "${RUNNER_PID}"] },
  (o) => {
    const calls = perCall(o);
    assert.equal(calls.sched_getaffinity, "EPERM");
    assert.equal(calls.sched_setaffinity, "EPERM");
  },
);

securityCase(
  "numCpus: the caller's own affinity still shows numCpus CPUs",
  { policy: { fsReadable: ["${PROBE}"], numCpus: 1 }, cmd: ["${PROBE}", "affinity"] },
  (o) => assert.equal(answer(o), "0"),
);

// The reported attack set RLIMIT_NOFILE 0 on the launcher (teardown.test.ts shows teardown
// now completes even when that happens from outside).
securityCase(
  "prlimit64 on the launcher (the reported RLIMIT_NOFILE attack) is refused",
  // The supervised view's reach filter (pinned): under the kernel view the probe's parent is
  // the init and the launcher is outside its pid namespace, unnamable (kernel-view.test's
  // victim case: a host pid from inside is ESRCH).
  { policy: { fsReadable: ["${PROBE}"], procView: "supervised" }, cmd: ["${PROBE}", "reach", "launcher"] },
  (o) => {
    const calls = perCall(o);
    assert.equal(calls["prlimit-set"], "EPERM");
    assert.equal(calls["prlimit-get"], "EPERM");
  },
);
