// The filters for calls aimed at other processes, run through the BPF interpreter: the
// caller itself passes inline, another pid or a group goes to the supervisor (EPERM with
// no supervisor), a whole user is refused, and another concern's full routing wins.

import { test } from "node:test";
import assert from "node:assert/strict";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { blockedSyscalls } from "../../src/plan/blocklist.js";
import { buildSeccompProgram, type SeccompSpec } from "../../src/plan/seccomp.js";
import { PID_FIRST, REACH_SYSCALLS, SIGNAL_SENDERS } from "../../src/plan/seccomp-reach.js";
import { runFilter } from "../helpers/bpf-interpreter.js";

// Written out rather than taken from src/.
const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const NOTIFY = 0x7fc00000;

function nr(name: string): number {
  const n = SYSCALLS[name];
  assert.notEqual(n, undefined, name);
  return n!;
}

function program(over: Partial<SeccompSpec> = {}): ReturnType<typeof buildSeccompProgram> {
  return buildSeccompProgram({ blocked: blockedSyscalls([], []), allowUdp: false, allowPing: false, notify: ["clone", "uname"], ...over });
}

const SUPERVISED = program();
const UNSUPERVISED = program({ notify: [] });

function expect(prog: ReturnType<typeof buildSeccompProgram>, name: string, args: (number | bigint)[], want: number): void {
  const got = runFilter(prog, { nr: nr(name), args });
  assert.equal(got >>> 0, want >>> 0, `${name}(${args.join(", ")}): got 0x${(got >>> 0).toString(16)}, want 0x${want.toString(16)}`);
}

test("every routed name is a syscall and appears once", () => {
  assert.equal(new Set(REACH_SYSCALLS).size, REACH_SYSCALLS.length);
  for (const name of REACH_SYSCALLS) nr(name);
});

test("pid-first calls: 0 passes inline, any other pid goes to the supervisor", () => {
  for (const name of PID_FIRST) {
    expect(SUPERVISED, name, [0, 1, 2, 3], ALLOW);
    // The kernel truncates pid_t to 32 bits: high bits over a zero low half still mean 0.
    expect(SUPERVISED, name, [0x1_0000_0000n], ALLOW);
    for (const pid of [1, 42, 0x7fffffff, -1]) expect(SUPERVISED, name, [pid], NOTIFY);
    expect(UNSUPERVISED, name, [42], EPERM);
    expect(UNSUPERVISED, name, [0], ALLOW);
  }
});

test("setpriority/getpriority: own process inline, a pid or group to the supervisor, a user never", () => {
  for (const name of ["setpriority", "getpriority"]) {
    expect(SUPERVISED, name, [0, 0, 5], ALLOW); // PRIO_PROCESS, the caller
    expect(SUPERVISED, name, [0, 1234, 5], NOTIFY);
    expect(SUPERVISED, name, [1, 0, 5], NOTIFY); // PRIO_PGRP, even the caller's own group
    expect(SUPERVISED, name, [1, 1234, 5], NOTIFY);
    expect(SUPERVISED, name, [2, 0, 5], EPERM); // PRIO_USER
    expect(SUPERVISED, name, [2, 1000, 5], EPERM);
    expect(SUPERVISED, name, [0x1_0000_0002n, 0, 5], EPERM); // which is an int
    expect(SUPERVISED, name, [7, 0, 5], ALLOW); // EINVAL from the kernel
    expect(UNSUPERVISED, name, [1, 0, 5], EPERM);
    expect(UNSUPERVISED, name, [0, 99, 5], EPERM);
  }
});

test("ioprio_set/ioprio_get: IOPRIO_WHO_PROCESS 0 inline, process and group to the supervisor, user never", () => {
  for (const name of ["ioprio_set", "ioprio_get"]) {
    expect(SUPERVISED, name, [1, 0, 0x6000], ALLOW);
    expect(SUPERVISED, name, [1, 77, 0x6000], NOTIFY);
    expect(SUPERVISED, name, [2, 0, 0x6000], NOTIFY);
    expect(SUPERVISED, name, [3, 0, 0x6000], EPERM);
    expect(SUPERVISED, name, [0, 0, 0x6000], ALLOW); // which 0 is EINVAL
  }
});

test("setpgid: a new group (pgid 0) inline, joining a group goes to the supervisor", () => {
  expect(SUPERVISED, "setpgid", [0, 0], ALLOW);
  expect(SUPERVISED, "setpgid", [1234, 0], ALLOW);
  expect(SUPERVISED, "setpgid", [0, 1234], NOTIFY);
  expect(SUPERVISED, "setpgid", [0, 0x1_0000_0000n], ALLOW);
  expect(UNSUPERVISED, "setpgid", [0, 1234], EPERM);
});

test("a call another concern routes whole stays routed whole (its chain checks the target)", () => {
  const prog = program({ notify: ["clone", "uname", "sched_getaffinity"] });
  expect(prog, "sched_getaffinity", [0, 128, 0], NOTIFY);
  expect(prog, "sched_getaffinity", [42, 128, 0], NOTIFY);
  expect(prog, "sched_setaffinity", [0, 128, 0], ALLOW);
});

test("extraDenySyscalls still wins over the argument filter", () => {
  const prog = program({ blocked: blockedSyscalls(["prlimit64", "setpgid"], []) });
  expect(prog, "prlimit64", [0, 7, 0, 0], EPERM);
  expect(prog, "setpgid", [0, 0], EPERM);
});

test("signals are the kernel's (Landlock's scope) unless the kernel has no scope: then all go to the supervisor", () => {
  const trapped = program({ trapSignals: true });
  for (const name of SIGNAL_SENDERS) {
    expect(SUPERVISED, name, [1234, 9], ALLOW);
    expect(trapped, name, [0, 0], NOTIFY);
    expect(trapped, name, [1234, 9], NOTIFY);
    expect(program({ trapSignals: true, notify: [] }), name, [1234, 9], EPERM);
  }
});

test("capget: a NULL header passes (the kernel's EFAULT), any header goes to the supervisor, none without one", () => {
  expect(SUPERVISED, "capget", [0, 0], ALLOW);
  expect(SUPERVISED, "capget", [0, 0x7ffd_0000_1000n], ALLOW);
  // The header is a 64-bit pointer: a set high half alone is not NULL.
  for (const hdr of [0x7ffd_0000_1000n, 0x1_0000_0000n, 8]) expect(SUPERVISED, "capget", [hdr, 0], NOTIFY);
  expect(UNSUPERVISED, "capget", [0x7ffd_0000_1000n, 0x7ffd_0000_2000n], EPERM);
  expect(UNSUPERVISED, "capget", [0, 0], ALLOW);
});
