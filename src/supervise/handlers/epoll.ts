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
// watches are counted from the fdinfo of its epoll files, off the event loop, and the
// count restarts from that. The decision rests on that count alone, never on the caller's
// memory or on what its descriptors are, so the add is CONTINUEd (DESIGN 6). The budget
// is the policy's maxEpollWatches, or a share of the uid's limit.
//
// The count reads a sandbox held still (countFrozen): every thread stopped, so no table
// changes while it is read. Read while it ran, a program that timed the count (an
// epoll_ctl on an instance being read waits for the read) moved its instances with dup2
// from descriptors not yet read onto ones already read, and held 2,400,000 watches as
// root, 3,000,000 as the test user. Frozen, each epoll descriptor is listed without its
// watches, the list sorted by kcmp's order of their files, and each instance read once:
// one shared by descriptors or processes counts once. The adds waiting for the count are
// parked (handler.ts parkCall): the freeze's interrupt has each entered again once its
// thread is let go. Who stops the threads: the supervisor, with the checkpoint's freeze
// (ptrace, no signal; forks held); or, where the launcher traces every process (timeStart,
// policyFn: a thread has one tracer), the launcher, its tracer (SL_CMD_HOLD: an interrupt
// each, new threads and processes kept at their first stop, forks and parked calls
// restarted as the interrupts reach them; checkpoint/freeze.ts whileHeld). Before that
// hold, such a sandbox's tables were walked as they ran, and the dup2 moves held 300,000
// watches within maxEpollWatches 200,000 in 10 of 10 tries.
//
// Where a watch could hide from a frozen count: an epoll file in no descriptor table of
// the sandbox. In a socket's queue: a send of one is refused (EPERM, refuseEpollRight:
// every send with descriptors is the supervisor's). In a process the freeze did not
// stop: it takes every thread of every process under the launcher (a process whose main
// thread exited included), forks held meanwhile. A table that cannot be read, or a
// sandbox that cannot be held (a thread that does not stop in time, a process the
// supervisor may not trace: one that executed a file it may not read is not dumpable),
// leaves the count undone: ENOSPC until the next.

import { StillCount } from "../count-still.js";
import { fdLink } from "../../kernel/proc-text.js";
import { CONTINUE, deny, type Action } from "../action.js";
import { fileOrder, Unordered, type ProcessFd } from "../../kernel/kcmp.js";
import { epollWatchesOffLoop, fdObjectPartsOffLoop } from "../fd-objects.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { sortInSteps, type Step } from "../slices.js";
import { chargeOf } from "./memory.js";

const EPERM = 1;
const ENOSPC = 28;
/** The kernel enters the call again (the caller never sees it): linux/errno.h. */
const ERESTARTNOINTR = 513;
/** Adds one grant lets C continue (native/proccredit.h SL_PROCS_CREDIT_MAX). */
const CREDIT_MAX = 256;

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

/**
 * `held` with one descriptor per open file: sorted by kcmp(KCMP_FILE)'s order of their files
 * (slices.ts sortInSteps), the first of each run of one file kept; undefined when kcmp
 * cannot order them (no CONFIG_KCMP, or a process the supervisor may not inspect).
 */
function* oneEach(held: readonly ProcessFd[]): Generator<Step, ProcessFd[] | undefined> {
  try {
    const sorted = yield* sortInSteps(held, fileOrder);
    const kept: ProcessFd[] = [];
    for (const h of sorted) if (kept.length === 0 || fileOrder(kept[kept.length - 1]!, h) !== 0) kept.push(h);
    return kept;
  } catch (e) {
    if (e instanceof Unordered) return undefined;
    throw e;
  }
}

/**
 * The watches of the epoll instances a frozen sandbox holds (processes `pids`, every thread
 * stopped: no table changes while it is read), each instance once however many descriptors
 * and processes share it (kcmp; when kcmp cannot tell, once per descriptor); undefined
 * when a table could not be read. Stops at `budget`.
 */
export function* countFrozen(owner: object, pids: Iterable<number>, budget: number): Generator<Step, number | undefined> {
  const held: ProcessFd[] = [];
  let unreadable = false;
  for (const pid of pids) {
    const c = chargeOf(pid);
    if (c === null) continue;
    yield* fdObjectPartsOffLoop(owner, c.task, ["epoll-unread"], (_kind, _value, fd) => void held.push({ pid: c.task, fd }), () => void (unreadable = true));
    if (unreadable) return undefined;
  }
  const instances = (yield* oneEach(held)) ?? held;
  let total = 0;
  for (const h of instances) {
    total += (yield* epollWatchesOffLoop(owner, h.pid, h.fd)) ?? 0;
    if (total >= budget) break;
  }
  return total;
}

export function epollHandlers({ budget, explicit, traced }: { budget: number; explicit: boolean; traced: boolean }, ctx: SupervisorContext): HandlerTable {
  const credit = ctx.epollCredit;
  const owner = {}; // this sandbox's turn on Node's pool (fd-objects.ts offLoop)
  // The watches the sandbox may hold: the last count's, plus every add let through since.
  let count = 0;

  const settle = (): void => {
    if (credit !== undefined) count += credit.take().length;
  };
  const grant = (): void => {
    if (credit !== undefined && !counts.running) credit.grant(Math.min(CREDIT_MAX, Math.max(0, budget - count)));
  };
  const decide = (): Action | undefined => {
    settle();
    if (count >= budget) return undefined;
    count++;
    grant();
    return CONTINUE;
  };
  const why = (e: unknown): void => ctx.observe({ kind: "refused", syscall: "epoll_ctl", errno: ENOSPC, target: "count", why: `the sandbox's epoll watches could not be counted: ${(e as Error)?.message ?? String(e)}` });
  const counted = (total: number | undefined): void => {
    // Not counted (the sandbox kept forking, hid a table, could not be frozen): the
    // budget stands as reached.
    count = total ?? budget;
    grant();
  };
  // settle as a count starts: the credit ends there, no add goes on until the count is done.
  const counts = new StillCount(ctx, traced, (pids) => countFrozen(owner, pids, budget), why, counted, settle);
  const refuse = (n: Notification): Action => {
    ctx.observe({ kind: "refused", syscall: "epoll_ctl", errno: ENOSPC, target: `descriptor ${n.argU32(2)}`, why: explicit ? `the sandbox holds its maxEpollWatches (${budget})` : `the sandbox holds its epoll watch budget (${budget}, a quarter of fs.epoll.max_user_watches: the uid's other processes keep the rest)` });
    return deny(ENOSPC);
  };
  const atBudget = async (n: Notification): Promise<Action> => {
    if (!counts.due) return refuse(n);
    // Held until the count ends; a freeze (this count's, a checkpoint's) that interrupts
    // the caller has it enter the call again once let go.
    if (await counts.park(n)) return deny(ERESTARTNOINTR);
    return decide() ?? refuse(n);
  };
  // The first adds of a sandbox are decided here, and grant the first credit.
  return { epoll_ctl: (n) => decide() ?? atBudget(n) };
}
