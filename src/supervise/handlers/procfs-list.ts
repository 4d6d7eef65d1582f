// Listing /proc (SPEC 4.4): getdents on a procfs root is performed by the supervisor on a
// duplicate of the caller's descriptor, and the names of processes outside the sandbox
// are dropped before the entries reach the caller's buffer.

import { closeSync, fstatSync, statSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import { filterDirents } from "../dirents.js";
import type { Handler, SupervisorContext } from "../handler.js";
import type { Members } from "../members.js";
import type { Notification } from "../notification.js";
import { readlinkPath } from "../paths.js";

const EFAULT = 14;
const NUMERIC = /^[0-9]+$/;
/** Our read size: the caller's count, capped (a smaller read only returns fewer entries). */
const MAX_READ = 1 << 16;

export function procfsListHandler(mounts: readonly string[], ctx: SupervisorContext, members: Members, legacy: boolean): Handler {
  const roots = new Map<string, { dev: number; ino: number }>();
  const rootOf = (m: string): { dev: number; ino: number } | undefined => {
    if (!roots.has(m)) {
      try {
        const st = statSync(m);
        roots.set(m, { dev: st.dev, ino: st.ino });
      } catch {
        return undefined;
      }
    }
    return roots.get(m);
  };
  return (n) => {
    const fd = n.argI32(0);
    const link = readlinkPath(`/proc/${n.pid}/fd/${fd}`);
    // Any other directory lists as the kernel lists it. This look at the descriptor races
    // with the caller's other threads (dup2 of a /proc fd onto this number right after):
    // what that can reveal is the pid numbers in use, which stat(2) on /proc/<pid> shows
    // anyway; no file of another process becomes readable (Landlock).
    if (link === null || !mounts.includes(link)) return undefined;
    const dup = native().threadGetfd(n.pid, fd);
    if (dup < 0) return undefined;
    try {
      // Decide on the duplicate, not on the number: it is what we read from.
      const st = fstatSync(dup);
      const root = rootOf(link);
      if (root === undefined || st.dev !== root.dev || st.ino !== root.ino) return undefined;
      return listFiltered(n, dup, ctx, members, legacy);
    } finally {
      closeSync(dup);
    }
  };
}

const SEEK_SET = 0;
const SEEK_CUR = 1;

function listFiltered(n: Notification, dup: number, ctx: SupervisorContext, members: Members, legacy: boolean): Action {
  const nat = native();
  const count = n.argU32(2);
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(count, MAX_READ)));
  const keep = (name: string): boolean => !NUMERIC.test(name) || members.has(Number(name));
  // The duplicate shares the caller's directory offset: what we read is consumed for it
  // too. So the offset is saved first and put back when the caller does not receive the
  // entries (its buffer is not writable, or it is gone): otherwise a failed call would
  // silently skip them, and after a failure at the end of a batch every later read would
  // report an empty directory.
  const start = nat.lseek(dup, 0n, SEEK_CUR);
  if (start < 0n) return deny(Number(-start));
  const undo = (errno: number): Action => {
    nat.lseek(dup, start, SEEK_SET);
    return deny(errno);
  };
  // A batch with nothing left after filtering is not an end of directory: read on.
  for (;;) {
    const got = nat.getdents(dup, buf, legacy ? 1 : 0);
    if (got < 0) return undo(-got);
    if (got === 0) return returnValue(0);
    const kept = filterDirents(buf.subarray(0, got), legacy, keep);
    if (kept.length === 0) continue;
    // Written only into the buffer the call handed over, after confirming the thread is
    // still the one blocked in it.
    if (!ctx.memory.stillValid(n) || !ctx.memory.write(n, n.argAddr(1), kept)) return undo(EFAULT);
    return returnValue(kept.length);
  }
}
