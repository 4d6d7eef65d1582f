// What timeStart and policyFn add to the plan: the filter routes exactly the wall-clock
// reads and absolute wall-clock sleeps (by clock id, flags and a NULL pointer, all
// registers) and, with policyFn, every execve and execveat; the launcher's trace step
// carries the flags and the start time; a policy without either has none of it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Policy } from "../../src/policy/index.js";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { computeFeatures, type Features } from "../../src/plan/features.js";
import { makePlan } from "../../src/plan/plan.js";
import { Step } from "../../src/plan/protocol.js";
import { buildSeccompProgram } from "../../src/plan/seccomp.js";
import { runFilter } from "../helpers/bpf-interpreter.js";

const HOST = { landlockAbi: 7, cpuCount: 2 };
const ALLOW = 0x7fff0000;
const NOTIFY = 0x7fc00000;
const CMD = { path: "/bin/true", argv: ["/bin/true"], env: {}, cwd: "/", ownProcessGroup: false };

function features(input: object): Features {
  return computeFeatures(new Policy(input), HOST);
}

function verdict(f: Features, name: string, args: (number | bigint)[]): number {
  return runFilter(buildSeccompProgram(f.seccomp), { nr: SYSCALLS[name]!, args });
}

test("timeStart routes the wall-clock reads and absolute wall-clock sleeps, nothing else", () => {
  const f = features({ fsReadable: ["/usr"], timeStart: "2000-01-01T00:00:00Z" });
  const bare = features({ fsReadable: ["/usr"] });
  for (const id of [0, 5, 8, 11]) {
    assert.equal(verdict(f, "clock_gettime", [id, 0x1000]), NOTIFY, `clock ${id}`);
    assert.equal(verdict(bare, "clock_gettime", [id, 0x1000]), ALLOW, `control: clock ${id} without timeStart`);
  }
  for (const id of [1, 4, 6, 7, 2, 3, -2, -6]) assert.equal(verdict(f, "clock_gettime", [id, 0x1000]), ALLOW, `clock ${id}`);
  // The high half of the clock id is not the kernel's: 0x1_00000000 is CLOCK_REALTIME to it.
  assert.equal(verdict(f, "clock_gettime", [0x100000000n, 0x1000]), NOTIFY);
  assert.equal(verdict(f, "gettimeofday", [0x1000, 0]), NOTIFY);
  assert.equal(verdict(f, "gettimeofday", [0x100000000n, 0]), NOTIFY, "a pointer with only its high half set");
  assert.equal(verdict(f, "gettimeofday", [0, 0x1000]), ALLOW, "the time zone alone is the kernel's");
  assert.equal(verdict(f, "time", [0]), NOTIFY);
  assert.equal(verdict(f, "clock_nanosleep", [0, 1, 0x1000, 0]), NOTIFY, "absolute on CLOCK_REALTIME");
  assert.equal(verdict(f, "clock_nanosleep", [11, 1, 0x1000, 0]), NOTIFY, "absolute on CLOCK_TAI");
  assert.equal(verdict(f, "clock_nanosleep", [0, 0, 0x1000, 0]), ALLOW, "relative");
  assert.equal(verdict(f, "clock_nanosleep", [1, 1, 0x1000, 0]), ALLOW, "absolute on CLOCK_MONOTONIC");
  assert.equal(verdict(f, "timerfd_settime", [3, 1, 0x1000, 0]), NOTIFY, "TFD_TIMER_ABSTIME (its clock is the timerfd's, known to the supervisor)");
  assert.equal(verdict(f, "timerfd_settime", [3, 0, 0x1000, 0]), ALLOW, "relative");
  const TRACE = 0x7ff00000;
  // futex(uaddr, op, val, timeout, ...): absolute waits on the wall clock go to the tracer.
  assert.equal(verdict(f, "futex", [0x1000, 9 | 128 | 256, 0, 0x2000]), TRACE, "FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME");
  assert.equal(verdict(f, "futex", [0x1000, 11 | 256, 0, 0x2000]), TRACE, "FUTEX_WAIT_REQUEUE_PI | FUTEX_CLOCK_REALTIME");
  assert.equal(verdict(f, "futex", [0x1000, 9 | 128, 0, 0x2000]), ALLOW, "monotonic deadline");
  assert.equal(verdict(f, "futex", [0x1000, 9 | 256, 0, 0]), ALLOW, "no timeout");
  assert.equal(verdict(f, "futex", [0x1000, 0 | 256, 0, 0x2000]), ALLOW, "FUTEX_WAIT: relative");
  assert.equal(verdict(bare, "futex", [0x1000, 9 | 256, 0, 0x2000]), ALLOW, "control: without timeStart");
  assert.equal(verdict(f, "execve", [0x1000, 0x2000, 0]), ALLOW, "execs are not policyFn's here");
});

test("policyFn routes every execve and execveat; the trace step says what the launcher does", () => {
  const f = features({ fsReadable: ["/usr"], policyFn: () => "allow" });
  assert.equal(verdict(f, "execve", [0x1000, 0x2000, 0]), NOTIFY);
  assert.equal(verdict(f, "execveat", [3, 0x1000, 0x2000, 0, 0x1000]), NOTIFY);
  assert.equal(verdict(f, "clock_gettime", [0, 0x1000]), ALLOW, "no clock without timeStart");
  assert.deepEqual(f.supervision.policyExec, { granted: ["/usr"] });

  const step = (input: object) => makePlan(features(input), CMD).steps.find((s) => s.op === Step.TRACE);
  assert.equal(step({ fsReadable: ["/usr"] }), undefined, "neither: not traced at all");
  const both = step({ fsReadable: ["/usr"], policyFn: () => "allow", timeStart: "1969-12-31T23:59:59.250Z" })!;
  assert.equal(both.payload.readUInt32LE(0), 3, "clock and execs");
  assert.equal(both.payload.readBigInt64LE(8), -1n, "seconds before 1970 are negative");
  assert.equal(both.payload.readUInt32LE(16), 250_000_000);
  const execs = step({ fsReadable: ["/usr"], policyFn: () => "allow" })!;
  assert.equal(execs.payload.readUInt32LE(0), 2);
  const steps = makePlan(features({ fsReadable: ["/usr"], timeStart: "2000-01-01T00:00:00Z" }), CMD).steps.map((s) => s.op);
  assert.ok(steps.indexOf(Step.TRACE) < steps.indexOf(Step.SECCOMP), "traced before the filter that bans ptrace");
});

test("the plan cache tells a policy with policyFn from the same one without", async () => {
  const { cachedFeatures } = await import("../../src/plan/cache.js");
  const host = { ...HOST };
  const a = cachedFeatures(new Policy({ fsReadable: ["/usr"] }), host);
  const b = cachedFeatures(new Policy({ fsReadable: ["/usr"], policyFn: () => "allow" }), host);
  assert.equal(a.traceExecs, undefined);
  assert.equal(b.traceExecs, true);
});
