// The thread cap: threads are not processes (SPEC 4.1, maxProcesses never counts them),
// but each costs the host a kernel stack and a task, and a slot of kernel.threads-max,
// which every user of the host shares. clone with CLONE_THREAD comes here; beyond the cap
// it fails with EAGAIN, what pthread_create answers at RLIMIT_NPROC or threads-max. The
// cap comes from maxProcesses (plan/features.ts, threadCap).

import { monotonicMs } from "../../kernel/clock.js";
import { CLONE_THREAD } from "../../plan/seccomp.js";
import { CONTINUE, deny, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { processTree } from "../members.js";
import type { Notification } from "../notification.js";
import { pruneFinished, takeCredit } from "./processes.js";
import { readProcText } from "../../kernel/proc-text.js";

const EAGAIN = 11;
/** After a refusal, how long further thread clones are refused without another /proc pass:
 * a program retrying pthread_create in a loop must not make the supervisor scan /proc at
 * every attempt. Errs on the strict side, for that long. */
const REFUSAL_REUSE_MS = 20;

/** After a recount at the cap, how long the count is read again (the processes the
 * recount found, 1, 2, 4, 8 and 16 ms apart, then at the end) before the clone is refused:
 * a thread that pthread_join has seen end still counts in the kernel (its Threads: and
 * threads-max) until it is released a little later, which under load can come after the next clone's recount. A pool replacing
 * its workers at the cap got EAGAIN in that window (CI, once in 200). The wait only lets a
 * clone go once the kernel's own count has dropped, so the cap is never passed for it; a
 * program truly at the cap waits this long for its EAGAIN, then REFUSAL_REUSE_MS of
 * refusals come at once. Under a load of three runnable tasks per CPU a killed process took
 * over 10 ms to be released here (thread-cap.test). The reads back off so that a program
 * retrying at the cap costs the supervisor six reads of its processes' status per refusal
 * (with 64 processes, about 2 ms per 70 ms of retries), not fifty. */
export const SETTLE_MS = 50;

/** The sum of Threads: of these processes, from /proc (of each thread group: a process
 * whose leader exited still shows its live threads there; one that went away meanwhile
 * counts none). */
function threadsOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
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
 * /proc (plus the thread clones allowed whose caller is still inside the call), and read
 * again for up to SETTLE_MS while it stays there, before any thread is refused. The count
 * starts at one, the root process's thread; processes made since the last recount are not
 * in it, so the cap can be passed by at most the processes made in between (maxProcesses),
 * never more.
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

  const clone = (n: Notification): Action | Promise<Action> | undefined => {
    if ((n.argU32(0) & CLONE_THREAD) === 0) return undefined;
    count += takeCredit(credit, allowed);
    // This thread is in this clone, so any clone it was let into before has returned and its
    // thread exists (or has ended): a recount sees it, and must not count the caller as a
    // clone under way on top of it. (The recount below runs here, at once, so unlike a
    // fork's (processes.ts) it cannot have started before that thread existed.) Counted
    // twice, a thread made and joined one at a time at the cap got EAGAIN with one slot left.
    allowed.delete(n.pid);
    if (count < max) return allow(n);
    if (monotonicMs() - refusedAt < REFUSAL_REUSE_MS) return deny(EAGAIN);
    if (waiting > 0) return wait(n);
    const pids = processes();
    count = recount(pids);
    if (count < max) return allow(n);
    return wait(n, pids);
  };

  // The sandbox's processes, from a pass over the host's /proc (its cost grows with the
  // host: 1.1 ms with 93 processes here, 32 ms with 2,074). The list is kept while the
  // process handlers let no process be made, provided no fork was under way when it was
  // made (a child still being made would be missing from it; its caller is still in the
  // call then): the processes can only have become fewer since (an orphan stays under the
  // launcher, which reaps it), and the thread counts of the ones listed are what a new pass
  // would read. (A listed pid reused by a host process meanwhile would be counted: the strict
  // side.) A thread made and joined in turn at the cap pays a status read per process of the
  // sandbox instead of the host pass.
  let listed: { pids: readonly number[]; made: number } | undefined;
  const processes = (): readonly number[] => {
    const forks = ctx.limits.forks?.();
    if (listed !== undefined && forks !== undefined && forks.made === listed.made) return listed.pids;
    const pids = [...processTree(ctx.launcherPid, true).keys()];
    listed = forks !== undefined && forks.underWay === 0 ? { pids, made: forks.made } : undefined;
    return pids;
  };

  const recount = (pids: readonly number[]): number => {
    pruneFinished(allowed);
    return threadsOf(pids) + allowed.size;
  };

  // Clones that find the count at the cap wait their turn, each after the previous one's
  // wait: one freed slot lets one thread go.
  let waiting = 0;
  let turn: Promise<unknown> = Promise.resolve();
  const wait = (n: Notification, pids?: readonly number[]): Promise<Action> => {
    waiting++;
    const decided = turn.then(() => settle(n, pids));
    turn = decided.finally(() => waiting--);
    return decided;
  };
  const settle = async (n: Notification, pids?: readonly number[]): Promise<Action> => {
    for (let until = monotonicMs() + SETTLE_MS, pause = 1; count >= max && monotonicMs() - refusedAt >= REFUSAL_REUSE_MS; pause *= 2) {
      const left = until - monotonicMs();
      if (left <= 0) {
        refusedAt = monotonicMs();
        break;
      }
      await new Promise((wake) => setTimeout(wake, Math.min(pause, left)));
      // The clones the native credit let go meanwhile (another decision granted it while
      // this one waited) are taken first, as every decision does: the recount lists them
      // as under way, and a grant below is made on a count that holds them. Without the
      // take, allow() re-granted the room on a count that missed what the last grant had
      // already let go, and a flood at the cap with workers replaced passed it by 17 and 18
      // threads in CI (273 and 274 under 256). (The recount replaces the count: the records
      // only join `allowed` here.)
      takeCredit(credit, allowed);
      count = recount((pids ??= processes()));
    }
    count += takeCredit(credit, allowed);
    if (count >= max) return deny(EAGAIN);
    allow(n);
    return CONTINUE;
  };
  return { clone };
}
