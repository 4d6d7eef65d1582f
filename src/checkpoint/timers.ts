// A process's timers across a checkpoint: the three interval timers (alarm is ITIMER_REAL)
// read with a remote getitimer, POSIX timers listed by /proc/<pid>/timers and read with a
// remote timer_gettime; at restore each is re-created with the time it had left (and its
// POSIX id, PR_TIMER_CREATE_RESTORE_IDS) or refused by name when it cannot be exactly.

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { withCaptureCalls } from "./capture-remote.js";
import type { StoppedThread } from "./freeze.js";
import { inOwnPidNamespace, type ItimerImage, type MapEntry, type PosixTimerImage, type ProcessImage, type TimersImage } from "./image.js";

const NR_GETITIMER = 36;
const NR_TIMER_GETTIME = 224;
/** Clocks whose timers a new process can hold with the same meaning: REALTIME, MONOTONIC,
 * BOOTTIME, and the process's own CPU time (2, or as glibc passes it the CPU clock of
 * "pid 0": -6 sched, -7 virtual, -8 prof; re-armed relative: the CPU time left is kept,
 * while the new process's CPU clock starts near 0). */
export const RESTORABLE_CLOCKS = new Map([
  [0, "CLOCK_REALTIME"],
  [1, "CLOCK_MONOTONIC"],
  [2, "CLOCK_PROCESS_CPUTIME_ID"],
  [-6, "CLOCK_PROCESS_CPUTIME_ID"],
  [-7, "CLOCK_PROCESS_CPUTIME_ID"],
  [-8, "CLOCK_PROCESS_CPUTIME_ID"],
  [7, "CLOCK_BOOTTIME"],
]);

/** What clock id c counts, for a refusal. Negative ids are CPU clocks: ~pid << 3 | type,
 * type bit 2 set for a thread; pid 0 is the caller. */
function clockName(c: number): string {
  if (c === 3 || (c < 0 && c >= -4)) return "a thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the thread that made it, which a restore cannot tell)";
  if (c < 0) return `the CPU time of ${(c & 4) !== 0 ? "thread" : "process"} ${~(c >> 3)} (its id changes)`;
  if (c === 8 || c === 9) return "an alarm clock (it needs CAP_WAKE_ALARM)";
  return `clock ${c}`;
}
const SIGEV_THREAD_ID = 4;

/** /proc/<pid>/timers, by id: blocks of "ID:", "signal: N/VALUE", "notify: KIND/pid.N|tid.N", "ClockID:". */
export function parseProcTimers(text: string): Omit<PosixTimerImage, "interval" | "remaining">[] {
  const out: Omit<PosixTimerImage, "interval" | "remaining">[] = [];
  for (const block of text.split(/^(?=ID:)/m)) {
    const id = /^ID: (-?\d+)$/m.exec(block);
    if (id === null) continue;
    const sig = /^signal: (\d+)\/([0-9a-f]+)$/m.exec(block);
    const notify = /^notify: (\w+)\/(pid|tid)\.(\d+)$/m.exec(block);
    const clock = /^ClockID: (-?\d+)$/m.exec(block);
    if (sig === null || notify === null || clock === null) throw new Error(`unexpected /proc timers block: ${JSON.stringify(block)}`);
    const kind = notify[1] === "signal" ? 0 : notify[1] === "none" ? 1 : 2;
    const byTid = notify[2] === "tid";
    out.push({ id: Number(id[1]), clock: Number(clock[1]), signo: Number(sig[1]), sigValue: BigInt(`0x${sig[2]}`), notify: kind | (byTid ? SIGEV_THREAD_ID : 0), tid: byTid ? Number(notify[3]) : 0 });
  }
  // The kernel lists the newest first: by id.
  return out.sort((a, b) => a.id - b.id);
}

const pair = (b: Buffer, at: number): [number, number] => [Number(b.readBigInt64LE(at)), Number(b.readBigInt64LE(at + 8))];
const armed = (t: { remaining: [number, number] }): boolean => t.remaining[0] !== 0 || t.remaining[1] !== 0;

/** The timers of a frozen process, or undefined when they cannot be read. */
export async function captureTimers(pid: number, procTimers: string, threads: readonly StoppedThread[], maps: readonly MapEntry[], timeoutMs: number): Promise<TimersImage | undefined> {
  const listed = parseProcTimers(procTimers);
  return withCaptureCalls(pid, threads, maps, timeoutMs, async (c) => {
    const itimers: ItimerImage[] = [];
    for (const which of [0, 1, 2]) {
      if ((await c.call(NR_GETITIMER, which, c.scratch)) !== 0n) return undefined;
      const b = c.read(32);
      if (b === undefined) return undefined;
      const t = { which, interval: pair(b, 0), remaining: pair(b, 16) };
      if (armed(t)) itimers.push(t);
    }
    const posix: PosixTimerImage[] = [];
    for (const t of listed) {
      if ((await c.call(NR_TIMER_GETTIME, t.id, c.scratch)) !== 0n) return undefined;
      const b = c.read(32);
      if (b === undefined) return undefined;
      posix.push({ ...t, interval: pair(b, 0), remaining: pair(b, 16) });
    }
    return { itimers, posix };
  });
}

/** Why a timer of p cannot be re-created exactly, or undefined (restore-check.ts). */
export function timerRefusal(p: ProcessImage): string | undefined {
  if (p.timers === undefined) return `process ${p.pid}: the checkpoint has no record of its timers (taken by an older sandlock, or they could not be read); a restore cannot tell whether one was armed`;
  for (const t of p.timers.posix) {
    if (!RESTORABLE_CLOCKS.has(t.clock)) {
      return `process ${p.pid} POSIX timer ${t.id} counts ${clockName(t.clock)}; only timers of ${[...new Set(RESTORABLE_CLOCKS.values())].join(", ")} can be restored`;
    }
    if ((t.notify & SIGEV_THREAD_ID) !== 0 && !p.threads.some((u) => u.tid === t.tid)) {
      return `process ${p.pid} POSIX timer ${t.id} signals thread ${t.tid}, which is not in the checkpoint`;
    }
  }
  return sigevThreadRefusal(p);
}

const NR_RT_SIGTIMEDWAIT = 128n;
/** glibc's SIGTIMER: SIGRTMIN, 32 (bit 31 of a sigset). */
const SIGTIMER = 32;
const SIGTIMER_SET = 1n << BigInt(SIGTIMER - 1);
const SIGEV_THREAD_HELPER = (p: ProcessImage, tid: number): string =>
  `process ${p.pid} thread ${tid} is glibc's helper thread of SIGEV_THREAD timers; glibc keeps its thread id in a variable a restore cannot find, and the id changes (the checkpoint was captured in the supervised view), so a SIGEV_THREAD timer created after the restore would fail (EINVAL); a process that uses SIGEV_THREAD timers can be restored only from a capture in the kernel view, which keeps thread ids`;

/**
 * A process with glibc's SIGEV_THREAD helper (timer_create with SIGEV_THREAD starts it once
 * and keeps it): glibc caches the helper's tid in a static variable and aims every later
 * SIGEV_THREAD timer at it (SIGEV_THREAD_ID); after a restore that tid is gone and a new
 * such timer fails with EINVAL (seen in restore-sched.test.ts). The variable has no symbol
 * in a stripped or static program, so it cannot be rewritten reliably: refused. Found by
 * either of: a POSIX timer that signals one thread with SIGTIMER (the kernel side of a
 * SIGEV_THREAD timer), or a thread blocked in rt_sigtimedwait without timeout on exactly
 * {SIGTIMER} (the helper's loop; it stays after the last such timer was deleted). The set
 * is read from the image: its captured pages, or the mapped file (glibc's set is const).
 * A capture from the kernel view is restored with every thread id as it was (restore-run.ts),
 * the helper's too, so glibc's variable stays right: not refused.
 */
export function sigevThreadRefusal(p: ProcessImage): string | undefined {
  if (inOwnPidNamespace(p)) return undefined;
  for (const t of p.timers?.posix ?? []) {
    if ((t.notify & SIGEV_THREAD_ID) !== 0 && t.signo === SIGTIMER) return SIGEV_THREAD_HELPER(p, t.tid);
  }
  for (const t of p.threads) {
    const regs = t.regsets[0]?.data;
    if (regs === undefined || regs.length < 27 * 8) continue;
    const r = (slot: number): bigint => regs.readBigUInt64LE(slot * 8);
    // orig_rax 15, rdi 14 (the set), rdx 12 (the timeout), r10 7 (the set's size).
    if (r(15) !== NR_RT_SIGTIMEDWAIT || r(12) !== 0n || r(7) !== 8n) continue;
    const set = imageBytes(p, r(14), 8);
    if (set !== undefined && set.readBigUInt64LE(0) === SIGTIMER_SET) return SIGEV_THREAD_HELPER(p, t.tid);
  }
  return undefined;
}

/** length bytes at address of the image: captured pages, else the mapped file's bytes. */
function imageBytes(p: ProcessImage, address: bigint, length: number): Buffer | undefined {
  const end = address + BigInt(length);
  for (const s of p.memory) {
    if (s.start <= address && end <= s.start + BigInt(s.data.length)) return s.data.subarray(Number(address - s.start), Number(end - s.start));
  }
  const m = p.maps.find((x) => x.start <= address && end <= x.end);
  if (m === undefined || m.inode === 0 || m.file === undefined) return undefined;
  // The path comes from the checkpoint: read only when it is the regular file the image
  // recorded (device and inode, before and after the open), never following a symlink nor
  // waiting on a FIFO or device.
  let fd: number | undefined;
  try {
    const same = (st: { dev: number; ino: number; isFile(): boolean }): boolean => st.isFile() && st.dev === m.file!.dev && st.ino === m.file!.ino;
    if (!same(lstatSync(m.path))) return undefined;
    fd = openSync(m.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!same(fstatSync(fd))) return undefined;
    const b = Buffer.alloc(length);
    return readSync(fd, b, 0, length, m.offset + Number(address - m.start)) === length ? b : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export { armed as timerArmed };
