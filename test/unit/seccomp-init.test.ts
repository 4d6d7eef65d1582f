// The kernel view's init filter (plan/seccomp-init.ts), run through the BPF interpreter:
// the reaper's own calls pass, prlimit64 only on itself, everything else and every other
// architecture or x32 number kills it; the plan lists it just before SECCOMP, only under
// the kernel view.

import assert from "node:assert/strict";
import { test } from "node:test";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { computeFeatures } from "../../src/plan/features.js";
import { makePlan } from "../../src/plan/plan.js";
import { Step } from "../../src/plan/protocol.js";
import { INIT_SYSCALLS, initFilterPayload, initFilterProgram } from "../../src/plan/seccomp-init.js";
import { Policy } from "../../src/policy/index.js";
import { runFilter, validateFilter } from "../helpers/bpf-interpreter.js";

// Written out rather than taken from src/.
const ALLOW = 0x7fff0000;
const KILL_PROCESS = 0x80000000;
const AUDIT_ARCH_I386 = 0x40000003;

function nr(name: string): number {
  const n = SYSCALLS[name];
  assert.notEqual(n, undefined, name);
  return n!;
}

const PROGRAM = initFilterProgram();

test("the init's filter is a valid program, far smaller than the command's", () => {
  validateFilter(PROGRAM);
  assert.ok(PROGRAM.length <= 24, `${PROGRAM.length} instructions`);
  // The step payload: u32 flags 0, u32 pad, then the same program.
  const p = initFilterPayload();
  assert.equal(p.readUInt32LE(0), 0);
  assert.equal((p.length - 8) / 8, PROGRAM.length);
});

test("the reaper's own calls pass: read, write, close, wait4, exit_group, restart_syscall", () => {
  assert.deepEqual([...INIT_SYSCALLS].sort(), ["close", "exit_group", "read", "restart_syscall", "wait4", "write"]);
  for (const name of INIT_SYSCALLS) assert.equal(runFilter(PROGRAM, { nr: nr(name) }), ALLOW, name);
});

test("prlimit64 passes on the init itself only (the late rlimits), any other pid kills", () => {
  assert.equal(runFilter(PROGRAM, { nr: nr("prlimit64"), args: [0, 7, 1, 0] }), ALLOW);
  assert.equal(runFilter(PROGRAM, { nr: nr("prlimit64"), args: [2, 7, 1, 0] }), KILL_PROCESS);
  assert.equal(runFilter(PROGRAM, { nr: nr("prlimit64"), args: [1n << 32n, 7, 1, 0] }), KILL_PROCESS);
  assert.equal(runFilter(PROGRAM, { nr: nr("prlimit64"), args: [-1, 7, 1, 0] }), KILL_PROCESS);
});

test("every other call kills the init: the ones a hijacked reaper would want first among them", () => {
  for (const name of ["openat", "execve", "clone", "clone3", "ptrace", "mount", "unshare", "setns", "kill", "seccomp", "socket", "mmap", "getpid"]) {
    assert.equal(runFilter(PROGRAM, { nr: nr(name) }), KILL_PROCESS, name);
  }
  // a number past the table, and the x32 alias of read
  assert.equal(runFilter(PROGRAM, { nr: 1000 }), KILL_PROCESS);
  assert.equal(runFilter(PROGRAM, { nr: 0x40000000 | nr("read") }), KILL_PROCESS);
  // another architecture's numbering: read is 3 there, but the arch check comes first
  assert.equal(runFilter(PROGRAM, { nr: nr("read"), arch: AUDIT_ARCH_I386 }), KILL_PROCESS);
});

test("the plan lists INIT_FILTER just before SECCOMP under the kernel view, and not otherwise", () => {
  const cmd = { path: "/bin/true", argv: ["true"], env: {}, cwd: "/", ownProcessGroup: false };
  const host = { landlockAbi: 6, cpuCount: 2 };
  const ops = (procView: "kernel" | "supervised"): number[] =>
    makePlan(computeFeatures(Policy.from({ fsReadable: ["/usr"], procView }), host), cmd).steps.map((s) => s.op);
  const kernel = ops("kernel");
  const at = kernel.indexOf(Step.INIT_FILTER);
  assert.ok(at > 0);
  assert.equal(kernel[at + 1], Step.SECCOMP);
  assert.equal(kernel.filter((op) => op === Step.INIT_FILTER).length, 1);
  assert.equal(ops("supervised").includes(Step.INIT_FILTER), false);
});
