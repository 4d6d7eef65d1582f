// Decodes the trapped metadata calls into one shape: what they name (a path, or a
// descriptor) and the change, with every byte the kernel would read from the caller's
// memory copied once, and the kernel's own argument errors in the kernel's order.

import type { ChildMemory } from "../child-memory.js";
import type { PathArg } from "../caller-path.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD } from "../paths.js";
import { INODE_IOCTLS } from "../../plan/seccomp-meta.js";

export const E = { EPERM: 1, ENOENT: 2, EBADF: 9, EACCES: 13, EFAULT: 14, EINVAL: 22, E2BIG: 7, ERANGE: 34, ENAMETOOLONG: 36, EOPNOTSUPP: 95 } as const;

const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
/** XATTR_NAME_MAX, XATTR_SIZE_MAX, PATH_MAX (with its NUL). */
const NAME_MAX = 255;
const VALUE_MAX = 65536;
const PATH_MAX = 4096;
/** struct xattr_args (value pointer, size, flags) as of Linux 6.13; PAGE_SIZE bounds it. */
const XATTR_ARGS_BYTES = 16;
const PAGE = 4096;
const UTIME_NOW = (1n << 30n) - 1n;
const UTIME_OMIT = (1n << 30n) - 2n;

export type Target = { kind: "path"; arg: PathArg } | { kind: "fd"; fd: number };

export type Change =
  | { op: "chmod"; mode: number }
  | { op: "chown"; uid: number; gid: number }
  /** Two struct timespec (atime, mtime), or null for "now". */
  | { op: "times"; times: Buffer | null }
  /** name: NUL-terminated. */
  | { op: "setxattr"; name: Buffer; value: Buffer; flags: number }
  | { op: "removexattr"; name: Buffer }
  | { op: "ioctl"; request: number; arg: Buffer };

export interface MetaRequest {
  readonly target: Target;
  readonly change: Change;
}

/** A request, an errno for the call to fail with, or "done": succeed without acting. */
export type Decoded = MetaRequest | number | "done";

function pathAt(n: Notification, mem: ChildMemory, i: number, dirfd: number, follow: boolean, emptyPath: boolean): { kind: "path"; arg: PathArg } | number {
  const path = mem.readCString(n, n.argAddr(i), PATH_MAX - 1);
  if (path === "fault") return E.EFAULT;
  if (path === "long") return E.ENAMETOOLONG;
  return { kind: "path", arg: { dirfd, path, follow, emptyPath } };
}

/** An xattr name as import_xattr_name copies it: ERANGE when empty or too long. */
function xattrName(n: Notification, mem: ChildMemory, addr: number): Buffer | number {
  const name = mem.readCString(n, addr, NAME_MAX);
  if (name === "fault") return E.EFAULT;
  if (name === "long" || name.length === 0) return E.ERANGE;
  return Buffer.concat([name, Buffer.alloc(1)]);
}

/** setxattr_copy: flags, then the name, then the value. */
function setxattrChange(n: Notification, mem: ChildMemory, nameAddr: number, valueAddr: number, size: bigint, flags: number): Change | number {
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) return E.EINVAL;
  const name = xattrName(n, mem, nameAddr);
  if (typeof name === "number") return name;
  if (size > BigInt(VALUE_MAX)) return E.E2BIG;
  const value = size === 0n ? Buffer.alloc(0) : mem.read(n, valueAddr, Number(size));
  if (value === null) return E.EFAULT;
  return { op: "setxattr", name, value, flags };
}

const req = (target: Target | number, change: Change | number): Decoded =>
  typeof change === "number" ? change : typeof target === "number" ? target : { target, change };

/** Two struct timespec copied from addr (NULL: now), per utimensat. */
function timespecs(n: Notification, mem: ChildMemory, addr: number): Buffer | null | number | "done" {
  if (addr === 0) return null;
  const t = mem.read(n, addr, 32);
  if (t === null) return E.EFAULT;
  const [a, m] = [t.readBigInt64LE(8), t.readBigInt64LE(24)];
  // "Nothing to do, we must not even check the path" (fs/utimes.c).
  if (a === UTIME_OMIT && m === UTIME_OMIT) return "done";
  return a === UTIME_NOW && m === UTIME_NOW ? null : t;
}

/** Two struct timeval (utimes, futimesat) as timespecs; microseconds out of range: EINVAL. */
function timevals(n: Notification, mem: ChildMemory, addr: number): Buffer | null | number {
  if (addr === 0) return null;
  const t = mem.read(n, addr, 32);
  if (t === null) return E.EFAULT;
  const out = Buffer.alloc(32);
  for (const i of [0, 1]) {
    const usec = t.readBigInt64LE(16 * i + 8);
    if (usec < 0n || usec >= 1_000_000n) return E.EINVAL;
    out.writeBigInt64LE(t.readBigInt64LE(16 * i), 16 * i);
    out.writeBigInt64LE(usec * 1000n, 16 * i + 8);
  }
  return out;
}

const fd = (n: Notification, i: number): Target => ({ kind: "fd", fd: n.argI32(i) });
const mode = (n: Notification, i: number): Change => ({ op: "chmod", mode: n.argU32(i) & 0xffff });
const chown = (n: Notification, i: number): Change => ({ op: "chown", uid: n.argU32(i), gid: n.argU32(i + 1) });
const atFlags = (flags: number): number => ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0 ? E.EINVAL : 0);
const follows = (flags: number): boolean => (flags & AT_SYMLINK_NOFOLLOW) === 0;
const empty = (flags: number): boolean => (flags & AT_EMPTY_PATH) !== 0;

/**
 * The *xattrat calls: an empty (or NULL) path with AT_EMPTY_PATH names descriptor dfd as
 * f*xattr would (an O_PATH one gets EBADF); with AT_FDCWD it names the working directory.
 */
function xattrAtTarget(n: Notification, mem: ChildMemory, flags: number): Target | number {
  const dirfd = n.argI32(0);
  if (empty(flags)) {
    const addr = n.argAddr(1);
    const path = addr === 0 ? Buffer.alloc(0) : mem.readCString(n, addr, PATH_MAX - 1);
    if (path === "fault") return E.EFAULT;
    if (path === "long") return E.ENAMETOOLONG;
    if (path.length === 0) {
      if (dirfd >= 0) return { kind: "fd", fd: dirfd };
      if (dirfd !== AT_FDCWD) return E.EBADF;
    }
  }
  return pathAt(n, mem, 1, dirfd, follows(flags), empty(flags));
}

type Decoder = (n: Notification, mem: ChildMemory) => Decoded;

export const DECODERS: Readonly<Record<string, Decoder>> = {
  chmod: (n, mem) => req(pathAt(n, mem, 0, AT_FDCWD, true, false), mode(n, 1)),
  fchmodat: (n, mem) => req(pathAt(n, mem, 1, n.argI32(0), true, false), mode(n, 2)),
  fchmodat2: (n, mem) => atFlags(n.argU32(3)) || req(pathAt(n, mem, 1, n.argI32(0), follows(n.argU32(3)), empty(n.argU32(3))), mode(n, 2)),
  fchmod: (n) => req(fd(n, 0), mode(n, 1)),
  chown: (n, mem) => req(pathAt(n, mem, 0, AT_FDCWD, true, false), chown(n, 1)),
  lchown: (n, mem) => req(pathAt(n, mem, 0, AT_FDCWD, false, false), chown(n, 1)),
  fchownat: (n, mem) => atFlags(n.argU32(4)) || req(pathAt(n, mem, 1, n.argI32(0), follows(n.argU32(4)), empty(n.argU32(4))), chown(n, 2)),
  fchown: (n) => req(fd(n, 0), chown(n, 1)),
  setxattr: (n, mem) => {
    const change = setxattrChange(n, mem, n.argAddr(1), n.argAddr(2), n.arg(3), n.argI32(4));
    return typeof change === "number" ? change : req(pathAt(n, mem, 0, AT_FDCWD, true, false), change);
  },
  lsetxattr: (n, mem) => {
    const change = setxattrChange(n, mem, n.argAddr(1), n.argAddr(2), n.arg(3), n.argI32(4));
    return typeof change === "number" ? change : req(pathAt(n, mem, 0, AT_FDCWD, false, false), change);
  },
  fsetxattr: (n, mem) => req(fd(n, 0), setxattrChange(n, mem, n.argAddr(1), n.argAddr(2), n.arg(3), n.argI32(4))),
  setxattrat: (n, mem) => {
    const flags = n.argU32(2);
    if (atFlags(flags)) return E.EINVAL;
    const usize = n.arg(5);
    if (usize < BigInt(XATTR_ARGS_BYTES)) return E.EINVAL;
    if (usize > BigInt(PAGE)) return E.E2BIG;
    const args = mem.read(n, n.argAddr(4), Number(usize));
    if (args === null) return E.EFAULT;
    // copy_struct_from_user: bytes past the struct this kernel knows must be zero.
    if (args.subarray(XATTR_ARGS_BYTES).some((b) => b !== 0)) return E.E2BIG;
    const change = setxattrChange(n, mem, n.argAddr(3), Number(args.readBigUInt64LE(0)), BigInt(args.readUInt32LE(8)), args.readInt32LE(12));
    return typeof change === "number" ? change : req(xattrAtTarget(n, mem, flags), change);
  },
  removexattr: (n, mem) => {
    const name = xattrName(n, mem, n.argAddr(1));
    return typeof name === "number" ? name : req(pathAt(n, mem, 0, AT_FDCWD, true, false), { op: "removexattr", name });
  },
  lremovexattr: (n, mem) => {
    const name = xattrName(n, mem, n.argAddr(1));
    return typeof name === "number" ? name : req(pathAt(n, mem, 0, AT_FDCWD, false, false), { op: "removexattr", name });
  },
  fremovexattr: (n, mem) => {
    const name = xattrName(n, mem, n.argAddr(1));
    return typeof name === "number" ? name : req(fd(n, 0), { op: "removexattr", name });
  },
  removexattrat: (n, mem) => {
    const flags = n.argU32(2);
    if (atFlags(flags)) return E.EINVAL;
    const name = xattrName(n, mem, n.argAddr(3));
    return typeof name === "number" ? name : req(xattrAtTarget(n, mem, flags), { op: "removexattr", name });
  },
  utime: (n, mem) => {
    let times: Buffer | null = null;
    if (n.argAddr(1) !== 0) {
      const u = mem.read(n, n.argAddr(1), 16);
      if (u === null) return E.EFAULT;
      times = Buffer.alloc(32);
      times.writeBigInt64LE(u.readBigInt64LE(0), 0);
      times.writeBigInt64LE(u.readBigInt64LE(8), 16);
    }
    return req(pathAt(n, mem, 0, AT_FDCWD, true, false), { op: "times", times });
  },
  utimes: (n, mem) => {
    const times = timevals(n, mem, n.argAddr(1));
    return typeof times === "number" ? times : req(pathAt(n, mem, 0, AT_FDCWD, true, false), { op: "times", times });
  },
  futimesat: (n, mem) => {
    const times = timevals(n, mem, n.argAddr(2));
    if (typeof times === "number") return times;
    // do_utimes: no path and a real descriptor: that descriptor (futimes).
    if (n.argAddr(1) === 0 && n.argI32(0) !== AT_FDCWD) return req(fd(n, 0), { op: "times", times });
    return req(pathAt(n, mem, 1, n.argI32(0), true, false), { op: "times", times });
  },
  utimensat: (n, mem) => {
    const times = timespecs(n, mem, n.argAddr(2));
    if (typeof times === "number" || times === "done") return times;
    const flags = n.argU32(3);
    if (n.argAddr(1) === 0 && n.argI32(0) !== AT_FDCWD) return flags !== 0 ? E.EINVAL : req(fd(n, 0), { op: "times", times });
    return atFlags(flags) || req(pathAt(n, mem, 1, n.argI32(0), follows(flags), empty(flags)), { op: "times", times });
  },
  ioctl: (n, mem) => {
    const request = n.argU32(1);
    const size = INODE_IOCTLS.get(request);
    if (size === undefined) return E.EINVAL; // not routed here by the filter
    const arg = mem.read(n, n.argAddr(2), size);
    return arg === null ? E.EFAULT : req(fd(n, 0), { op: "ioctl", request, arg });
  },
};
