// The sandbox's epoll watches (the twentieth review). fs.epoll.max_user_watches is counted
// per user (user_struct: no user namespace has a level of its own, so the kernel view is
// no help), charged to the uid of the instance's maker, and libuv aborts when an add
// fails: a sandbox made 5,491,631 watches (all of them) in 2.5 s, and every Node process
// of its uid that then added a descriptor to its loop aborted, the supervising process
// among them (it takes its sandboxes with it). Here a sandbox holds at most its budget
// (features.ts EPOLL_BUDGET_SHARE of the limit).
//
// The filter routes epoll_ctl(EPOLL_CTL_ADD) only (the op is a register), and an add
// within the credit the handler grants is continued in C (native/proccredit.c), taken
// into the count here at the next decision. The count only grows (a watch goes when its
// descriptor or its instance closes, which nothing reports): at the budget the sandbox's
// watches are counted from the fdinfo of every epoll descriptor its processes hold (a line
// per watch), off the event loop, and the count restarts from that. The decision rests on
// that count alone, never on the caller's memory or on what its descriptors are, so the
// add is CONTINUEd (DESIGN 6).
//
// Where a watch can hide from the count: an epoll file in no descriptor table of the
// sandbox. In a socket's queue: a send of one is refused (EPERM, refuseEpollRight: every
// send with descriptors is the supervisor's). Handed from process to process while the
// count walks their tables: by a fork only (pidfd_getfd and kcmp are refused, an epoll
// file cannot be opened again through /proc). A chain of processes each forking the next
// and exiting moved its instances faster than a pass over /proc lists processes: none of
// its holders was ever listed, and 600,000 watches went uncounted. So the count lists and
// reads the sandbox's processes again until one list and its reads saw no fork let
// through (the process handlers count every fork, and those whose child may not exist
// yet): then no process appeared meanwhile, and each one listed held at its read every
// instance it holds (anything made since came from adds, which wait for the count). A
// sandbox that forks through RECOUNT_ROUNDS lists is not counted: its add gets ENOSPC.
// An add let through just before a count began and still inside the kernel when its
// instance was read is missed once: at most one per thread, bounded by the thread cap.
// A table that cannot be read (a process that executed a file it may not read is not
// dumpable) leaves the count undone. Open: a table is not read in one instant, and a
// program that times the count can move an instance within its own table (dup2 onto a
// descriptor already read, then close the one not yet read): docs/security.md, Known
// limits.

import { monotonicMs } from "../../kernel/clock.js";
import { fdLink, readProcText } from "../../kernel/proc-text.js";
import { CONTINUE, deny, type Action } from "../action.js";
import { fdObjectPartsOffLoop } from "../fd-objects.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { processTree, statFields } from "../members.js";
import type { Notification } from "../notification.js";
import { runInSlices, type Step } from "../slices.js";
import { chargeOf } from "./memory.js";

const EPERM = 1;
const ENOSPC = 28;
/** Adds one grant lets C continue (native/proccredit.h SL_PROCS_CREDIT_MAX). */
const CREDIT_MAX = 256;
/** Lists of the sandbox's processes one count reads at most (see the file's head). */
export const RECOUNT_ROUNDS = 4;
/** A count starts no sooner than this many times the last one's length after it ended
 * (at least RECOUNT_GAP_MIN_MS): counts take at most a fifth of a thread of Node's pool,
 * and an add at the budget meanwhile gets ENOSPC. */
const RECOUNT_GAP_RATIO = 4;
const RECOUNT_GAP_MIN_MS = 100;

/** For a send the supervisor performs: whether it must refuse to pass `dup` (its duplicate
 * of a descriptor named in SCM_RIGHTS): an epoll file, whatever the policy (see the file's
 * head; without the budget, maxMemory would have to count it in the queue). */
export function refuseEpollRight(ctx: SupervisorContext): (dup: number) => boolean {
  return (dup) => {
    if (fdLink(dup) !== "anon_inode:[eventpoll]") return false;
    ctx.observe({ kind: "refused", syscall: "sendmsg", errno: EPERM, target: "SCM_RIGHTS", why: "an epoll file in a socket's queue would hold its watches where the supervisor does not count them" });
    return true;
  };
}

/** A process's identity across a count: its pid and start time (a pid used again by a
 * new process is another one); undefined when it is gone. */
function identity(pid: number): string | undefined {
  try {
    return `${pid}:${statFields(readProcText(`/proc/${pid}/stat`))[19]}`;
  } catch {
    return undefined;
  }
}

/**
 * The watches of every epoll file the sandbox's processes hold (an instance in two tables,
 * or under two descriptors, counted for each: the count errs toward the budget), or
 * undefined when no list of its processes was quiet through RECOUNT_ROUNDS, or a table
 * could not be read (see the file's head). `forks`: the process handlers' count of forks
 * let through, and of those whose child may not exist yet (DynamicLimits.forks). The count
 * stops at `budget`: past it nothing more is needed, and each read of an epoll file costs
 * what its watches do (one instance under ten descriptors held a count 29 s).
 */
export function* countWatches(owner: object, launcherPid: number, forks: (() => { made: number; underWay: number }) | undefined, budget: number): Generator<Step, number | undefined> {
  let total = 0;
  let unreadable = false;
  const read = new Set<string>();
  const add = (_kind: unknown, watches: number): boolean => (total += watches) >= budget;
  const fail = (): void => void (unreadable = true);
  for (let round = 0; round < RECOUNT_ROUNDS; round++) {
    const before = forks?.();
    // Zombies too: a process whose main thread exited while others run is one, and
    // chargeOf names a live thread that shows its descriptors.
    for (const pid of processTree(launcherPid, true).keys()) {
      const id = identity(pid);
      if (id === undefined || read.has(id)) continue;
      read.add(id);
      const c = chargeOf(pid);
      if (c === null) continue;
      const full = yield* fdObjectPartsOffLoop(owner, c.task, ["epoll"], add, fail);
      // A table the supervisor may not read (a process that executed a file it may not
      // read is no longer dumpable, its /proc/<pid>/fd the host's root's): not counted.
      if (unreadable) return undefined;
      if (full) return total;
      yield;
    }
    const after = forks?.();
    if (before !== undefined && after !== undefined && before.underWay === 0 && after.made === before.made) return total;
  }
  return undefined;
}

export function epollHandlers(budget: number, ctx: SupervisorContext): HandlerTable {
  const credit = ctx.epollCredit;
  const owner = {}; // this sandbox's turn on Node's pool (fd-objects.ts offLoop)
  // The watches the sandbox may hold: the last count's, plus every add let through since.
  let count = 0;
  let recount: Promise<void> | undefined;
  let nextCountAt = 0;

  const settle = (): void => {
    if (credit !== undefined) count += credit.take().length;
  };
  const grant = (): void => {
    if (credit !== undefined && recount === undefined) credit.grant(Math.min(CREDIT_MAX, Math.max(0, budget - count)));
  };
  const decide = (): Action | undefined => {
    settle();
    if (count >= budget) return undefined;
    count++;
    grant();
    return CONTINUE;
  };
  const refresh = (): Promise<void> =>
    (recount ??= new Promise<void>((resolve) => {
      settle(); // the credit ends here: no add goes on until the count is done
      const began = monotonicMs();
      runInSlices(
        countWatches(owner, ctx.launcherPid, ctx.limits.forks, budget),
        (total) => {
          const ended = monotonicMs();
          // Not counted (the sandbox kept forking, or hid a table): the budget stands as reached.
          count = total ?? budget;
          nextCountAt = ended + Math.max(RECOUNT_GAP_MIN_MS, RECOUNT_GAP_RATIO * (ended - began));
          recount = undefined;
          grant();
          resolve();
        },
        { spent: (ms) => ctx.chargeCpu(ms) },
      );
    }));
  const refuse = (n: Notification): Action => {
    ctx.observe({ kind: "refused", syscall: "epoll_ctl", errno: ENOSPC, target: `descriptor ${n.argU32(2)}`, why: `the sandbox holds its epoll watch budget (${budget}, a quarter of fs.epoll.max_user_watches: the uid's other processes keep the rest)` });
    return deny(ENOSPC);
  };
  const atBudget = async (n: Notification): Promise<Action> => {
    if (recount === undefined && monotonicMs() < nextCountAt) return refuse(n);
    await refresh();
    return decide() ?? refuse(n);
  };
  // The first adds of a sandbox are decided here, and grant the first credit.
  return { epoll_ctl: (n) => decide() ?? atBudget(n) };
}
