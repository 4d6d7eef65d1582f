// inotify_add_watch under the supervised view. Landlock has no right for a watch (ABI 7): a
// sandbox could watch a directory outside every grant, whose events name each file the host
// makes, opens or removes there (a listing Landlock's READ_DIR refuses), and a file's (when
// the host reads or writes it). The eighteenth review did it on a directory it got EACCES
// for listing. The kernel view's root holds only the grants, but a denied path's parent is
// the host's directory there too: with fsDenied its watches come here as well.
//
// The call is made by the supervisor, race-free as a metadata change is (fs-meta.ts): the
// path is copied once and pinned as the caller's lookup would resolve it (its working
// directory or root, IN_DONT_FOLLOW, its capabilities), the notification re-checked, the
// pinned inode proved beneath a grant (any grant but a directory-only one: a watch reads)
// and not a denied path's parent, and the watch added on a pidfd_getfd duplicate of the
// caller's inotify descriptor, through the pin, with the caller's capabilities (the
// kernel's read-permission check is the caller's). dnotify, which reports the same, is
// refused in the filter (plan/seccomp-setid.ts).

import { closeSync } from "node:fs";
import { dirname } from "node:path";
import { native } from "../../confine/native.js";
import { SYSCALLS } from "../../kernel/syscalls.js";
import type { PathGrant } from "../../plan/landlock.js";
import { deny, returnValue, type Action } from "../action.js";
import { callerRoot, pinCallerPath, pinCallerPathInRoot } from "../caller-path.js";
import { childFd } from "./net-socket.js";
import { fileId, sameInode, WritableGrants, type FileId } from "../grant-proof.js";
import type { SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O } from "../paths.js";
import type { CallerCredentials } from "./fs-meta.js";

const E = { EPERM: 1, EFAULT: 14, EACCES: 13, ENAMETOOLONG: 36 } as const;
const PATH_MAX = 4096;
/** Do not follow a symlink in the last component: the pin is made so; the watch itself is
 * then added through /proc/self/fd/N, a link that must be followed. */
const IN_DONT_FOLLOW = 0x02000000;

/**
 * The directories that hold a denied path (fsDenied), by identity: a watch on one names the
 * denied entry at each open, read and write the host makes of it (the nineteenth review):
 * the cover is a mount in the sandbox's namespace, the events come from the directory's
 * inode, which the host's own lookups share. Read at the start, in the supervisor's own
 * namespace (the host's directory, the one that reports).
 */
function deniedParents(denied: readonly string[]): FileId[] {
  const out: FileId[] = [];
  for (const path of denied) {
    const parent = dirname(path);
    const fd = native().openat2(AT_FDCWD, parent, O.PATH | O.CLOEXEC, 0, 0);
    if (fd < 0) continue; // gone: nothing there to report
    try {
      const st = fileId(fd);
      if (typeof st !== "number") out.push(st);
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

export function watchHandler(grants: readonly PathGrant[], denied: readonly string[], creds: CallerCredentials, ctx: SupervisorContext, ownMounts: boolean): (n: Notification) => Action {
  // Every grant, readable or writable, opened at the start as Landlock bound its rules then,
  // but a directory-only one: the right to list a split directory (/, /proc, /dev, /dev/pts)
  // is not a right to its entries' events, which named the host's pids (a host opening
  // /proc/<pid>), devices and terminals (the nineteenth review).
  const readable = new WritableGrants(grants.filter((g) => g.dirOnly !== true), (fn) => ctx.onClose(fn), true);
  const withheld = deniedParents(denied);
  return (n) => {
    const mask = n.argU32(2);
    const path = ctx.memory.readCString(n, n.argAddr(1), PATH_MAX - 1);
    if (path === "fault") return deny(E.EFAULT);
    if (path === "long") return deny(E.ENAMETOOLONG);
    const caps = creds.forCall(n);
    if (caps === null) return deny(E.EPERM);
    const root = ownMounts ? callerRoot(n.pid) : undefined;
    if (root !== undefined && root < 0) return deny(E.EPERM); // the caller is gone
    const arg = { dirfd: AT_FDCWD, path, follow: (mask & IN_DONT_FOLLOW) === 0, emptyPath: false };
    const pin = root !== undefined ? pinCallerPathInRoot(n, arg, caps, root) : pinCallerPath(n, arg, caps);
    try {
      if (pin < 0) return deny(-pin);
      const inotify = childFd(n.pid, n.argI32(0));
      if (inotify < 0) return deny(-inotify);
      try {
        // The pin and the duplicate are the blocked caller's.
        if (!ctx.memory.stillValid(n)) return deny(E.EPERM);
        const st = fileId(pin);
        if (typeof st === "number") return deny(-st);
        // What Landlock answers for a read outside the grants.
        if (!readable.contains(pin, st, root)) return deny(E.EACCES);
        if (withheld.some((d) => sameInode(d, st))) return deny(E.EACCES);
        const via = Buffer.from(`/proc/self/fd/${pin}\0`);
        const wd = native().syscallAs(SYSCALLS.inotify_add_watch!, caps, inotify, via, mask & ~IN_DONT_FOLLOW);
        return wd < 0 ? deny(-wd) : returnValue(wd);
      } finally {
        closeSync(inotify);
      }
    } finally {
      if (pin >= 0) closeSync(pin);
      if (root !== undefined) closeSync(root);
    }
  };
}
