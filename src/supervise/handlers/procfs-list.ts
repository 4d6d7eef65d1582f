// Listing directories while /proc is reachable (SPEC 4.4): getdents is performed by the
// supervisor on a duplicate of the caller's descriptor, and on a procfs root the names of
// processes outside the sandbox are dropped before the entries reach the caller's buffer,
// in /proc/sys/net/*/{conf,neigh} the interfaces it may not see (issue 9).

import { closeSync, fstatSync, readlinkSync, statSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import { filterDirents } from "../dirents.js";
import type { Handler, SupervisorContext } from "../handler.js";
import type { Members } from "../members.js";
import type { Notification } from "../notification.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { visibleInterfaces } from "../interface-view.js";
import { within } from "../../plan/proc-grants.js";
import { sysctlEntryShown, sysctlInterfaceEntry } from "../proc-net.js";

const EFAULT = 14;
const NUMERIC = /^[0-9]+$/;
/** Our read size: the caller's count, capped (a smaller read only returns fewer entries). */
const MAX_READ = 1 << 16;

export function procfsListHandler(mounts: readonly string[], interfaces: InterfaceScope, ctx: SupervisorContext, members: Members, legacy: boolean): Handler {
  let roots: { mount: string; dev: number; ino: number }[] | undefined;
  /** The procfs mount whose superblock holds (dev), and whether ino is its root. */
  const procfsOf = (dev: number, ino: number): { mount: string; root: boolean } | undefined => {
    roots ??= mounts.flatMap((mount) => {
      try {
        const st = statSync(mount);
        return [{ mount, dev: st.dev, ino: st.ino }];
      } catch {
        return [];
      }
    });
    const r = roots.find((x) => x.dev === dev);
    return r === undefined ? undefined : { mount: r.mount, root: r.ino === ino };
  };
  const keepPid = (name: string): boolean => !NUMERIC.test(name) || members.has(Number(name));
  /** What to drop from a listing of the duplicate's directory; undefined: nothing. */
  const filterFor = (dup: number): ((name: string) => boolean) | undefined => {
    const st = fstatSync(dup);
    const procfs = procfsOf(st.dev, st.ino);
    if (procfs === undefined) return undefined;
    if (procfs.root) return keepPid;
    // Our own descriptor's path: what we read is this directory, whatever the caller's
    // number names by now.
    let path: string;
    try {
      path = readlinkSync(`/proc/self/fd/${dup}`);
    } catch {
      return undefined;
    }
    if (!within(path, procfs.mount) || path === procfs.mount) return undefined;
    if (sysctlInterfaceEntry(path.slice(procfs.mount.length + 1).split("/")) !== "") return undefined;
    const visible = visibleInterfaces(interfaces).names;
    return (name) => sysctlEntryShown(name, visible);
  };
  return (n) => {
    // Every listing is performed here, on the duplicate, whatever the descriptor names: a
    // decision "not /proc, continue" would rest on what the number refers to, and another
    // thread could dup2 a /proc descriptor onto it before the kernel looks it up again,
    // which would list every pid of the host. The duplicate is what we decide on and read.
    const dup = native().threadGetfd(n.pid, n.argI32(0));
    if (dup < 0) return deny(-dup); // EBADF for a bad descriptor, as the kernel answers
    try {
      return list(n, dup, ctx, filterFor(dup), legacy);
    } finally {
      closeSync(dup);
    }
  };
}

const SEEK_SET = 0;
const SEEK_CUR = 1;

/** getdents on dup into the caller's buffer; with `keep`, only the entries it keeps. */
function list(n: Notification, dup: number, ctx: SupervisorContext, keep: ((name: string) => boolean) | undefined, legacy: boolean): Action {
  const nat = native();
  const count = n.argU32(2);
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(count, MAX_READ)));
  // The duplicate shares the caller's directory offset: what we read is consumed for it
  // too. So the offset is saved first and put back when the caller does not receive the
  // entries (its buffer is not writable, or it is gone): otherwise a failed call would
  // silently skip them, and after a failure at the end of a batch every later read would
  // report an empty directory.
  // (A descriptor that cannot seek is no directory: getdents fails on it with ENOTDIR
  // before consuming anything, as the kernel's own would.)
  const start = nat.lseek(dup, 0n, SEEK_CUR);
  const undo = (errno: number): Action => {
    if (start >= 0n) nat.lseek(dup, start, SEEK_SET);
    return deny(errno);
  };
  // A batch with nothing left after filtering is not an end of directory: read on.
  for (;;) {
    const got = nat.getdents(dup, buf, legacy ? 1 : 0);
    if (got < 0) return undo(-got);
    if (got === 0) return returnValue(0);
    const kept = keep === undefined ? buf.subarray(0, got) : filterDirents(buf.subarray(0, got), legacy, keep);
    if (kept.length === 0) continue;
    // Written only into the buffer the call handed over, after confirming the thread is
    // still the one blocked in it.
    if (!ctx.memory.stillValid(n) || !ctx.memory.write(n, n.argAddr(1), kept)) return undo(EFAULT);
    return returnValue(kept.length);
  }
}
