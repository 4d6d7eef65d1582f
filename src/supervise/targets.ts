// Whether a call's target (a process, a thread, a process group) belongs to the sandbox:
// read fresh from /proc for every call, never cached for the target itself. The
// supervisor's answer to such a call rests on registers only; see handlers/reach.ts for
// why CONTINUE is then right and what it leaves.

import { readdirSync } from "node:fs";
import { deny, type Action } from "./action.js";
import { Members, statFields } from "./members.js";
import type { Notification } from "./notification.js";
import { readProcText } from "../kernel/proc-text.js";

const EPERM = 1;

interface StatIds {
  ppid: number;
  pgrp: number;
}

/** A process's (or thread's) parent and process group, read now; undefined once it is gone. */
function statIds(pid: number): StatIds | undefined {
  try {
    const stat = readProcText(`/proc/${pid}/stat`);
    const rest = statFields(stat);
    const ppid = Number(rest[1]);
    const pgrp = Number(rest[2]);
    return Number.isInteger(ppid) && Number.isInteger(pgrp) ? { ppid, pgrp } : undefined;
  } catch {
    return undefined;
  }
}

/** The thread group (process) of thread tid, or undefined once it is gone. */
export function tgidOf(tid: number): number | undefined {
  try {
    const m = /^Tgid:\s*(\d+)$/m.exec(readProcText(`/proc/${tid}/status`));
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

export class Targets {
  private readonly members: Members;

  constructor(private readonly launcherPid: number) {
    this.members = new Members(launcherPid);
  }

  /** Whether pid (a process or a thread) belongs to the sandbox: its parent, read now, is
   * the launcher or descends from it. The launcher itself does not belong. Ancestors'
   * answers may come from the 100 ms cache: a live parent never leaves the tree. */
  ours(pid: number): boolean {
    if (pid === this.launcherPid) return false;
    const ids = statIds(pid);
    return ids !== undefined && this.members.hasParent(ids.ppid);
  }

  /** A pid argument: undefined (allowed) for the sandbox's own processes, 0 (the caller)
   * and negative values (the kernel refuses those on its own); EPERM for anything else. */
  pid(pid: number): Action | undefined {
    if (pid <= 0 || this.ours(pid)) return undefined;
    return deny(EPERM);
  }

  /** A process group: allowed only when every process in it is the sandbox's. An empty
   * group is refused as the kernel would refuse it, so nothing can be created under that
   * number between the check and the call. */
  group(pgid: number): Action | undefined {
    if (pgid < 0) return undefined;
    const inGroup = groupMembers(pgid);
    if (inGroup.length > 0 && inGroup.every((p) => this.ours(p))) return undefined;
    return deny(EPERM);
  }

  /** The caller's own process group (for `who` or pid 0 with a group meaning). */
  callerGroup(n: Notification): Action | undefined {
    const pgrp = statIds(n.pid)?.pgrp;
    return pgrp === undefined ? deny(EPERM) : this.group(pgrp);
  }
}
