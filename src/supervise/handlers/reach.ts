// Calls aimed at another process that Landlock cannot see (prlimit64, priorities,
// scheduling, I/O priority, pidfd_open, joining a process group, capget): allowed on the
// sandbox's own processes, EPERM on anything else, the launcher and the supervisor included.

import { IOPRIO_WHO, PID_FIRST, PRIO } from "../../plan/seccomp-reach.js";
import { deny } from "../action.js";
import type { Handler, HandlerTable, SupervisorContext } from "../handler.js";
import { Members } from "../members.js";
import { Targets, tgidOf } from "../targets.js";
import { affinityHandler, type AffinitySpec } from "./affinity.js";
import { capgetHandler } from "./capget.js";

const EPERM = 1;

/*
 * Why answering CONTINUE is right here, and what it leaves. Every decision below rests on
 * registers only (the syscall number, `which`, a pid or group id): the caller cannot change
 * them, so the kernel acts on the very number that was checked. Performing the call on the
 * caller's behalf would be worse: the supervisor's own credentials (CAP_SYS_NICE,
 * CAP_SYS_RESOURCE when it runs as root) would apply instead of the sandbox's.
 * What a number refers to can change in one way: the checked process dies, is reaped, and
 * its pid goes to a new process before the kernel looks it up. Pids are handed out
 * cyclically (pid_max is 32768 here), and the sandbox cannot pick the next one: writing
 * ns_last_pid and clone3's set_tid need CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE, which it
 * lacks (and clone3 is ENOSYS in the filter). To aim a call at an outside process it would
 * have to walk the whole pid space with trapped forks until the counter sits just below
 * the target's pid, kill and reap the target inside the few microseconds between this
 * check and the kernel's lookup, and have some process outside the sandbox be created in
 * that same window; it chooses neither that process nor its timing, and every attempt
 * costs another walk of the pid space. The target's parent is read fresh from /proc for
 * every call (never cached), so the window is this handler's run and the wake-up only.
 */
export function reachHandlers(ctx: SupervisorContext, affinity?: AffinitySpec): HandlerTable {
  const targets = new Targets(ctx.launcherPid);

  const whichWho = (w: { PROCESS: number; PGRP: number; USER: number }): Handler => (n) => {
    const which = n.argI32(0);
    const who = n.argI32(1);
    if (which === w.PROCESS) return targets.pid(who);
    if (which === w.PGRP) return who === 0 ? targets.callerGroup(n) : targets.group(who);
    if (which === w.USER) return deny(EPERM); // the user's processes include the supervisor
    return undefined; // EINVAL from the kernel
  };

  const table: Record<string, Handler> = {
    setpriority: whichWho(PRIO),
    getpriority: whichWho(PRIO),
    ioprio_set: whichWho(IOPRIO_WHO),
    ioprio_get: whichWho(IOPRIO_WHO),
    // setpgid(pid, pgid): the kernel lets the caller move only itself or a child of its own
    // (both in the sandbox) and only into a group of its session, which is the supervising
    // process's session. Leading a new group is harmless; joining one is allowed when the
    // group is the sandbox's alone, so a sandbox process never joins the supervisor's or
    // the terminal's group (where group signals, the terminal's foreground and PRIO_PGRP
    // would mix it with outside processes). An outside process could still join one of
    // the sandbox's groups of its own accord: that is the outside's choice, not a reach.
    setpgid: (n) => {
      const pgid = n.argI32(1);
      if (pgid <= 0) return undefined;
      const pid = n.argI32(0);
      const target = pid === 0 ? tgidOf(n.pid) : pid;
      if (target === pgid) return undefined;
      return targets.group(pgid);
    },
  };
  for (const name of PID_FIRST) table[name] = (n) => targets.pid(n.argI32(0));
  // cpuCores: every sched_setaffinity is made by the supervisor (its own target check, in
  // either view's pids).
  if (affinity !== undefined) table.sched_setaffinity = affinityHandler(affinity, ctx);
  // Not a register decision: the pid is in memory, so the supervisor performs the call.
  table.capget = capgetHandler(ctx, new Members(ctx.launcherPid));
  return table;
}
