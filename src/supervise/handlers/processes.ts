// maxProcesses: the peak number of concurrent processes in the sandbox. clone (without
// CLONE_THREAD), fork and vfork are counted here; threads are not processes (threads.ts
// caps them apart). Beyond the limit the call fails with EAGAIN, as fork does at RLIMIT_NPROC.

import { CONTINUE, deny, type Action } from "../action.js";
import { forkHeld, type HandlerTable, type SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { CLONE_THREAD } from "../../plan/seccomp.js";
import { readProcText } from "../../kernel/proc-text.js";

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
 * Counting: an allowed fork adds one at once (JavaScript answers one notification at a
 * time, so concurrent forks cannot both take the last slot). Exits are not seen one by
 * one; instead, when the count reaches the limit, the launcher counts the live processes
 * from /proc, plus the forks we allowed whose caller may still be inside the call when the
 * count starts (the child may not exist yet), and only then is a fork refused. A reaped process therefore frees
 * its slot at the latest when the slot is needed. A caller blocked in vfork while its
 * child runs is counted twice; the error is on the strict side, by one.
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
    limit = Math.min(limit, n);
  };
  const allowed = new Map<number, number>(); // thread id -> the fork syscall it was let into
  let recount: Promise<void> | undefined;

  const allow = (n: Notification): Action => {
    count++;
    allowed.set(n.pid, n.nr);
    return CONTINUE;
  };

  // The forks still under way are looked at before the launcher counts, not after: one
  // that completes during the count may have made its child after the launcher looked, and
  // its caller, out of the call by then, would be counted nowhere. (No fork is allowed
  // while a count runs: each one waits for it, the count being at the limit.)
  const refresh = (): Promise<void> =>
    (recount ??= (() => {
      for (const [tid, nr] of allowed) if (!stillInSyscall(tid, nr)) allowed.delete(tid);
      return ctx.countProcesses().then((live) => {
        count = live + allowed.size;
      });
    })().finally(() => {
      recount = undefined;
    }));

  const onFork = (n: Notification): Action | Promise<Action> => {
    // A checkpoint is freezing the sandbox: no process may appear until it thaws. Once the
    // freeze has interrupted the caller, ERESTARTNOINTR makes the kernel re-enter its fork
    // after the thaw (see ForkHold); it is never returned to the process.
    const held = forkHeld(ctx.launcherPid, n.pid);
    if (held !== undefined) return held.then((restart) => (restart ? deny(ERESTARTNOINTR) : onFork(n)));
    if (count < limit) return allow(n);
    return refresh().then(() => (count < limit ? allow(n) : deny(EAGAIN)));
  };

  // A thread clone reaches here too when threads are capped (threads.ts): not a process.
  const clone = (n: Notification): Action | Promise<Action> | undefined => ((n.argU32(0) & CLONE_THREAD) !== 0 ? undefined : onFork(n));
  return { clone, fork: onFork, vfork: onFork };
}
