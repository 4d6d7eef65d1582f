// The thread cap: threads are not processes (SPEC 4.1, maxProcesses never counts them),
// but each costs the host a kernel stack and a task, and a slot of kernel.threads-max,
// which every user of the host shares. clone with CLONE_THREAD comes here; beyond the cap
// it fails with EAGAIN, what pthread_create answers at RLIMIT_NPROC or threads-max. The
// cap comes from maxProcesses (plan/features.ts, threadCap).

import { monotonicMs } from "../../kernel/clock.js";
import { CLONE_THREAD } from "../../plan/seccomp.js";
import { deny, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { processTree } from "../members.js";
import type { Notification } from "../notification.js";
import { stillInSyscall } from "./processes.js";
import { readProcText } from "../../kernel/proc-text.js";

const EAGAIN = 11;
/** After a refusal, how long further thread clones are refused without another /proc pass:
 * a program retrying pthread_create in a loop must not make the supervisor scan /proc at
 * every attempt. Errs on the strict side, for that long. */
const REFUSAL_REUSE_MS = 20;

/** Threads of every process of the sandbox right now, from /proc (Threads: of each
 * thread group; a process whose leader exited still shows its live threads there). */
function liveThreads(launcherPid: number): number {
  let sum = 0;
  for (const pid of processTree(launcherPid, true).keys()) {
    try {
      sum += Number(/^Threads:\s+(\d+)/m.exec(readProcText(`/proc/${pid}/status`))?.[1] ?? 1);
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

/**
 * Counting as for processes (processes.ts): an allowed thread adds one at once, exits are
 * not seen one by one, and only when the count reaches the cap is it taken again from
 * /proc (plus the thread clones allowed whose caller is still inside the call), before any
 * thread is refused. The count starts at one, the root process's thread; processes made
 * since the last recount are not in it, so the cap can be passed by at most the processes
 * made in between (maxProcesses), never more.
 *
 * The decision rests on the flags register (CLONE_THREAD) and the supervisor's own count,
 * so CONTINUE is race-free: whatever the caller's memory holds, the kernel makes one
 * thread of it. An allowed thread returns undefined so that the memory cap (memory.ts) can
 * still refuse it; a process clone is the process counter's.
 */
export function threadHandlers(max: number, ctx: SupervisorContext): HandlerTable {
  let count = 1;
  let refusedAt = -Infinity;
  const allowed = new Map<number, number>(); // thread id -> the clone it was let into
  // Where no memory cap charges threads, the native fast path continues thread clones
  // within a credit (the room left, at most 256) and records each, as for processes
  // (processes.ts): every decision takes the records first, which ends the credit.
  const credit = ctx.threadsCredit;

  const allow = (n: Notification): undefined => {
    count++;
    allowed.set(n.pid, n.nr);
    credit?.grant(Math.max(0, max - count));
    return undefined;
  };

  const clone = (n: Notification): Action | undefined => {
    if ((n.argU32(0) & CLONE_THREAD) === 0) return undefined;
    if (credit !== undefined) {
      for (const [tid, nr] of credit.take()) {
        count++;
        allowed.set(tid, nr);
      }
    }
    // This thread is in this clone, so any clone it was let into before has returned and its
    // thread exists (or has ended): a recount sees it, and must not count the caller as a
    // clone under way on top of it. (The recount below runs here, at once, so unlike a
    // fork's (processes.ts) it cannot have started before that thread existed.) Counted
    // twice, a thread made and joined one at a time at the cap got EAGAIN with one slot left.
    allowed.delete(n.pid);
    if (count < max) return allow(n);
    if (monotonicMs() - refusedAt < REFUSAL_REUSE_MS) return deny(EAGAIN);
    for (const [tid, nr] of allowed) if (!stillInSyscall(tid, nr)) allowed.delete(tid);
    count = liveThreads(ctx.launcherPid) + allowed.size;
    if (count < max) return allow(n);
    refusedAt = monotonicMs();
    return deny(EAGAIN);
  };
  return { clone };
}
