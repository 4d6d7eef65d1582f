// The content of the /proc files that name host processes, as served to one sandbox:
// filtered copies of /proc/locks and /proc/sysvipc/*, with the lines of its own processes.

import { readFileSync } from "node:fs";
import { processTree } from "../members.js";
import { filterLocks, filterSysvipc } from "../proc-host.js";

/** How old a pass over /proc the member list may be (as the socket tables, proc-net.ts):
 * a process forked since is missed (its lines hidden: closed, not open). */
const TREE_AGE_MS = 100;

export type HostFileKind = "locks" | "sysvipc";

/**
 * /proc/locks lists every file lock of the host with its owner's pid and the file's device
 * and inode, /proc/sysvipc/* every SysV object with its creator's and last user's pids
 * (second review of issue 9). `path`: the real file under the supervisor's own procfs mount.
 */
export function hostFileContent(kind: HostFileKind, path: string, launcherPid: number): string {
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch {
    text = "";
  }
  const own = new Set(processTree(launcherPid, true, TREE_AGE_MS).keys());
  return kind === "locks" ? filterLocks(text, own) : filterSysvipc(text, own);
}
