// protectedFiles by the supervisor: every call that creates, links, renames or removes a
// name (and truncate) is performed by it on a parent directory it pinned and proved beneath
// a writable grant, with the caller's capabilities; a protected position is refused.

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { SYSCALLS } from "../../kernel/syscalls.js";
import type { NameSupervision } from "../../plan/seccomp-names.js";
import { deny, returnValue, type Action } from "../action.js";
import { openat2Bytes } from "../caller-path.js";
import { fileId, isType, S_IF, WritableGrants } from "../grant-proof.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O, RESOLVE } from "../paths.js";
import { CallerCredentials } from "./fs-meta.js";
import { namesOpenHandlers } from "./names-open.js";
import type { FifoWaits } from "./names-fifo.js";
import { protectedInodes } from "./names-inodes.js";
import {
  E, copyPath, createMode, deniedByCallback, holdsDeniedByCallback, holdsProtected, isDot, isProtected, mountedAt, partsOf, pinParent, pinPath, protectedInode, realPath, rootFor, sitePath, splitPath,
  type NameEnv, type Site, type Split,
} from "./names-site.js";

const NR = SYSCALLS as Readonly<Record<string, number>>;
const AT_SYMLINK_FOLLOW = 0x400;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;
const S_IFMT = 0o170000;
const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

const z = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(1)]);
const via = (fd: number): Buffer => Buffer.from(`/proc/self/fd/${fd}\0`);

/** One call's acting state: the caller's capabilities and root, and what to close. */
class Call {
  private readonly open: number[] = [];
  /** Held FIFO opens of this sandbox (names-fifo.ts), for the open calls. */
  fifos: FifoWaits | undefined;
  constructor(readonly n: Notification, readonly caps: bigint, readonly root: number | undefined, readonly env: NameEnv) {}

  own(fd: number): number {
    if (fd >= 0) this.open.push(fd);
    return fd;
  }

  parent(dirfd: number, split: Split): Site | number {
    const s = pinParent(this.n, dirfd, split, this.caps, this.env, this.root);
    if (typeof s !== "number") this.own(s.fd);
    return s;
  }

  /** The copies and pins were the blocked caller's (its id was not reused meanwhile). */
  valid(): boolean {
    return this.env.memory.stillValid(this.n);
  }

  close(): void {
    for (const fd of this.open) closeSync(fd);
    if (this.root !== undefined && this.root >= 0) closeSync(this.root);
  }
}

const answer = (rc: number): Action => (rc < 0 ? deny(-rc) : returnValue(rc));

/** Sets a new inode's mode on a descriptor of it (createMode's fix). */
function fixMode(site: Site, name: Buffer, mode: number, caps: bigint, dir: boolean): void {
  const fd = openat2Bytes(site.fd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC | (dir ? O.DIRECTORY : 0), BENEATH, caps);
  if (fd < 0) return;
  try {
    native().nameSyscallAs(NR.fchmodat2!, caps, fd, Buffer.from([0]), mode, AT_EMPTY_PATH | 0x100);
  } finally {
    closeSync(fd);
  }
}

/**
 * A create of `name` in the pinned parent: refused at a protected position, and at a name
 * protected names live in (`.git`) unless it is a directory: a `.git` file or symlink
 * would point git at a directory of the sandbox's, with its own hooks and config.
 */
function createAllowed(env: NameEnv, site: Site, name: Buffer, dir: boolean): boolean {
  const parts = partsOf(site, name);
  return !isProtected(parts, env) && (dir || !holdsProtected(parts, env));
}

type Make = (c: Call, site: Site, name: Buffer) => number;

/** mkdir, mknod, symlink: a new name in a pinned, proved parent. */
function create(c: Call, syscall: string, dirfd: number, path: Buffer, dir: boolean, make: Make): Action {
  if (path.length === 0) return deny(E.ENOENT);
  const split = splitPath(path);
  if (isDot(split.name)) return deny(E.EEXIST);
  if (split.trailing && !dir) return deny(E.ENOENT);
  const site = c.parent(dirfd, split);
  if (typeof site === "number") return deny(-site);
  if (!c.valid()) return deny(E.EPERM);
  if (!createAllowed(c.env, site, split.name, dir) || deniedByCallback(c.env, syscall, sitePath(site, split.name))) return deny(E.EACCES);
  return answer(make(c, site, split.name));
}

function mkdir(c: Call, dirfd: number, pathArg: number, mode: number): Action {
  const path = copyPath(c.n, c.env.memory, pathArg);
  if (typeof path === "number") return deny(path);
  return create(c, "mkdir", dirfd, path, true, (call, site, name) => {
    const m = createMode(call.n, mode);
    if (typeof m === "number") return -m;
    const rc = native().nameSyscallAs(NR.mkdirat!, call.caps, site.fd, z(name), m.mode);
    if (rc === 0 && m.fix) fixMode(site, name, m.mode, call.caps, true);
    return rc;
  });
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

function mknod(c: Call, dirfd: number, pathArg: number, mode: number, dev: bigint): Action {
  // No device node, whatever the caller's capabilities: a whiteout (character device 0:0)
  // needs none since Linux 5.8, and Landlock, which refuses device nodes to the caller's own
  // mknod, does not see the one made here (the eighteenth review). EPERM, as the kernel
  // answers a device node without CAP_MKNOD; the mode is a register.
  const type = mode & S_IFMT;
  if (type === S_IFCHR || type === S_IFBLK) return deny(E.EPERM);
  const path = copyPath(c.n, c.env.memory, pathArg);
  if (typeof path === "number") return deny(path);
  return create(c, "mknod", dirfd, path, false, (call, site, name) => {
    const m = createMode(call.n, mode);
    if (typeof m === "number") return -m;
    const rc = native().nameSyscallAs(NR.mknodat!, call.caps, site.fd, z(name), (mode & S_IFMT) | m.mode, dev);
    if (rc === 0 && m.fix) fixMode(site, name, m.mode, call.caps, false);
    return rc;
  });
}

function symlink(c: Call, targetArg: number, dirfd: number, pathArg: number): Action {
  const target = copyPath(c.n, c.env.memory, targetArg);
  if (typeof target === "number") return deny(target);
  const path = copyPath(c.n, c.env.memory, pathArg);
  if (typeof path === "number") return deny(path);
  if (target.length === 0) return deny(E.ENOENT);
  return create(c, "symlink", dirfd, path, false, (call, site, name) => native().nameSyscallAs(NR.symlinkat!, call.caps, z(target), site.fd, z(name)));
}

/**
 * link: the source is pinned (the last symlink followed only with AT_SYMLINK_FOLLOW; with
 * AT_EMPTY_PATH the caller's descriptor itself), proved beneath a writable grant (EXDEV
 * otherwise, as Landlock answers a link that would give a file more rights), and refused
 * when it is a protected file, by position or by inode: a second name made for it would be
 * writable. The new name is linked through /proc/self/fd/N, which reaches the pinned inode.
 */
function link(c: Call, olddirfd: number, oldArg: number, newdirfd: number, newArg: number, flags: number): Action {
  if ((flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) !== 0) return deny(E.EINVAL);
  const oldPath = copyPath(c.n, c.env.memory, oldArg);
  if (typeof oldPath === "number") return deny(oldPath);
  const newPath = copyPath(c.n, c.env.memory, newArg);
  if (typeof newPath === "number") return deny(newPath);
  const src = c.own(pinPath(c.n, { dirfd: olddirfd, path: oldPath, follow: (flags & AT_SYMLINK_FOLLOW) !== 0, emptyPath: (flags & AT_EMPTY_PATH) !== 0 }, c.caps, c.root));
  if (src < 0) return deny(-src);
  const st = fileId(src);
  if (typeof st === "number") return deny(-st);
  if (isType(st, S_IF.DIR)) return deny(E.EPERM);
  if (newPath.length === 0) return deny(E.ENOENT);
  const split = splitPath(newPath);
  if (isDot(split.name)) return deny(E.EEXIST);
  const site = c.parent(newdirfd, split);
  if (typeof site === "number") return deny(-site);
  if (!c.valid()) return deny(E.EPERM);
  if (!c.env.grants.contains(src, st, c.root)) return deny(E.EXDEV);
  const from = st.nlink > 0 ? c.env.grants.position(src, st, c.root) : [];
  if (from === undefined || isProtected(from, c.env) || holdsProtected(from, c.env) || protectedInode(c.env, st)) return deny(E.EACCES);
  if (!createAllowed(c.env, site, split.name, false) || deniedByCallback(c.env, "link", realPath(src)) || deniedByCallback(c.env, "link", sitePath(site, split.name))) return deny(E.EACCES);
  return answer(native().nameSyscallAs(NR.linkat!, c.caps, AT_FDCWD, via(src), site.fd, z(split.name), AT_SYMLINK_FOLLOW));
}

/**
 * rename: both parents pinned and proved. Refused when either name is protected or is one
 * protected names live in (`.git`, at any depth): moving it away would carry a protected
 * subtree to an unprotected name, moving a directory onto it would bring the sandbox's own
 * `hooks/` or `config` in. RENAME_EXCHANGE moves both ways: both checks apply to both.
 */
function rename(c: Call, olddirfd: number, oldArg: number, newdirfd: number, newArg: number, flags: number): Action {
  const oldPath = copyPath(c.n, c.env.memory, oldArg);
  if (typeof oldPath === "number") return deny(oldPath);
  const newPath = copyPath(c.n, c.env.memory, newArg);
  if (typeof newPath === "number") return deny(newPath);
  if (oldPath.length === 0 || newPath.length === 0) return deny(E.ENOENT);
  const a = splitPath(oldPath);
  const b = splitPath(newPath);
  if (isDot(a.name) || isDot(b.name)) return deny(E.EBUSY);
  const from = c.parent(olddirfd, a);
  if (typeof from === "number") return deny(-from);
  const to = c.parent(newdirfd, b);
  if (typeof to === "number") return deny(-to);
  if (!c.valid()) return deny(E.EPERM);
  for (const parts of [partsOf(from, a.name), partsOf(to, b.name)]) {
    if (isProtected(parts, c.env) || holdsProtected(parts, c.env)) return deny(E.EACCES);
  }
  // A covered name (fsDenied) stays put, as the kernel would answer the sandbox itself.
  if (mountedAt(from, a.name) || mountedAt(to, b.name)) return deny(E.EBUSY);
  if (deniedByCallback(c.env, "rename", sitePath(from, a.name)) || deniedByCallback(c.env, "rename", sitePath(to, b.name))) return deny(E.EACCES);
  // ctx.denyPath's rules are on real paths: renaming a directory above a denied path moved
  // the denied file to a path no rule named (tenth review). Either side, as for
  // RENAME_EXCHANGE both move.
  if (holdsDeniedByCallback(c.env, "rename", sitePath(from, a.name)) || holdsDeniedByCallback(c.env, "rename", sitePath(to, b.name))) return deny(E.EACCES);
  const rc = native().nameSyscallAs(NR.renameat2!, c.caps, from.fd, z(a.name), to.fd, z(b.name), flags);
  return answer(rc);
}

function unlink(c: Call, dirfd: number, pathArg: number, flags: number): Action {
  if ((flags & ~AT_REMOVEDIR) !== 0) return deny(E.EINVAL);
  const path = copyPath(c.n, c.env.memory, pathArg);
  if (typeof path === "number") return deny(path);
  if (path.length === 0) return deny(E.ENOENT);
  const split = splitPath(path);
  const dir = (flags & AT_REMOVEDIR) !== 0;
  if (isDot(split.name)) return deny(!dir ? E.EISDIR : split.name.length === 1 ? E.EINVAL : E.ENOTEMPTY);
  const site = c.parent(dirfd, split);
  if (typeof site === "number") return deny(-site);
  if (!c.valid()) return deny(E.EPERM);
  if (isProtected(partsOf(site, split.name), c.env) || deniedByCallback(c.env, dir ? "rmdir" : "unlink", sitePath(site, split.name))) return deny(E.EACCES);
  if (mountedAt(site, split.name)) return deny(E.EBUSY); // a covered name (fsDenied): as the kernel answers the sandbox
  return answer(native().nameSyscallAs(NR.unlinkat!, c.caps, site.fd, z(split.name), flags));
}

function truncate(c: Call, pathArg: number, length: bigint): Action {
  const path = copyPath(c.n, c.env.memory, pathArg);
  if (typeof path === "number") return deny(path);
  const fd = c.own(pinPath(c.n, { dirfd: AT_FDCWD, path, follow: true, emptyPath: false }, c.caps, c.root));
  if (fd < 0) return deny(-fd);
  const st = fileId(fd);
  if (typeof st === "number") return deny(-st);
  if (!c.valid()) return deny(E.EPERM);
  if (isType(st, S_IF.DIR)) return deny(E.EISDIR);
  const parts = c.env.grants.position(fd, st, c.root);
  if (parts === undefined || isProtected(parts, c.env) || holdsProtected(parts, c.env) || protectedInode(c.env, st) || deniedByCallback(c.env, "truncate", realPath(fd))) return deny(E.EACCES);
  return answer(native().nameSyscallAs(NR.truncate!, c.caps, via(fd), length));
}

type Body = (c: Call, n: Notification) => Action;

/** Each call's arguments as the kernel reads them (dirfds as ints, paths by address). */
const BODIES: Record<string, Body> = {
  mkdir: (c, n) => mkdir(c, AT_FDCWD, 0, n.argU32(1)),
  mkdirat: (c, n) => mkdir(c, n.argI32(0), 1, n.argU32(2)),
  mknod: (c, n) => mknod(c, AT_FDCWD, 0, n.argU32(1), BigInt(n.argU32(2))),
  mknodat: (c, n) => mknod(c, n.argI32(0), 1, n.argU32(2), BigInt(n.argU32(3))),
  symlink: (c) => symlink(c, 0, AT_FDCWD, 1),
  symlinkat: (c, n) => symlink(c, 0, n.argI32(1), 2),
  link: (c) => link(c, AT_FDCWD, 0, AT_FDCWD, 1, 0),
  linkat: (c, n) => link(c, n.argI32(0), 1, n.argI32(2), 3, n.argU32(4)),
  rename: (c) => rename(c, AT_FDCWD, 0, AT_FDCWD, 1, 0),
  renameat: (c, n) => rename(c, n.argI32(0), 1, n.argI32(2), 3, 0),
  renameat2: (c, n) => rename(c, n.argI32(0), 1, n.argI32(2), 3, n.argU32(4)),
  unlink: (c) => unlink(c, AT_FDCWD, 0, 0),
  unlinkat: (c, n) => unlink(c, n.argI32(0), 1, n.argU32(2)),
  rmdir: (c) => unlink(c, AT_FDCWD, 0, AT_REMOVEDIR),
  truncate: (c, n) => truncate(c, 0, n.arg(1)),
};

/** Runs one call with its acting state, closing every pin afterwards. */
export function withCall(n: Notification, env: NameEnv, creds: CallerCredentials, body: (c: Call) => Action | Promise<Action>): Action | Promise<Action> {
  const caps = creds.forCall(n);
  if (caps === null) return deny(E.EPERM);
  const root = rootFor(env, n);
  if (root !== undefined && root < 0) return deny(E.EPERM); // the caller is gone
  const c = new Call(n, caps, root, env);
  let out: Action | Promise<Action>;
  try {
    out = body(c);
  } catch (e) {
    c.close();
    throw e;
  }
  // A held call (policyFn's verdict, a FIFO waiting for a reader) keeps its pins until
  // it is answered.
  if (out instanceof Promise) return out.finally(() => c.close());
  c.close();
  return out;
}

export type { Call };

export function nameHandlers(spec: NameSupervision, ctx: SupervisorContext): HandlerTable {
  const grants = new WritableGrants(spec.writable, (fn) => ctx.onClose(fn));
  const readGrants = spec.events ? new WritableGrants(spec.grants, (fn) => ctx.onClose(fn), true) : grants;
  const env: NameEnv = {
    grants, readGrants, memory: ctx.memory, ownMounts: spec.ownMounts === true, protect: spec.protect,
    protectedInodes: spec.protect ? protectedInodes(spec.writable) : [], files: ctx.files, gate: spec.events ? ctx.gateFile : undefined,
    observe: (o) => ctx.observe(o),
  };
  const creds = new CallerCredentials(ctx.launcherPid);
  const table: Record<string, (n: Notification) => Action | Promise<Action>> = {};
  for (const [name, body] of Object.entries(BODIES)) table[name] = (n) => withCall(n, env, creds, (c) => body(c, n));
  return { ...table, ...namesOpenHandlers(env, creds, spec.events, (fn) => ctx.onClose(fn)) };
}
