// The content of the /proc files that name host processes, as served to one sandbox:
// filtered copies of /proc/locks and /proc/sysvipc/*, and /proc/loadavg, /proc/stat and
// ns_last_pid telling the sandbox's newest pid and a fork count frozen at its start.

import { readFileSync } from "node:fs";
import { processTree } from "../members.js";
import { filterLocks, filterSysvipc, loadavgText, statText } from "../proc-host.js";

/** How old a pass over /proc the member list may be (as the socket tables, proc-net.ts):
 * a process forked since is missed (its lines hidden: closed, not open). */
const TREE_AGE_MS = 100;

export type HostFileKind = "locks" | "sysvipc" | "loadavg" | "last-pid" | "stat";

function members(launcherPid: number): Set<number> {
  return new Set(processTree(launcherPid, true, TREE_AGE_MS).keys());
}

/** The member started last (start time, field 22 of stat; then the larger pid). */
function newestMember(launcherPid: number, caller: number): number {
  let best = caller;
  let bestStart = -1;
  for (const pid of processTree(launcherPid, false, TREE_AGE_MS).keys()) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    } catch {
      continue; // exited meanwhile
    }
    const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    if (start > bestStart || (start === bestStart && pid > best)) {
      best = pid;
      bestStart = start;
    }
  }
  return best;
}

/**
 * One sandbox's host files. Why each: /proc/locks lists every file lock of the host with
 * its owner's pid and the file's device and inode, /proc/sysvipc/* every SysV object with
 * its creator's and last user's pids (second review of issue 9). loadavg's last field and
 * ns_last_pid are the pid the host handed out last, and /proc/stat's "processes" the
 * host's fork count: read in a loop, they tell when and how often any process of the host
 * is started, without the sandbox spending a process of its own. The sandbox's own forks
 * still show it the pid counter (one reading per fork, each counted by maxProcesses).
 */
export class HostFiles {
  /** The host's fork count when the sandbox started: the one reading a first fork gives. */
  private readonly forks: number;

  constructor(private readonly launcherPid: number) {
    const m = /^processes (\d+)$/m.exec(readText("/proc/stat"));
    this.forks = m ? Number(m[1]) : 0;
  }

  /** `path`: the real file under the supervisor's own procfs mount; `caller`: its tid. */
  content(kind: HostFileKind, path: string, caller: number): string {
    switch (kind) {
      case "locks":
        return filterLocks(readText(path), members(this.launcherPid));
      case "sysvipc":
        return filterSysvipc(readText(path), members(this.launcherPid));
      case "loadavg":
        return loadavgText(readText(path), newestMember(this.launcherPid, caller));
      case "last-pid":
        return `${newestMember(this.launcherPid, caller)}\n`;
      case "stat":
        return statText(readText(path), this.forks);
    }
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return "";
  }
}
