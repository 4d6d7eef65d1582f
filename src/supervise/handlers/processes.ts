// maxProcesses: the peak number of concurrent processes in the sandbox. clone (without
// CLONE_THREAD), fork and vfork are counted here; threads are not processes (threads.ts
// caps them apart). Beyond the limit the call fails with EAGAIN, as fork does at RLIMIT_NPROC.

import { CONTINUE, deny, type Action } from "../action.js";
import { forkHeld, forksHeld, whenForksHeld, type HandlerTable, type ProcsCredit, type SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { CLONE_THREAD } from "../../plan/seccomp.js";
import { readProcText } from "../../kernel/proc-text.js";
import { monotonicMs } from "../../kernel/clock.js";

const EAGAIN = 11;
/** Kernel-internal: "restart this call", handled on the way back to user space. */
const ERESTARTNOINTR = 513;

/**
 * Whether thread tid may still be inside syscall nr (the fork we let it make): blocked in
 * it, or running, which /proc cannot look into ("running"). A fork the supervisor let
 * continue runs in the kernel while it copies the process, and its child may not be in a
 * count taken meanwhile: dropping running callers let a fork bomb under maxProcesses 10
 * reach 11 to 14 processes under load. A running caller that is past its fork is counted
 * once more than needed, at one count: the strict side.
 */
export function stillInSyscall(tid: number, nr: number): boolean {
  try {
    const state = readProcText(`/proc/${tid}/syscall`).trim().split(" ", 1)[0];
    return state === String(nr) || state === "running";
  } catch {
    return false; // gone
  }
}

/**
 * How long a refusal at the limit waits while it rests on callers counted as still in
 * their fork (recounted 1, 2, 4, 8 and 16 ms apart, then refused). /proc says "running"
 * for a runnable caller, in its fork or already past it (a shell preempted between its
 * fork and its wait), and the recount counts it on top of its child: a program forking
 * its last slot got EAGAIN under a limit it fitted in (fork-credit.test; CI, as the test
 * user). A caller back in the kernel (its wait) or out of its fork is told apart at a later
 * recount; one still "running" after the wait (busy in user space past its fork), or truly
 * in its fork (a vfork parent while its child runs), keeps the strict count. The limit is
 * never passed for it: only a recount below the limit lets the fork go.
 */
const RUNNING_SETTLE_MS = 31;

/**
 * The spacing of the launcher's counts at the limit. Each count passes over every process of
 * the host (native/launcher/tree.c: the launcher finds the sandbox's processes by their
 * parents, and this kernel has no children lists), in the launcher's process, outside the
 * sandbox and outside maxCpu; a sandbox forking in a loop at its limit had one made for
 * each refusal: the launcher busy 68% of a core with 76 host processes, 97% with 2,076. A
 * count now starts no sooner than RECOUNT_GAP_RATIO times the last one's duration after it
 * ended (at least RECOUNT_GAP_MIN_MS), so the counts take at most a fifth of a core,
 * whatever the host's size; forks at the limit wait for the next one meanwhile (the limit
 * is as strict as before: only a count decides). A fork meeting the limit after a quiet
 * spell is counted at once.
 */
const RECOUNT_GAP_RATIO = 4;
const RECOUNT_GAP_MIN_MS = 1;

/** Drops from `allowed` (a caller's thread id -> the call it was let into) every caller no
 * longer inside its call: its fork's child, or its thread, exists by now (or has ended). */
export function pruneFinished(allowed: Map<number, number>): void {
  for (const [tid, nr] of allowed) if (!stillInSyscall(tid, nr)) allowed.delete(tid);
}

/** Ends the native credit and lists the calls it let go (native/proccredit.c) in
 * `allowed`, as the ones allowed in TypeScript are; returns how many there were. */
export function takeCredit(credit: ProcsCredit | undefined, allowed: Map<number, number>): number {
  if (credit === undefined) return 0;
  const taken = credit.take();
  for (const [tid, nr] of taken) allowed.set(tid, nr);
  return taken.length;
}

/**
 * Counting: an allowed fork adds one at once (JavaScript answers one notification at a
 * time, so concurrent forks cannot both take the last slot). Exits are not seen one by
 * one; instead, when the count reaches the limit, the launcher counts the processes (a child
 * not yet reaped holds its pid, so it counts: native/launcher/tree.c sl_tree_count)
 * from /proc, plus the forks we allowed whose caller may still be inside the call when the
 * count starts (the child may not exist yet), and only then is a fork refused. A reaped process therefore frees
 * its slot at the latest when the slot is needed. A caller blocked in vfork while its
 * child runs is counted twice; the error is on the strict side, by one.
 *
 * Most forks never come here: after each decision the room left (the limit less the
 * count, at most 256) is granted to the native fast path as a credit (native/proccredit.c),
 * which continues forks within it on the listener's receiving thread and records each
 * one's caller. Every decision here first takes those records, which ends the credit:
 * they are counted and listed as under way exactly as the forks allowed here, so the
 * count a decision reads has every fork in it, whichever side let it go. No credit is
 * granted while a recount runs or while a checkpoint holds the forks (the hold takes the
 * records as it starts).
 */
export function processHandlers(max: number, ctx: SupervisorContext): HandlerTable {
  // The root process. The kernel-native view's init forks the command before the filter
  // (native/launcher/init.c), so the command is this first one there too, and the init is
  // counted nowhere (the launcher's count leaves it out: confine/launcher.ts).
  let count = 1;
  let limit = max;
  // policyFn's ctx.restrictMaxProcesses: later forks see the lower limit; processes
  // already running stay (the count only refuses what comes next).
  ctx.limits.lowerProcesses = (n) => {
    settle();
    limit = Math.min(limit, n);
    grant();
  };
  const allowed = new Map<number, number>(); // thread id -> the fork syscall it was let into
  let recount: Promise<void> | undefined;
  let nextCountAt = 0; // monotonic ms before which no count starts (RECOUNT_GAP_RATIO)
  let made = 0; // forks allowed, by either side

  const allow = (n: Notification): Action => {
    count++;
    made++;
    allowed.set(n.pid, n.nr);
    return CONTINUE;
  };

  // The native credit: take() before any decision (it ends the credit), grant() after.
  const credit = ctx.procsCredit;
  const settle = (): void => {
    const taken = takeCredit(credit, allowed);
    count += taken;
    made += taken;
  };
  const grant = (): void => {
    if (credit === undefined || recount !== undefined || forksHeld(ctx.launcherPid)) return;
    credit.grant(Math.max(0, limit - count));
  };
  if (credit !== undefined) ctx.onClose(whenForksHeld(ctx.launcherPid, settle));
  ctx.limits.forks = () => {
    settle();
    grant();
    // Pruned as a recount would before it counts (a caller out of its fork has its child),
    // but not while one runs: its count adds the entries when the launcher answers.
    let underWay = 0;
    for (const [tid, nr] of allowed) {
      if (stillInSyscall(tid, nr)) underWay++;
      else if (recount === undefined) allowed.delete(tid);
    }
    return { made, underWay };
  };

  // The forks still under way are looked at before the launcher counts, not after: one
  // that completes during the count may have made its child after the launcher looked, and
  // its caller, out of the call by then, would be counted nowhere. (No fork is allowed
  // while a count runs or waits for its turn: each one waits for it, the count being at
  // the limit, and no credit is granted meanwhile.)
  const refresh = (): Promise<void> =>
    (recount ??= (async () => {
      const wait = nextCountAt - monotonicMs();
      if (wait > 0) await new Promise((wake) => setTimeout(wake, wait));
      pruneFinished(allowed);
      const began = monotonicMs();
      const live = await ctx.countProcesses();
      const ended = monotonicMs();
      count = live + allowed.size;
      nextCountAt = ended + Math.max(RECOUNT_GAP_MIN_MS, RECOUNT_GAP_RATIO * (ended - began));
    })().finally(() => {
      recount = undefined;
    }));

  const decide = (n: Notification): Action | undefined => {
    settle();
    // This thread is in this fork, so any fork it was let into before has returned and its
    // child exists: a recount started after this point sees the child, and must not count
    // the caller as a fork under way on top of it (a shell running a program that forks
    // and reaps one child at a time under maxProcesses 3 got EAGAIN at its second fork).
    // Not while a recount runs: its /proc count may have passed before that child existed,
    // and the caller's entry is what counts it (left out then, a fork bomb under
    // maxProcesses 10 reached 11 and 12 processes).
    if (recount === undefined) allowed.delete(n.pid);
    if (count >= limit) return undefined;
    const a = allow(n);
    grant();
    return a;
  };

  const onFork = (n: Notification): Action | Promise<Action> => {
    // A checkpoint is freezing the sandbox: no process may appear until it thaws. Once the
    // freeze has interrupted the caller, ERESTARTNOINTR makes the kernel re-enter its fork
    // after the thaw (see ForkHold); it is never returned to the process.
    const held = forkHeld(ctx.launcherPid, n.pid);
    if (held !== undefined) return held.then((restart) => (restart ? deny(ERESTARTNOINTR) : onFork(n)));
    return decide(n) ?? refresh().then(() => decide(n) ?? settleRunning(n));
  };

  // See RUNNING_SETTLE_MS.
  const settleRunning = async (n: Notification): Promise<Action> => {
    const until = monotonicMs() + RUNNING_SETTLE_MS;
    // After a recount, `allowed` holds only the callers it counted as under way.
    for (let pause = 1; allowed.size > 0; pause *= 2) {
      const left = until - monotonicMs();
      if (left <= 0) break;
      await new Promise((wake) => setTimeout(wake, Math.min(pause, left)));
      // A checkpoint that began to hold the forks meanwhile holds this one too.
      if (forksHeld(ctx.launcherPid)) return onFork(n);
      await refresh();
      const a = decide(n);
      if (a !== undefined) return a;
    }
    return deny(EAGAIN);
  };

  // A thread clone reaches here too when threads are capped (threads.ts): not a process.
  const clone = (n: Notification): Action | Promise<Action> | undefined => ((n.argU32(0) & CLONE_THREAD) !== 0 ? undefined : onFork(n));
  return { clone, fork: onFork, vfork: onFork };
}
