// clone's filter, run through the BPF interpreter: a thread that would have a descriptor
// table of its own (CLONE_THREAD without CLONE_FILES) is refused with EINVAL in every
// policy, supervised or not; threads that share the table, and processes, go as before.

import { test } from "node:test";
import assert from "node:assert/strict";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { blockedSyscalls } from "../../src/plan/blocklist.js";
import { buildSeccompProgram, type SeccompSpec } from "../../src/plan/seccomp.js";
import { runFilter } from "../helpers/bpf-interpreter.js";

// Written out rather than taken from src/.
const ALLOW = 0x7fff0000;
const EINVAL = 0x00050016;
const NOTIFY = 0x7fc00000;
const CLONE_VM = 0x100;
const CLONE_FS = 0x200;
const CLONE_FILES = 0x400;
const CLONE_SIGHAND = 0x800;
const CLONE_THREAD = 0x10000;
const SIGCHLD = 17;
/** What glibc's pthread_create passes (with the TID and TLS flags). */
const PTHREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | 0x80000 | 0x100000 | 0x200000 | 0x1000000;

function program(over: Partial<SeccompSpec>): ReturnType<typeof buildSeccompProgram> {
  return buildSeccompProgram({ blocked: blockedSyscalls([], []), allowUdp: false, allowPing: false, notify: [], ...over });
}

function clone(prog: ReturnType<typeof buildSeccompProgram>, flags: number): number {
  return runFilter(prog, { nr: SYSCALLS.clone!, args: [flags] }) >>> 0;
}

test("a thread without CLONE_FILES is EINVAL under every routing of clone; a pthread and a fork are not", () => {
  const cases: [string, Partial<SeccompSpec>, number, number][] = [
    ["unsupervised", { notify: [] }, ALLOW, ALLOW],
    ["processes counted", { notify: ["clone"] }, ALLOW, NOTIFY],
    ["threads counted", { notify: [], notifyThreads: true }, NOTIFY, ALLOW],
    ["both counted", { notify: ["clone"], notifyThreads: true }, NOTIFY, NOTIFY],
  ];
  for (const [name, spec, thread, fork] of cases) {
    const prog = program(spec);
    assert.equal(clone(prog, PTHREAD & ~CLONE_FILES), EINVAL, `${name}: a thread with its own table`);
    assert.equal(clone(prog, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD), EINVAL, `${name}: the least thread, without CLONE_FILES`);
    assert.equal(clone(prog, PTHREAD), thread, `${name}: a pthread`);
    assert.equal(clone(prog, SIGCHLD), fork, `${name}: a fork`);
    assert.equal(clone(prog, CLONE_VM | SIGCHLD), fork, `${name}: a process sharing memory but not the table (its own /proc entry shows it)`);
  }
});
