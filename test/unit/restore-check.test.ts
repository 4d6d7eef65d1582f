// restore-check.ts on images built by hand: state an older checkpoint (or a crafted one)
// lacks or gets wrong is refused by name before anything runs, and a complete image passes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CheckpointError, Policy } from "../../src/index.js";
import type { Checkpoint } from "../../src/checkpoint/checkpoint.js";
import type { ProcessImage, ThreadImage } from "../../src/checkpoint/image.js";
import { checkImage } from "../../src/checkpoint/restore-check.js";

const policy = new Policy({ fsReadable: ["/usr"], fsWritable: ["/tmp"] });
const thread = (tid: number, extra: Partial<ThreadImage> = {}): ThreadImage => ({
  tid,
  regsets: [{ note: 1, name: "prstatus", data: Buffer.alloc(216) }],
  stop: "interrupt",
  pendingSignal: 0,
  sigBlocked: "0",
  sigPending: "0",
  rseq: null,
  robustList: { head: 0x7f00_0000_09a0n, length: 24 },
  sched: { nice: 0, policy: 0, priority: 0, cpus: [0, 1] },
  ...extra,
});
const proc = (pid: number, ppid: number, extra: Partial<ProcessImage> = {}): ProcessImage => ({
  pid,
  ppid,
  pgid: pid,
  sid: pid,
  comm: "x",
  cmdline: ["x"],
  exe: "/usr/bin/x",
  cwd: "/",
  root: "/",
  umask: 0o22,
  pageSize: 4096,
  auxv: Buffer.alloc(0),
  sigSharedPending: "0",
  sigIgnored: "0",
  sigCaught: "0",
  threads: [thread(pid)],
  maps: [],
  memory: [],
  fds: [],
  fdsCompared: true,
  timers: { itimers: [], posix: [] },
  mm: { startCode: 0n, endCode: 0n, startData: 0n, endData: 0n, startBrk: 0n, brk: 0n, startStack: 0n, argStart: 0n, argEnd: 0n, envStart: 0n, envEnd: 0n },
  ...extra,
});
const cp = (...processes: ProcessImage[]): Checkpoint => ({ processes }) as unknown as Checkpoint;
const posix = { id: 3, clock: 1, signo: 10, sigValue: 0n, notify: 0, tid: 0, interval: [0, 0] as [number, number], remaining: [1, 0] as [number, number] };

async function refused(c: Checkpoint, message: string): Promise<void> {
  await assert.rejects(checkImage(c, policy), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.equal(e.code, "CHECKPOINT_REFUSED");
    assert.equal(e.message, `restore: ${message}`);
    return true;
  });
}

test("a complete image passes; timers on restorable clocks (glibc's process CPU clock -6 too) pass", async () => {
  await checkImage(cp(proc(10, 1, { timers: { itimers: [{ which: 0, interval: [0, 0], remaining: [2, 0] }], posix: [posix, { ...posix, id: 4, clock: -6 }] } })), policy);
});

test("state the checkpoint did not record: timers, rseq, the robust-futex list", async () => {
  await refused(cp(proc(10, 1, { timers: undefined })), "process 10: the checkpoint has no record of its timers (taken by an older sandlock, or they could not be read); a restore cannot tell whether one was armed");
  await refused(cp(proc(10, 1, { threads: [thread(10), thread(11, { rseq: undefined })] })), "process 10 thread 11: the checkpoint has no record of its rseq registration");
  await refused(cp(proc(10, 1, { threads: [thread(10, { robustList: undefined })] })), "process 10 thread 10: the checkpoint has no record of its robust-futex list");
  await refused(cp(proc(10, 1, { threads: [thread(10), thread(12, { sched: undefined })] })), "process 10 thread 12: the checkpoint has no record of its scheduling (nice, policy, CPU affinity); taken by an older sandlock");
});

test("scheduling: the policies sched_setscheduler restores pass; SCHED_DEADLINE is refused by name", async () => {
  const withPolicy = (p: number): Checkpoint => cp(proc(10, 1, { threads: [thread(10, { sched: { nice: 3, policy: p, priority: p === 1 || p === 2 ? 10 : 0, cpus: [0] } })] }));
  for (const p of [0, 1, 2, 3, 5]) await checkImage(withPolicy(p), policy);
  await refused(withPolicy(6), "process 10 thread 10 runs under scheduling policy SCHED_DEADLINE, whose parameters are not in the checkpoint; only SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE can be restored");
});

test("SIGEV_THREAD: a POSIX timer signalling one thread with SIGTIMER (32), or a thread waiting for exactly SIGTIMER without timeout, is glibc's helper and refused in a capture from the supervised view (not from the kernel view's, which keeps ids)", async () => {
  const helper = (tid: number) => `process 10 thread ${tid} is glibc's helper thread of SIGEV_THREAD timers; glibc keeps its thread id in a variable a restore cannot find, and the id changes (the checkpoint was captured in the supervised view), so a SIGEV_THREAD timer created after the restore would fail (EINVAL); a process that uses SIGEV_THREAD timers can be restored only from a capture in the kernel view, which keeps thread ids`;
  await refused(cp(proc(10, 1, { threads: [thread(10), thread(11)], timers: { itimers: [], posix: [{ ...posix, signo: 32, notify: 4, tid: 11 }] } })), helper(11));
  // The kernel view's capture (ids of its own pid namespace: nsTid): restored with the same ids.
  await checkImage(cp(proc(10, 1, { threads: [thread(10, { nsTid: 2 }), thread(11, { nsTid: 3 })], timers: { itimers: [], posix: [{ ...posix, signo: 32, notify: 4, tid: 11 }] } })), policy);
  // Control: SIGEV_THREAD_ID with another signal is an ordinary timer.
  await checkImage(cp(proc(10, 1, { threads: [thread(10), thread(11)], timers: { itimers: [], posix: [{ ...posix, signo: 34, notify: 4, tid: 11 }] } })), policy);
  // rt_sigtimedwait(set, info, NULL, 8) with set = {32} in the captured pages.
  const waiting = (set: bigint, timeout = 0n): Checkpoint => {
    const regs = Buffer.alloc(216);
    regs.writeBigUInt64LE(128n, 15 * 8);
    regs.writeBigUInt64LE(0x10000n, 14 * 8);
    regs.writeBigUInt64LE(timeout, 12 * 8);
    regs.writeBigUInt64LE(8n, 7 * 8);
    const page = Buffer.alloc(4096);
    page.writeBigUInt64LE(set, 0);
    return cp(proc(10, 1, { threads: [thread(10), thread(11, { regsets: [{ note: 1, name: "prstatus", data: regs }] })], memory: [{ start: 0x10000n, data: page }] }));
  };
  await refused(waiting(1n << 31n), helper(11));
  await checkImage(waiting(1n << 31n, 0x7000n), policy);
  await checkImage(waiting((1n << 31n) | 1n), policy);
});

test("POSIX timers that cannot be re-created exactly are named with what they count", async () => {
  const only = "only timers of CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_BOOTTIME can be restored";
  const withTimer = (t: Partial<typeof posix>): Checkpoint => cp(proc(10, 1, { timers: { itimers: [], posix: [{ ...posix, ...t }] } }));
  await refused(withTimer({ clock: -2 }), `process 10 POSIX timer 3 counts a thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the thread that made it, which a restore cannot tell); ${only}`);
  // clock_getcpuclockid(700): ~700 << 3 | 2.
  await refused(withTimer({ clock: (~700 << 3) | 2 }), `process 10 POSIX timer 3 counts the CPU time of process 700 (its id changes); ${only}`);
  await refused(withTimer({ clock: 9 }), `process 10 POSIX timer 3 counts an alarm clock (it needs CAP_WAKE_ALARM); ${only}`);
  await refused(withTimer({ notify: 4, tid: 99 }), "process 10 POSIX timer 3 signals thread 99, which is not in the checkpoint");
});

test("shared open files: a reference must be a lower fd of the process or one of its parent's; without kcmp, candidates are refused", async () => {
  const fd = (n: number, sharedWith?: { pid: number; fd: number }) => ({ fd: n, target: "/dev/null", flags: 1, pos: 0, mntId: 1, file: { dev: 0, ino: 0, size: 0, mtimeNs: "0" }, ...(sharedWith ? { sharedWith } : {}) });
  // (/dev/null's identity is not the stamp, so a reference check must fail before the file check.)
  await refused(cp(proc(10, 1, { fds: [fd(3, { pid: 10, fd: 4 }), fd(4)] })), "process 10 fd 3 is recorded as shared with process 10 fd 4, which is neither a lower descriptor of it nor one of its parent");
  await refused(cp(proc(10, 1), proc(11, 10, { fds: [fd(3, { pid: 12, fd: 3 })] })), "process 11 fd 3 is recorded as shared with process 12 fd 3, which is neither a lower descriptor of it nor one of its parent");
  await refused(cp(proc(10, 1, { fdsCompared: undefined, fds: [fd(3), fd(4)] })), "process 10 fd 4 (/dev/null) may share its open file with fd 3, and the checkpoint could not compare them (kcmp); they would come back with two offsets");
});

test("a queued signal the process would have discarded untraced (SIGCHLD neither caught nor blocked, or one ignored) is dropped; a caught or blocked one is refused", async () => {
  const SIGCHLD = "10000"; // bit 16
  await checkImage(cp(proc(10, 1, { sigSharedPending: SIGCHLD })), policy);
  await checkImage(cp(proc(10, 1, { threads: [thread(10, { sigPending: SIGCHLD })] })), policy);
  await checkImage(cp(proc(10, 1, { sigSharedPending: "4000", sigIgnored: "4000" })), policy); // SIGTERM, SIG_IGN
  const handler = { sig: 17, handler: 0x401000n, flags: 0x4000000n, restorer: 0x401100n, mask: 0n };
  await refused(cp(proc(10, 1, { sigSharedPending: SIGCHLD, sigCaught: SIGCHLD, sigActions: [handler] })), `process 10 has signals pending for the process (ShdPnd ${SIGCHLD}); pending signals cannot be restored`);
  await refused(cp(proc(10, 1, { sigSharedPending: SIGCHLD, threads: [thread(10, { sigBlocked: SIGCHLD })] })), `process 10 has signals pending for the process (ShdPnd ${SIGCHLD}); pending signals cannot be restored`);
  await refused(cp(proc(10, 1, { threads: [thread(10, { sigPending: "4000" })] })), "process 10 thread 10 has signals pending (SigPnd 4000); pending signals cannot be restored");
});

test("ids repeated, a page size other than the host's, a handler or stop signal that does not exist: refused by name before anything runs", async () => {
  // A crafted image repeating a pid made the walk of each process's children grow without end.
  await refused(cp(proc(2, 1), proc(5, 2), proc(5, 5)), "process 5 is listed twice");
  await refused(cp(proc(2, 1, { threads: [thread(2), thread(7)] }), proc(5, 2, { threads: [thread(5), thread(7)] })), "thread 7 of process 5 is also a thread of process 2");
  await refused(cp(proc(2, 1, { threads: [thread(1000, { nsTid: 2 }), thread(1001, { nsTid: 3 })] }), proc(5, 2, { threads: [thread(1005, { nsTid: 3 })] })), "thread 1005 of process 5 has the sandbox's id 3, as a thread of process 2 has");
  await refused(cp(proc(2, 1, { pageSize: 2 << 20 })), "process 2 was captured with pages of 2097152 bytes; this host's are 4096");
  await refused(cp(proc(2, 1, { sigCaught: "1", sigActions: [{ sig: 1, handler: 1n, flags: 0n, restorer: 0n, mask: 0n }, { sig: 1 << 30, handler: 1n, flags: 0n, restorer: 0n, mask: 0n }] })), "process 2 has a handler recorded for signal 1073741824, which does not exist");
  await refused(cp(proc(2, 1, { threads: [thread(2, { stop: "signal", pendingSignal: 999 })] })), "process 2 thread 2 was stopped with signal 999, which does not exist");
});
