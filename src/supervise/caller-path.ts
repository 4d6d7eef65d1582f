// Pins the file a trapped call names by path, as the kernel would resolve it for the
// calling thread (its working directory or dirfd, AT_EMPTY_PATH, following the last
// symlink or not), with an O_PATH descriptor the supervisor then decides on and acts on.

import { closeSync, readlinkSync } from "node:fs";
import { native } from "../confine/native.js";
import { SYSCALLS } from "../kernel/syscalls.js";
import { procfsMounts } from "../kernel/mounts.js";
import type { Notification } from "./notification.js";
import { AT_FDCWD, O, RESOLVE, callerTgid, readlinkPath, resolvePath } from "./paths.js";

const E = { ENOENT: 2, EBADF: 9, EACCES: 13, ELOOP: 40 } as const;
const OPEN_HOW_BYTES = 24;

/** openat2(dirfd, path, flags, 0, resolve) with a path of any bytes, made with the
 * effective capabilities capEff (null: the supervisor's own); the descriptor or -errno. */
export function openat2Bytes(dirfd: number, path: Buffer, flags: number, resolve: number, capEff: bigint | null): number {
  const how = Buffer.alloc(OPEN_HOW_BYTES);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const z = Buffer.alloc(path.length + 1);
  path.copy(z);
  return native().syscallAs(SYSCALLS.openat2!, capEff, dirfd, z, how, OPEN_HOW_BYTES);
}

/** A path argument of a trapped call, as copied from the caller. */
export interface PathArg {
  /** The dirfd argument (AT_FDCWD for the calls without one). */
  readonly dirfd: number;
  /** The path's bytes, without the NUL. */
  readonly path: Buffer;
  /** Follow a symlink in the last component (no AT_SYMLINK_NOFOLLOW, not an l* call). */
  readonly follow: boolean;
  /** AT_EMPTY_PATH: an empty path names dirfd itself. */
  readonly emptyPath: boolean;
}

/**
 * An O_PATH descriptor of where the calling thread's relative paths start: its working
 * directory, or descriptor `dirfd` (whatever that is: the kernel itself answers ENOTDIR
 * for a relative path from a file). Opened through /proc/<tid>, so the caller re-checks
 * the notification afterwards: that proves tid was still the blocked caller.
 */
export function callerBase(tid: number, dirfd: number): number {
  const link = dirfd === AT_FDCWD ? `/proc/${tid}/cwd` : `/proc/${tid}/fd/${dirfd}`;
  if (dirfd !== AT_FDCWD && dirfd < 0) return -E.EBADF;
  const fd = native().openat2(AT_FDCWD, link, O.PATH | O.CLOEXEC, 0, 0);
  return fd === -E.ENOENT && dirfd !== AT_FDCWD ? -E.EBADF : fd;
}

/**
 * Resolves `arg` for thread n.pid and pins what it names: an O_PATH descriptor (the last
 * symlink itself when it is not followed), or -errno as the kernel would answer (ENOENT,
 * ENOTDIR, ELOOP, EACCES for a directory the caller may not search...). The lookup is
 * made with the caller's effective capabilities (capEff), so it crosses no directory the
 * caller could not. Magic links (/proc/self/fd/N...) would be resolved in the
 * supervisor's own process: they are refused, except a link of the caller's own process
 * that ends the path (glibc's fchmodat with AT_SYMLINK_NOFOLLOW chmods /proc/self/fd/N),
 * which is opened through the caller's /proc directory instead.
 * The caller re-checks the notification after this (see callerBase).
 */
export function pinCallerPath(n: Notification, arg: PathArg, capEff: bigint | null): number {
  if (arg.path.length === 0) return arg.emptyPath ? callerBase(n.pid, arg.dirfd) : -E.ENOENT;
  const absolute = arg.path[0] === 0x2f;
  const base = absolute ? AT_FDCWD : callerBase(n.pid, arg.dirfd);
  if (!absolute && base < 0) return base;
  const flags = O.PATH | O.CLOEXEC | (arg.follow ? 0 : O.NOFOLLOW);
  try {
    const fd = openat2Bytes(base, arg.path, flags, RESOLVE.NO_MAGICLINKS, capEff);
    return fd === -E.ELOOP ? (throughOwnProc(n, arg, flags, capEff) ?? fd) : fd;
  } finally {
    if (!absolute) closeSync(base);
  }
}

/**
 * The caller's root directory (O_PATH), or -errno. With a copy-on-write workdir the
 * sandbox has a mount namespace of its own (native/launcher/cow.c) with an overlay on the
 * workdir: its paths must be resolved from its root, never from the supervisor's, where
 * the same absolute path names the real directory beneath the overlay.
 */
export function callerRoot(tid: number): number {
  return native().openat2(AT_FDCWD, `/proc/${tid}/root`, O.PATH | O.CLOEXEC, 0, 0);
}

/** Whether thread tid has a mount namespace other than the supervisor's (a copy-on-write
 * workdir's), by the namespace links' inode numbers; false when it cannot be read (the
 * caller is gone: its notification fails the re-check anyway). */
export function ownMountNamespace(tid: number): boolean {
  const theirs = readlinkPath(`/proc/${tid}/ns/mnt`) ?? readNsLink(`/proc/${tid}/ns/mnt`);
  return theirs !== null && theirs !== readNsLink("/proc/self/ns/mnt");
}

function readNsLink(link: string): string | null {
  try {
    return readlinkSync(link);
  } catch {
    return null;
  }
}

/**
 * pinCallerPath for a caller in a mount namespace of its own, resolved from its root
 * (callerRoot) with RESOLVE_IN_ROOT: absolute paths and absolute symlinks stay in its
 * namespace. A relative path is made absolute from the kernel's path of the caller's
 * working directory or dirfd (in its namespace), so ".." goes where the caller's own
 * lookup would. Magic links are refused (ELOOP): the caller's /proc/self/fd/N would be
 * resolved in the supervisor's process. As for pinCallerPath, the caller re-checks the
 * notification afterwards; whatever is pinned is then proved beneath a writable grant
 * of the same namespace (WritableGrants.contains with the root).
 */
export function pinCallerPathInRoot(n: Notification, arg: PathArg, capEff: bigint | null, root: number): number {
  if (arg.path.length === 0) return arg.emptyPath ? callerBase(n.pid, arg.dirfd) : -E.ENOENT;
  let path = arg.path;
  if (path[0] !== 0x2f) {
    if (arg.dirfd !== AT_FDCWD && arg.dirfd < 0) return -E.EBADF;
    const base = readlinkPath(arg.dirfd === AT_FDCWD ? `/proc/${n.pid}/cwd` : `/proc/${n.pid}/fd/${arg.dirfd}`);
    if (base === null) return -E.ENOENT;
    path = Buffer.concat([Buffer.from(`${base}/`), path]);
  }
  const flags = O.PATH | O.CLOEXEC | (arg.follow ? 0 : O.NOFOLLOW);
  const fd = openat2Bytes(root, path, flags, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS, capEff);
  // The kernel view: the caller's /proc is a procfs of its own pid namespace, where the
  // supervisor (outside it) has no "self" (ENOENT) and its magic links are refused (ELOOP).
  // A path through the caller's own /proc/self or /proc/thread-self is then resolved through
  // its /proc directory here (throughOwnProc: its own descriptors only, anything else
  // EACCES); whatever is pinned is proved beneath a writable grant like any other.
  if ((fd === -E.ENOENT || fd === -E.ELOOP) && /^\/proc\/(self|thread-self)\//.test(arg.path.toString("latin1")) && ownPidNamespace(n.pid) && hasProcfs(root)) {
    return throughOwnProc(n, arg, flags, capEff) ?? fd;
  }
  return fd;
}

/** Whether the caller's root has a procfs at /proc (its pid 1, the kernel view's init, is
 * there): without a /proc grant it has none, and /proc/self stays ENOENT as its lookup. */
function hasProcfs(root: number): boolean {
  const fd = openat2Bytes(root, Buffer.from("/proc/1"), O.PATH | O.CLOEXEC, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS, null);
  if (fd < 0) return false;
  closeSync(fd);
  return true;
}

/** Whether thread tid is in a pid namespace other than the supervisor's (the kernel view). */
function ownPidNamespace(tid: number): boolean {
  const theirs = readNsLink(`/proc/${tid}/ns/pid`);
  return theirs !== null && theirs !== readNsLink("/proc/self/ns/pid");
}

/**
 * A path that went through a magic link (ELOOP above), resolved as the caller's lookup
 * would: through its own /proc directory (self and thread-self are the caller's, and the
 * links are read there). undefined when it went through none (a real symlink loop: the
 * kernel's ELOOP stands); -EACCES when it went through another process's directory. A
 * path ending at the link itself is opened through the caller's /proc directory; one
 * that goes on below a link (/proc/self/cwd/x) is resolved from the link's target path,
 * and pinned again without magic links: what gets pinned is then checked like any other.
 */
function throughOwnProc(n: Notification, arg: PathArg, flags: number, capEff: bigint | null): number | undefined {
  const raw = arg.path.toString("utf8");
  if (!Buffer.from(raw).equals(arg.path)) return undefined;
  let base: string | null = null;
  if (!raw.startsWith("/")) {
    base = readlinkPath(arg.dirfd === AT_FDCWD ? `/proc/${n.pid}/cwd` : `/proc/${n.pid}/fd/${arg.dirfd}`);
    if (base === null) return undefined;
  }
  let tgid: number | null | undefined;
  const target = resolvePath(base, raw, {
    procMounts: procfsMounts(),
    tid: n.pid,
    tgid: () => (tgid === undefined ? (tgid = callerTgid(n)) : tgid),
    readlink: readlinkPath,
  });
  if (target.kind === "unknown" || target.pids.length === 0) return undefined;
  const own = callerTgid(n);
  if (target.pids.some((p) => p !== own && p !== n.pid)) return -E.EACCES;
  // The caller's own descriptor, working directory...: what its own lookup would reach.
  if (target.kind === "magic") return native().openat2(AT_FDCWD, target.path, O.PATH | O.CLOEXEC, 0, 0);
  return openat2Bytes(AT_FDCWD, Buffer.from(target.path), flags, RESOLVE.NO_MAGICLINKS, capEff);
}
