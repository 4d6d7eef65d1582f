// Calls aimed at another process that Landlock cannot see (prlimit64, priorities,
// scheduling, I/O priority, pidfd_open, joining a process group): allowed on the sandbox's
// own processes, EPERM on anything else, the launcher and the supervisor included.

import { readdirSync, readFileSync } from "node:fs";
import { IOPRIO_WHO, PID_FIRST, PRIO } from "../../plan/seccomp-reach.js";
import { deny, type Action } from "../action.js";
import type { Handler, HandlerTable, SupervisorContext } from "../handler.js";
import { Members } from "../members.js";
import type { Notification } from "../notification.js";

const EPERM = 1;

interface StatIds {
  ppid: number;
  pgrp: number;
}

/** A process's (or thread's) parent and process group, read now; undefined once it is gone. */
function statIds(pid: number): StatIds | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(rest[1]);
    const pgrp = Number(rest[2]);
    return Number.isInteger(ppid) && Number.isInteger(pgrp) ? { ppid, pgrp } : undefined;
  } catch {
    return undefined;
  }
}

/** The thread group (process) of thread tid, or undefined once it is gone. */
function tgidOf(tid: number): number | undefined {
  try {
    const m = /^Tgid:\s*(\d+)$/m.exec(readFileSync(`/proc/${tid}/status`, "latin1"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Every process whose process group is pgid, from one pass over /proc. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    const first = name.charCodeAt(0);
    if (first < 49 || first > 57) continue;
    const ids = statIds(Number(name));
    if (ids?.pgrp === pgid) out.push(Number(name));
  }
  return out;
}

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
export function reachHandlers(ctx: SupervisorContext): HandlerTable {
  const members = new Members(ctx.launcherPid);

  /** Whether pid (a process or a thread) belongs to the sandbox: its parent, read now, is
   * the launcher or descends from it (the launcher itself does not belong). */
  const ours = (pid: number): boolean => {
    if (pid === ctx.launcherPid) return false;
    const ids = statIds(pid);
    return ids !== undefined && members.hasParent(ids.ppid);
  };

  /** A pid argument: 0 is the caller, negative values the kernel refuses on its own. */
  const pidTarget = (pid: number): Action | undefined => {
    if (pid <= 0 || ours(pid)) return undefined; // allowed: other concerns may still answer
    return deny(EPERM);
  };

  /** A process group: allowed only when every process in it is the sandbox's. An empty
   * group is refused as the kernel would refuse it (ESRCH/EPERM), so nothing can be
   * created under that number between the check and the call. */
  const groupTarget = (pgid: number): Action | undefined => {
    if (pgid < 0) return undefined;
    const inGroup = groupMembers(pgid);
    if (inGroup.length > 0 && inGroup.every(ours)) return undefined;
    return deny(EPERM);
  };

  /** The caller's own process group (`who` 0 with a group `which`). */
  const callerGroup = (n: Notification): number => statIds(n.pid)?.pgrp ?? -1;

  const whichWho = (w: { PROCESS: number; PGRP: number; USER: number }): Handler => (n) => {
    const which = n.argI32(0);
    const who = n.argI32(1);
    if (which === w.PROCESS) return pidTarget(who);
    if (which === w.PGRP) {
      const pgid = who === 0 ? callerGroup(n) : who;
      return pgid === -1 ? deny(EPERM) : groupTarget(pgid);
    }
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
      return groupTarget(pgid);
    },
  };
  for (const name of PID_FIRST) table[name] = (n) => pidTarget(n.argI32(0));
  return table;
}
