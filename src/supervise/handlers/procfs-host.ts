// The content of the /proc files that name host processes, as served to one sandbox:
// filtered copies of /proc/locks and /proc/sysvipc/*, with the lines of its own processes.

import { readProcHead } from "../../kernel/proc-text.js";
import { processTree } from "../members.js";
import { filterLocks, filterSysvipc } from "../proc-host.js";
import { sysvObjectsOf, type SysvKind } from "./sysv.js";

/** How old a pass over /proc the member list may be (as the socket tables, proc-net.ts):
 * a process forked since is missed (its lines hidden: closed, not open). */
const TREE_AGE_MS = 100;

export type HostFileKind = "locks" | "sysvipc";

/**
 * How much of the host's file is read: 256 KiB, about 5,000 locks (a host's table holds
 * tens). A sandbox decides how long /proc/locks is (an open file description's lock on
 * every other byte of a file is one line each, no write access needed), and the kernel's
 * own walk of the table grows with the square of its length: read whole, 50,000 lines made
 * each open hold the supervising event loop 0.2 to 0.6 s, and 1,000,000 held it 422 s (the
 * twelfth review), where no timeout could fire. A sandbox's own lines past the bound are
 * not shown.
 */
export const HOST_FILE_MAX = 256 * 1024;

/**
 * /proc/locks lists every file lock of the host with its owner's pid and the file's device
 * and inode, /proc/sysvipc/* every SysV object with its creator's and last user's pids
 * (second review of issue 9). `path`: the real file under the supervisor's own procfs mount.
 */
export function hostFileContent(kind: HostFileKind, path: string, launcherPid: number): string {
  let text: string;
  try {
    const { data, more } = readProcHead(path, HOST_FILE_MAX);
    // (cut at the last whole line)
    text = data.toString("latin1", 0, more ? data.lastIndexOf(10) + 1 : data.length);
  } catch {
    text = "";
  }
  const own = new Set(processTree(launcherPid, true, TREE_AGE_MS).keys());
  if (kind === "locks") return filterLocks(text, own);
  const which = path.slice(path.lastIndexOf("/") + 1) as SysvKind;
  return filterSysvipc(text, own, new Set(sysvObjectsOf(launcherPid)?.made[which]?.keys()));
}
