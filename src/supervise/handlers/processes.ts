// maxProcesses: the peak number of concurrent processes in the sandbox. clone (without
// CLONE_THREAD), fork and vfork are counted here; threads are not processes (threads.ts
// caps them apart). Beyond the limit the call fails with EAGAIN, as fork does at RLIMIT_NPROC.

import { readFileSync } from "node:fs";
import { CONTINUE, deny, type Action } from "../action.js";
import { forkHeld, type HandlerTable, type SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { CLONE_THREAD } from "../../plan/seccomp.js";

const EAGAIN = 11;
/** Kernel-internal: "restart this call", handled on the way back to user space. */
const ERESTARTNOINTR = 513;

/** Whether thread tid is still inside syscall nr (the fork we let it make). */
export function stillInSyscall(tid: number, nr: number): boolean {
  try {
    return readFileSync(`/proc/${tid}/syscall`, "latin1").split(" ", 1)[0] === String(nr);
  } catch {
    return false; // gone
  }
}

/**
 * Counting: an allowed fork adds one at once (JavaScript answers one notification at a
 * time, so concurrent forks cannot both take the last slot). Exits are not seen one by
 * one; instead, when the count reaches the limit, the launcher counts the live processes
 * from /proc, plus the forks we allowed whose caller is still inside the call (the child
 * may not exist yet), and only then is a fork refused. A reaped process therefore frees
 * its slot at the latest when the slot is needed. A caller blocked in vfork while its
 * child runs is counted twice; the error is on the strict side, by one.
 */
export function processHandlers(max: number, ctx: SupervisorContext): HandlerTable {
  let count = 1; // the root process
  const allowed = new Map<number, number>(); // thread id -> the fork syscall it was let into
  let recount: Promise<void> | undefined;

  const allow = (n: Notification): Action => {
    count++;
    allowed.set(n.pid, n.nr);
    return CONTINUE;
  };

  const refresh = (): Promise<void> =>
    (recount ??= ctx
      .countProcesses()
      .then((live) => {
        for (const [tid, nr] of allowed) if (!stillInSyscall(tid, nr)) allowed.delete(tid);
        count = live + allowed.size;
      })
      .finally(() => {
        recount = undefined;
      }));

  const onFork = (n: Notification): Action | Promise<Action> => {
    // A checkpoint is freezing the sandbox: no process may appear until it thaws. Once the
    // freeze has interrupted the caller, ERESTARTNOINTR makes the kernel re-enter its fork
    // after the thaw (see ForkHold); it is never returned to the process.
    const held = forkHeld(ctx.launcherPid, n.pid);
    if (held !== undefined) return held.then((restart) => (restart ? deny(ERESTARTNOINTR) : onFork(n)));
    if (count < max) return allow(n);
    return refresh().then(() => (count < max ? allow(n) : deny(EAGAIN)));
  };

  // A thread clone reaches here too when threads are capped (threads.ts): not a process.
  const clone = (n: Notification): Action | Promise<Action> | undefined => ((n.argU32(0) & CLONE_THREAD) !== 0 ? undefined : onFork(n));
  return { clone, fork: onFork, vfork: onFork };
}
