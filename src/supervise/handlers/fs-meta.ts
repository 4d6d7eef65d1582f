// File metadata (mode, owner, extended attributes, times, inode flags) beneath the
// writable grants only: Landlock has no right for it, so every such call is performed by
// the supervisor on a pinned inode it proved to be beneath a writable grant, or refused.

import { InotifyBroker } from "./inotify-init.js";
import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { SYSCALLS } from "../../kernel/syscalls.js";
import { INODE_IOCTLS, META_SYSCALLS, type MetaSupervision } from "../../plan/seccomp-meta.js";
import { deny, returnValue, type Action } from "../action.js";
import { callerRoot, pinCallerPath, pinCallerPathInRoot } from "../caller-path.js";
import { descriptorPath, fileId, isType, S_IF, WritableGrants, type FileId } from "../grant-proof.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { callerStatus, readSmall } from "../paths.js";
import { DECODERS, E, type Change, type MetaRequest } from "./fs-meta-decode.js";
import { childFd } from "./net-socket.js";
import { watchHandler } from "./watches.js";
import { parseStatus } from "./procfs-open.js";
import { protectedAt } from "../../policy/protected.js";

const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const EMPTY = Buffer.from([0]);
const NR = SYSCALLS as Readonly<Record<string, number>>;

let memfdDev: bigint | undefined;
/** The device of the kernel's internal tmpfs, where every memfd lives. */
function memfdDevice(): bigint {
  if (memfdDev === undefined) {
    const fd = native().memfdReadonly("sandlock-dev", Buffer.alloc(0));
    const id = fileId(fd);
    closeSync(fd);
    if (typeof id === "number") throw new Error(`fstat(memfd): errno ${-id}`);
    memfdDev = id.dev;
  }
  return memfdDev;
}

/**
 * Objects no path names: the sandbox's pipes and sockets (the kernel names them
 * "pipe:[N]", "socket:[N]", which no real path can be) and memfds (on the kernel's
 * internal tmpfs). Their metadata concerns nobody else: allowed wherever they came from.
 * Other anonymous objects (namespace files, anonymous inodes) are shared with the host and
 * stay refused.
 */
export function privateObject(fd: number, st: FileId): boolean {
  if (st.dev === memfdDevice()) return true;
  const fifo = isType(st, S_IF.FIFO);
  if (!fifo && !isType(st, S_IF.SOCK)) return false;
  const text = descriptorPath(fd)?.toString("latin1") ?? "";
  return fifo ? /^pipe:\[\d+\]$/.test(text) : /^socket:\[\d+\]$/.test(text);
}

/** The Uid, Gid and Groups lines of a status, and whether each id line holds one value
 * (real, effective, saved and filesystem ids alike). */
function identities(status: string | null): { ids: string; uniform: boolean } | null {
  const st = parseStatus(status ?? "");
  if (st === null) return null;
  const one = (key: string): boolean => new Set(new RegExp(`^${key}:(.*)$`, "m").exec(status!)?.[1]?.trim().split(/\s+/)).size === 1;
  return { ids: st.ids, uniform: one("Uid") && one("Gid") };
}

/**
 * The capabilities to act with: the caller's effective set, when its identities (uid,
 * gid, groups) are the supervisor's. The supervisor may run as root with every
 * capability while the caller, root or not, holds none: a change it performs must fail
 * where the caller's own would (CAP_FOWNER, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID,
 * CAP_LINUX_IMMUTABLE, CAP_SYS_ADMIN for trusted.* attributes). null when the identities
 * differ: lowering capabilities would not make the supervisor the caller.
 *
 * Reading the caller's /proc status costs about 7 us, a fifth of a call, so it is read
 * only when it could say something new. Every process of a sandbox holds no capability:
 * the launcher empties every set and reads them back before NO_NEW_PRIVS, after which no
 * execve or call can add one (native/launcher/steps.c). Its identities are its
 * launcher's (never changed); when those hold a single uid and a single gid (real,
 * effective, saved and filesystem alike), a process without CAP_SETUID/CAP_SETGID can
 * change none of them (set*id only moves among the values it holds; setgroups needs
 * CAP_SETGID). So while the supervisor's own identities are still the launcher's, the
 * caller's are too, with an empty effective set. Otherwise (a host that changed its own
 * ids since, or mixed ids) both statuses are read for every call.
 */
export class CallerCredentials {
  /** Settled at the first metadata call, not at start (two /proc reads cost every
   * supervised start about 80 us, and most sandboxes never make such a call). Lazily is as
   * sound: the launcher's identities never change while the sandbox lives, and the
   * supervisor's are compared with the launcher's and then snapshotted at the same moment;
   * a failed read (launcher gone) only means the slow path. */
  private settled: { fast: boolean; euid: number; egid: number; groups: string } | undefined;

  constructor(private readonly launcherPid: number) {}

  private settle(): { fast: boolean; euid: number; egid: number; groups: string } {
    const euid = process.geteuid!();
    const egid = process.getegid!();
    const groups = process.getgroups!().join(",");
    const sandbox = identities(readSmall(`/proc/${this.launcherPid}/status`));
    const self = identities(readSmall("/proc/self/status"));
    return { fast: sandbox !== null && self !== null && sandbox.uniform && sandbox.ids === self.ids, euid, egid, groups };
  }

  forCall(n: Notification): bigint | null {
    const s = (this.settled ??= this.settle());
    if (s.fast && process.geteuid!() === s.euid && process.getegid!() === s.egid && process.getgroups!().join(",") === s.groups) return 0n;
    const caller = parseStatus(callerStatus(n) ?? "");
    const self = identities(readSmall("/proc/self/status"));
    if (caller === null || self === null || caller.ids !== self.ids || caller.capEff < 0n) return null;
    return caller.capEff;
  }
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

/**
 * A mode that would make the file run with its owner's or group's ids: set-user-ID on
 * anything, set-group-ID on anything but a directory (where it only passes the group on to
 * new entries). The kernel lets an owner set them without any capability, so a sandbox run
 * by root (uid 0, no capability) made a copy of a shell set-user-ID root in its writable
 * grant, and any host user who could reach the grant ran it as root; a user's sandbox did
 * the same with the user's ids for whoever else ran it (seventh review). A write or
 * truncate by a process without CAP_FSETID clears set-user-ID, and set-group-ID where the
 * group may execute, so chmod is the one way to give them to a program with content:
 * refused with EPERM, what the kernel answers for a mode the caller may not set.
 */
export function setsIds(mode: number, st: FileId): boolean {
  return (mode & S_ISUID) !== 0 || ((mode & S_ISGID) !== 0 && !isType(st, S_IF.DIR));
}

/** Performs the change on `fd` (pinned O_PATH, or a duplicate of the caller's). */
function apply(fd: number, pinned: boolean, st: FileId, change: Change, caps: bigint): number {
  const nat = native();
  // The pin is the target: never follow it any further.
  const at = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW;
  switch (change.op) {
    case "chmod":
      return pinned ? nat.syscallAs(NR.fchmodat2!, caps, fd, EMPTY, change.mode, at) : nat.syscallAs(NR.fchmod!, caps, fd, change.mode);
    case "chown":
      return pinned ? nat.syscallAs(NR.fchownat!, caps, fd, EMPTY, change.uid, change.gid, at) : nat.syscallAs(NR.fchown!, caps, fd, change.uid, change.gid);
    case "times":
      return pinned ? nat.syscallAs(NR.utimensat!, caps, fd, EMPTY, change.times, at) : nat.syscallAs(NR.utimensat!, caps, fd, null, change.times, 0);
    case "ioctl":
      return nat.syscallAs(NR.ioctl!, caps, fd, change.request, change.arg);
    case "setxattr":
    case "removexattr": {
      const set = change.op === "setxattr";
      if (!pinned) {
        return set ? nat.syscallAs(NR.fsetxattr!, caps, fd, change.name, change.value, change.value.length, change.flags) : nat.syscallAs(NR.fremovexattr!, caps, fd, change.name);
      }
      // An O_PATH descriptor takes no f*xattr call, and the *xattrat calls refuse it:
      // the path call through /proc/self/fd/N reaches the pinned inode. It would follow a
      // pinned symlink's own target, so a symlink's attributes are answered as the kernel
      // answers a caller without capabilities (the sandbox never holds any): user.*,
      // trusted.* and security.* are EPERM on a symlink, system.* ACLs do not exist there.
      if (isType(st, S_IF.LNK)) return change.name.toString("latin1").startsWith("system.") ? -E.EOPNOTSUPP : -E.EPERM;
      const via = Buffer.from(`/proc/self/fd/${fd}\0`);
      return set ? nat.syscallAs(NR.setxattr!, caps, via, change.name, change.value, change.value.length, change.flags) : nat.syscallAs(NR.removexattr!, caps, via, change.name);
    }
  }
}

/**
 * One metadata call, race-free: the caller's bytes were copied once (decode); the target
 * is pinned (a path: resolved as the caller's lookup, with its capabilities; a
 * descriptor: duplicated with pidfd_getfd) and the notification re-checked, which proves
 * the copies and the pin were the blocked caller's; the pinned inode is proved beneath a
 * writable grant; the change is made on the pin, with the caller's capabilities. A
 * sibling thread rewriting the path, swapping a symlink or dup2()ing another file onto
 * the number after that changes nothing: the kernel never looks at them again.
 *
 * Refusals answer EACCES, what Landlock answers for a write outside the grants.
 */
function perform(n: Notification, request: MetaRequest, grants: WritableGrants, creds: CallerCredentials, ctx: SupervisorContext, ownMounts: boolean, protect: boolean): Action {
  const caps = creds.forCall(n);
  if (caps === null) return deny(E.EPERM);
  // A copy-on-write workdir: the caller's own mount namespace (see pinCallerPathInRoot).
  const root = ownMounts ? callerRoot(n.pid) : undefined;
  if (root !== undefined && root < 0) return deny(E.EPERM); // the caller is gone
  try {
    return performPinned(n, request, grants, caps, ctx, root, protect);
  } finally {
    if (root !== undefined) closeSync(root);
  }
}

function performPinned(n: Notification, request: MetaRequest, grants: WritableGrants, caps: bigint, ctx: SupervisorContext, root: number | undefined, protect: boolean): Action {
  const t = request.target;
  const fd = t.kind === "path" ? (root !== undefined ? pinCallerPathInRoot(n, t.arg, caps, root) : pinCallerPath(n, t.arg, caps)) : childFd(n.pid, t.fd);
  if (fd < 0) return deny(-fd);
  try {
    if (!ctx.memory.stillValid(n)) return deny(E.EPERM);
    const st = fileId(fd);
    if (typeof st === "number") return deny(-st);
    if (!privateObject(fd, st) && !grants.contains(fd, st, root)) return deny(E.EACCES);
    // protectedFiles: no mode, owner, time or attribute change at a protected position.
    if (protect && !privateObject(fd, st) && protectedAt(grants.position(fd, st, root) ?? [])) return deny(E.EACCES);
    if (request.change.op === "chmod" && setsIds(request.change.mode, st)) return deny(E.EPERM);
    const rc = apply(fd, t.kind === "path", st, request.change, caps);
    return rc < 0 ? deny(-rc) : returnValue(rc);
  } finally {
    closeSync(fd);
  }
}

const NO_ID = 0xffffffff;

/**
 * `user`: the ids a sandbox names are its user namespace's, where one uid and one gid are
 * mapped (to the caller's). The supervisor acts in the host's namespace, so a chown names
 * the host's ids: the mapped id becomes the caller's, -1 stays, and any other id is EINVAL,
 * as the kernel answers for an id with no mapping. ACLs (system.posix_acl_*) carry ids
 * too, which the kernel would translate: they are refused with EOPNOTSUPP (as on a
 * filesystem without ACLs) rather than applied with the host's meaning.
 */
function inHostIds(req: MetaRequest, user: NonNullable<MetaSupervision["user"]>): MetaRequest | number {
  const c = req.change;
  if (c.op === "chown") {
    const uid = c.uid === NO_ID ? NO_ID : c.uid === user.uid ? user.outerUid : undefined;
    const gid = c.gid === NO_ID ? NO_ID : c.gid === user.gid ? user.outerGid : undefined;
    if (uid === undefined || gid === undefined) return E.EINVAL;
    return { target: req.target, change: { op: "chown", uid, gid } };
  }
  if ((c.op === "setxattr" || c.op === "removexattr") && c.name.toString("latin1").startsWith("system.posix_acl_")) return E.EOPNOTSUPP;
  return req;
}

export function metaHandlers(spec: MetaSupervision, ctx: SupervisorContext): HandlerTable {
  const grants = new WritableGrants(spec.writable, (fn) => ctx.onClose(fn));
  const creds = new CallerCredentials(ctx.launcherPid);
  const user = spec.user;
  const handle = (name: string) => (n: Notification): Action => {
    let decoded = DECODERS[name]!(n, ctx.memory);
    if (decoded === "done") return returnValue(0);
    if (typeof decoded === "number") return deny(decoded);
    if (user !== undefined) decoded = inHostIds(decoded, user);
    if (typeof decoded === "number") return deny(decoded);
    return perform(n, decoded, grants, creds, ctx, spec.ownMounts === true, spec.protect === true);
  };
  const table: Record<string, (n: Notification) => Action | undefined> = {};
  for (const name of META_SYSCALLS) table[name] = handle(name);
  if (spec.watchGrants !== undefined) table.inotify_add_watch = watchHandler(spec.watchGrants, spec.watchDenied ?? [], creds, ctx, spec.ownMounts === true);
  if (spec.inotifyBroker === true) {
    const broker = new InotifyBroker(ctx);
    table.inotify_init = broker.handler(false);
    table.inotify_init1 = broker.handler(true);
  }
  // Only the inode requests the filter routes here; interface queries are the network's.
  const ioctl = handle("ioctl");
  table.ioctl = (n) => (INODE_IOCTLS.has(n.argU32(1)) ? ioctl(n) : undefined);
  return table;
}
