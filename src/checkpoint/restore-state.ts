// Per-process and per-thread kernel state a restore gives back with remote calls
// (restore-run.ts drives it): interval timers and POSIX timers (timers.ts captured them),
// a thread's rseq registration and its robust-futex list.

import { readFileSync } from "node:fs";
import { native } from "../confine/native.js";
import type { ProcessImage, ThreadImage } from "./image.js";
import type { Remote } from "./inject.js";
import { parseProcTimers, timerArmed } from "./timers.js";

export type Sys = (what: string, nr: number, ...args: (bigint | number)[]) => Promise<bigint>;

const NR = { setitimer: 38, timerCreate: 222, timerSettime: 223, timerDelete: 226, prctl: 157, setRobustList: 273, rseq: 334 } as const;
const PR_TIMER_CREATE_RESTORE_IDS = 77;
/** Timers created at most to reach an id in order on a kernel without the prctl. */
const LINEAR_IDS_MAX = 4096;
const RSEQ_FLAG_UNREGISTER = 1;
/** struct rseq: rseq_cs (the current critical section's descriptor) at offset 8. */
const RSEQ_CS_OFFSET = 8n;

/** The three interval timers as captured; every one not captured is disarmed (whatever
 * the process had before: the launcher's or, in a fork, nothing since fork clears them). */
export async function restoreItimers(r: Remote, p: ProcessImage, sys: Sys): Promise<void> {
  for (const which of [0, 1, 2]) {
    const t = p.timers?.itimers.find((x) => x.which === which);
    const v = Buffer.alloc(32);
    if (t !== undefined) [...t.interval, ...t.remaining].forEach((x, i) => v.writeBigInt64LE(BigInt(x), i * 8));
    await sys(`setitimer(${which})`, NR.setitimer, which, r.put(v), 0);
  }
}

/**
 * The POSIX timers, each with its captured id (prctl PR_TIMER_CREATE_RESTORE_IDS makes
 * timer_create take the id it is given; before Linux 6.15, ids in order), clock, signal, value and target thread (its new
 * tid), armed with the time it had left. Timers of the new process (none expected) go first.
 */
export async function restorePosixTimers(r: Remote, pid: number, p: ProcessImage, tids: ReadonlyMap<number, number>, sys: Sys): Promise<void> {
  for (const t of parseProcTimers(readFileSync(`/proc/${pid}/timers`, "latin1"))) await sys(`timer_delete(${t.id})`, NR.timerDelete, t.id);
  const timers = [...(p.timers?.posix ?? [])].sort((a, b) => a.id - b.id);
  if (timers.length === 0) return;
  // Before Linux 6.15 (no such prctl), a process's ids are handed out in order from 0:
  // every id up to the largest is created and the ones the image lacks deleted again.
  const exact = (await r.call(NR.prctl, PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0)) === 0n;
  const wanted = new Set(timers.map((t) => t.id));
  const filler = { id: 0, clock: 1, signo: 0, sigValue: 0n, notify: 1, tid: 0, interval: [0, 0] as [number, number], remaining: [0, 0] as [number, number] };
  const order = exact ? timers : Array.from({ length: timers.at(-1)!.id + 1 }, (_, id) => timers.find((t) => t.id === id) ?? { ...filler, id });
  if (!exact && order.length > LINEAR_IDS_MAX) throw new Error(`process ${p.pid} has POSIX timer ${timers.at(-1)!.id}, and this kernel cannot create a timer with a given id (prctl PR_TIMER_CREATE_RESTORE_IDS, Linux 6.15) nor reach that id in order within ${LINEAR_IDS_MAX} timers`);
  for (const t of order) {
    const b = Buffer.alloc(128);
    b.writeBigUInt64LE(BigInt.asUintN(64, t.sigValue), 0);
    b.writeInt32LE(t.signo, 8);
    b.writeInt32LE(t.notify, 12);
    b.writeInt32LE(t.tid === 0 ? 0 : tids.get(t.tid) ?? 0, 16);
    b.writeInt32LE(t.id, 64);
    const at = r.put(b);
    await sys(`timer_create(id ${t.id}, clock ${t.clock})`, NR.timerCreate, t.clock, at, at + 64n);
    const got = native().readMemory(r.tid, Number(at + 64n), b.subarray(64, 68)) === 4 ? b.readInt32LE(64) : -1;
    if (got !== t.id) throw new Error(`POSIX timer ${t.id} was re-created with id ${got}`);
    if (!wanted.has(t.id)) continue;
    if (timerArmed(t)) {
      const v = Buffer.alloc(32);
      [...t.interval, ...t.remaining].forEach((x, i) => v.writeBigInt64LE(BigInt(x), i * 8));
      await sys(`timer_settime(${t.id})`, NR.timerSettime, t.id, 0, r.put(v), 0);
    }
  }
  for (const t of order) if (!wanted.has(t.id)) await sys(`timer_delete(${t.id}, a gap)`, NR.timerDelete, t.id);
  if (exact) await sys("prctl(PR_TIMER_CREATE_RESTORE_IDS, off)", NR.prctl, PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
}

/** A thread's robust-futex list and rseq registration, made by the thread itself (both are
 * per thread and set only for the caller). Resolves with the rseq area's captured rseq_cs
 * (to write back once no more calls run: the kernel clears it on each return to user
 * outside a critical section), or undefined. */
export async function restoreThreadState(r: Remote, t: ThreadImage, sys: Sys): Promise<{ at: bigint; value: Buffer } | undefined> {
  if (t.robustList !== undefined && t.robustList.head !== 0n) {
    await sys(`set_robust_list(thread ${t.tid})`, NR.setRobustList, t.robustList.head, t.robustList.length);
  }
  // A registration the new thread has (a fork inherits its parent's; the launcher has
  // none) is undone first: rseq refuses a second one.
  const cur = Buffer.alloc(32);
  if (native().ptraceGetRseq(r.tid, cur) >= 24 && cur.readBigUInt64LE(0) !== 0n) {
    await sys("rseq(unregister)", NR.rseq, cur.readBigUInt64LE(0), cur.readUInt32LE(8), RSEQ_FLAG_UNREGISTER, cur.readUInt32LE(12));
  }
  if (t.rseq === undefined || t.rseq === null) return undefined;
  const cs = Buffer.alloc(8);
  if (native().readMemory(r.tid, Number(t.rseq.address + RSEQ_CS_OFFSET), cs) !== 8) throw new Error(`thread ${t.tid}: its rseq area at 0x${t.rseq.address.toString(16)} cannot be read`);
  await sys(`rseq(thread ${t.tid}, 0x${t.rseq.address.toString(16)})`, NR.rseq, t.rseq.address, t.rseq.length, 0, t.rseq.signature);
  return { at: t.rseq.address + RSEQ_CS_OFFSET, value: cs };
}

/** Restart codes (negated) and calls of an interrupted sleep. */
const ERESTART_RESTARTBLOCK = -516n;
const NR_NANOSLEEP = 35n;
const NR_CLOCK_NANOSLEEP = 230n;
const CLOCK_MONOTONIC = 1;
/** struct user_regs_struct slots (inject.ts REG, plus r10). */
const R = { rax: 10, rdi: 14, rsi: 13, rdx: 12, r10: 7, origRax: 15 } as const;

/**
 * A thread captured inside a relative sleep (nanosleep, or clock_nanosleep without
 * TIMER_ABSTIME: the kernel's -ERESTART_RESTARTBLOCK) whose caller passed a `rem` pointer:
 * the kernel wrote the time left there when the capture interrupted it (it is in the image).
 * The new thread starts the same sleep for that time (its own rem pointer, so a later
 * interruption reports the time left again) and is interrupted at once: its restart block
 * then holds the sleep's end, and the registers (restore-run.ts step 10) enter
 * restart_syscall. Resolves true when armed so; false when the thread was not in such a
 * sleep, or gave no rem pointer (the time left is nowhere then: the call is re-issued with
 * its full time), or the sleep ended already. Absolute sleeps restart as they are (exact).
 */
export async function armSleep(r: Remote, t: ThreadImage): Promise<boolean> {
  const regs = t.regsets[0]!.data;
  const rax = regs.readBigInt64LE(R.rax * 8);
  const orig = regs.readBigInt64LE(R.origRax * 8);
  if (rax !== ERESTART_RESTARTBLOCK || (orig !== NR_NANOSLEEP && orig !== NR_CLOCK_NANOSLEEP)) return false;
  const clock = orig === NR_NANOSLEEP ? CLOCK_MONOTONIC : Number(BigInt.asIntN(32, regs.readBigUInt64LE(R.rdi * 8)));
  const rem = regs.readBigUInt64LE((orig === NR_NANOSLEEP ? R.rsi : R.r10) * 8);
  if (rem === 0n) return false;
  const left = Buffer.alloc(16);
  if (native().readMemory(r.tid, Number(rem), left) !== 16) return false;
  const rc = await r.callInterrupted(Number(NR_CLOCK_NANOSLEEP), clock, 0, r.put(left), rem);
  return rc === ERESTART_RESTARTBLOCK;
}

const FUTEX_TID_MASK = 0x3fffffff;
/** glibc's struct __pthread_mutex_s (x86_64): __owner 8 bytes after the futex word __lock. */
const GLIBC_OWNER_AFTER_LOCK = 8n;
/** Entries walked per list at most (the kernel's ROBUST_LIST_LIMIT is 2048). */
const ROBUST_LIMIT = 2048;

/**
 * Mutexes held across the checkpoint record their owner's tid, which changed: on each
 * thread's robust list (and its op-pending entry) a futex word whose owner is the old tid
 * gets the new one (the kernel marks a dead owner's mutexes only when the tid matches, and
 * glibc's unlock checks it), and so does glibc's __owner next to it when it holds the old
 * tid. Other mutexes that store a tid (recursive, error-checking, PI ones not on a robust
 * list) are not found and keep the old one (docs/checkpoint.md).
 */
export function fixRobustOwners(pid: number, p: ProcessImage, tids: ReadonlyMap<number, number>): void {
  const u64 = (at: bigint): bigint | undefined => {
    const b = Buffer.alloc(8);
    return native().readMemory(pid, Number(at), b) === 8 ? b.readBigUInt64LE(0) : undefined;
  };
  const fixWord = (at: bigint, oldTid: number, newTid: number): void => {
    const b = Buffer.alloc(4);
    if (native().readMemory(pid, Number(at), b) !== 4) return;
    const word = b.readUInt32LE(0);
    if ((word & FUTEX_TID_MASK) !== oldTid) return;
    b.writeUInt32LE(((word & ~FUTEX_TID_MASK) | newTid) >>> 0);
    native().writeMemory(pid, Number(at), b);
    const owner = Buffer.alloc(4);
    if (native().readMemory(pid, Number(at + GLIBC_OWNER_AFTER_LOCK), owner) === 4 && owner.readInt32LE(0) === oldTid) {
      owner.writeInt32LE(newTid);
      native().writeMemory(pid, Number(at + GLIBC_OWNER_AFTER_LOCK), owner);
    }
  };
  for (const t of p.threads) {
    const newTid = tids.get(t.tid);
    const head = t.robustList?.head ?? 0n;
    if (newTid === undefined || head === 0n) continue;
    const offset = u64(head + 8n);
    if (offset === undefined) continue;
    const futexOffset = BigInt.asIntN(64, offset);
    const pending = u64(head + 16n);
    // The owner word holds the id the thread had in its own pid namespace (nsTid under the
    // kernel view), not the host's.
    const oldTid = t.nsTid ?? t.tid;
    if (pending !== undefined && pending !== 0n) fixWord(pending + futexOffset, oldTid, newTid);
    let entry = u64(head);
    for (let n = 0; entry !== undefined && entry !== head && entry !== 0n && n < ROBUST_LIMIT; n++) {
      if (entry !== pending) fixWord(entry + futexOffset, oldTid, newTid);
      entry = u64(entry);
    }
  }
}
