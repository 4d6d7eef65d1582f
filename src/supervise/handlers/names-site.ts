// Where a name operation acts (handlers/names.ts, names-open.ts): the parent directory of
// a path's last component, pinned as the caller's own lookup would reach it, proved beneath
// a writable grant, with the name's position below the grant's root for protectedFiles.

import { closeSync, constants, lstatSync, openSync, readlinkSync } from "node:fs";
import { procfsMounts } from "../../kernel/mounts.js";
import { holdsAt, protectedAt } from "../../policy/protected.js";
import { callerBase, callerRoot, pinCallerPath, pinCallerPathInRoot, type PathArg } from "../caller-path.js";
import type { ChildMemory } from "../child-memory.js";
import { fileId, isType, S_IF, sameInode, type FileId, type WritableGrants } from "../grant-proof.js";
import type { Notification } from "../notification.js";
import type { SupervisorContext } from "../handler.js";
import type { DynamicFiles } from "../policy-files.js";
import { descriptorPath } from "../grant-proof.js";
import { AT_FDCWD, callerStatus, readlinkPath, readSmall } from "../paths.js";
import { native } from "../../confine/native.js";

export const E = {
  EPERM: 1, ENOENT: 2, EBADF: 9, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, EXDEV: 18, ENOTDIR: 20, EISDIR: 21,
  EINVAL: 22, ENAMETOOLONG: 36, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40, ENXIO: 6,
} as const;

/** PATH_MAX with its NUL. */
const PATH_MAX = 4096;
const SLASH = 0x2f;

/** A path argument copied once from the caller: the bytes, or the errno the kernel gives. */
export function copyPath(n: Notification, mem: ChildMemory, i: number): Buffer | number {
  const path = mem.readCString(n, n.argAddr(i), PATH_MAX - 1);
  if (path === "fault") return E.EFAULT;
  if (path === "long") return E.ENAMETOOLONG;
  return path;
}

/** A path cut at its last component: `dir` ("" for the caller's base, "/" for the root),
 * `name` (no slash; "." and ".." kept: each call answers them as the kernel does) and
 * whether trailing slashes followed it. */
export interface Split {
  readonly dir: Buffer;
  readonly name: Buffer;
  readonly trailing: boolean;
}

export function splitPath(path: Buffer): Split {
  let end = path.length;
  while (end > 1 && path[end - 1] === SLASH) end--;
  const trailing = end < path.length;
  const cut = path.subarray(0, end);
  const slash = cut.lastIndexOf(SLASH);
  if (slash < 0) return { dir: Buffer.alloc(0), name: cut, trailing };
  // "/" alone: the root's name is "." from the root.
  if (cut.length === 1) return { dir: cut, name: Buffer.from("."), trailing };
  return { dir: slash === 0 ? cut.subarray(0, 1) : cut.subarray(0, slash), name: cut.subarray(slash + 1), trailing };
}

export const isDot = (name: Buffer): boolean => (name.length === 1 && name[0] === 0x2e) || (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e);

/** What every name operation of one sandbox shares. */
export interface NameEnv {
  readonly grants: WritableGrants;
  /** Every grant, readable or writable (policyFn's read events: handlers/names-open.ts). */
  readonly readGrants: WritableGrants;
  /** protectedFiles: protected positions are refused. */
  readonly protect: boolean;
  /** policyFn's ctx.denyPath/allowPath rules (policyFnFiles). */
  readonly files?: DynamicFiles | undefined;
  /** policyFnFiles: asks the callback about one open (SupervisorContext.gateFile). */
  readonly gate?: ((n: Notification, syscall: string, path: string, denied: boolean) => Promise<number | undefined>) | undefined;
  /** Told of what the supervisor refused (RunResult.refused). */
  readonly observe: SupervisorContext["observe"];
  readonly memory: ChildMemory;
  /** The sandbox has a mount namespace of its own (workdir, fsDenied, protected binds). */
  readonly ownMounts: boolean;
  /** Existing protected files with more than one name, by inode (names.ts protectedInodes). */
  readonly protectedInodes: readonly FileId[];
}

/**
 * One pinned parent directory: its descriptor (O_PATH, owned: release() closes it), its
 * identity and its path below the writable grant that proved it.
 */
export interface Site {
  readonly fd: number;
  readonly st: FileId;
  readonly parts: readonly string[];
}

/**
 * The caller's root for a sandbox with its own mounts (its paths are resolved there:
 * caller-path.ts pinCallerPathInRoot), or undefined; -errno when the caller is gone.
 */
export function rootFor(env: NameEnv, n: Notification): number | undefined {
  return env.ownMounts ? callerRoot(n.pid) : undefined;
}

/**
 * Pins what `arg` names as the caller's lookup would (see caller-path.ts). A path that
 * reaches the caller's own /proc links through an ordinary symlink (/dev/stdout ->
 * /proc/self/fd/1, /dev/fd/N) is refused by that lookup with ELOOP (the link would be
 * followed in the supervisor's process): its symlinks outside procfs are then expanded
 * here and the result pinned again, so /proc/self is the caller's. The expansion only
 * proposes a path: what gets pinned is decided on like any other pin.
 */
export function pinPath(n: Notification, arg: PathArg, caps: bigint, root: number | undefined): number {
  const fd = root !== undefined ? pinCallerPathInRoot(n, arg, caps, root) : pinCallerPath(n, arg, caps);
  if (fd !== -E.ELOOP) return fd;
  const expanded = expandLinks(n, arg);
  if (expanded === null) return fd;
  // A sandbox with mounts of its own: only an expansion into the caller's /proc entry is
  // pinned from here (its magic links lead into the caller's namespace); any other path
  // would be looked up in the supervisor's namespace, not the caller's.
  if (root !== undefined && !procfsMounts().some((m) => expanded.toString("latin1").startsWith(`${m}/`))) return fd;
  return pinCallerPath(n, { ...arg, dirfd: AT_FDCWD, path: expanded }, caps);
}

/** The kernel's limit on symlinks followed in one lookup. */
const MAX_LINKS = 40;

/** `arg`'s path made absolute, its symlinks outside procfs replaced by their targets up to
 * the first component inside a procfs mount (caller-path.ts resolves from there); null
 * when it cannot be (a relative path from a base without a path, too many links). */
function expandLinks(n: Notification, arg: PathArg): Buffer | null {
  let rest = arg.path.toString("latin1").split("/");
  let done: string[] = [];
  if (arg.path[0] !== SLASH) {
    const base = readlinkPath(arg.dirfd === AT_FDCWD ? `/proc/${n.pid}/cwd` : `/proc/${n.pid}/fd/${arg.dirfd}`);
    if (base === null) return null;
    done = base.split("/").filter((c) => c !== "");
  }
  const procs = procfsMounts().map((m) => m.split("/").filter((c) => c !== "").join("/"));
  let links = 0;
  while (rest.length > 0) {
    const c = rest.shift()!;
    if (c === "" || c === ".") continue;
    if (c === "..") {
      done.pop();
      continue;
    }
    const here = [...done, c];
    const path = Buffer.from(`/${here.join("/")}`, "latin1");
    const inProc = procs.some((m) => here.join("/") === m || here.join("/").startsWith(`${m}/`));
    if (inProc) {
      done = here;
      break;
    }
    const last = rest.every((r) => r === "" || r === ".");
    let target: string | undefined;
    try {
      if ((!last || arg.follow) && lstatSync(path).isSymbolicLink()) target = readlinkSync(path, "latin1") as unknown as string;
    } catch {
      return null;
    }
    if (target === undefined) {
      done = here;
      continue;
    }
    if (++links > MAX_LINKS) return null;
    if (target.startsWith("/")) done = [];
    rest = [...target.split("/"), ...rest];
  }
  return Buffer.from(`/${[...done, ...rest].filter((c) => c !== "").join("/")}`, "latin1");
}

/**
 * The parent directory of `split` for thread n.pid (dirfd, or its working directory, for
 * a path without a slash), pinned with the caller's capabilities, and proved beneath a
 * writable grant: -EACCES when it is not (what Landlock answers for a write outside the
 * grants), -ENOTDIR when it is no directory, or the lookup's own -errno. The caller
 * checks the notification is still pending after this, before acting on the pin.
 */
export function pinParent(n: Notification, dirfd: number, split: Split, caps: bigint, env: NameEnv, root: number | undefined): Site | number {
  const fd = split.dir.length === 0 ? callerBase(n.pid, dirfd) : pinPath(n, { dirfd, path: split.dir, follow: true, emptyPath: false }, caps, root);
  if (fd < 0) return fd;
  const st = fileId(fd);
  if (typeof st === "number" || !isType(st, S_IF.DIR)) {
    closeSync(fd);
    return typeof st === "number" ? st : -E.ENOTDIR;
  }
  const parts = env.grants.position(fd, st, root);
  if (parts === undefined) {
    closeSync(fd);
    return -E.EACCES;
  }
  return { fd, st, parts };
}

const O_PATH = 0o10000000;

/** The mount a descriptor of this process is on (statx's mount id, fdinfo's mnt_id), or -1. */
function mountIdOf(fd: number): number {
  const id = native().mountId(fd);
  return id < 0 ? -1 : id;
}

/**
 * Whether `name` in the pinned parent is a mount point of the sandbox's own mount tree:
 * fsDenied's covers, the kernel view's grant binds. The kernel refuses to unlink or rename a
 * mount point with EBUSY only in the caller's own mount namespace; the supervisor acts from
 * the host's, where the same call would delete or replace a covered file (and detach its
 * cover). The pin is in the sandbox's tree, so a lookup beneath it through /proc/self/fd
 * crosses the sandbox's mounts: a different mount than the parent's means a mount point.
 */
export function mountedAt(site: Site, name: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(Buffer.concat([Buffer.from(`/proc/self/fd/${site.fd}/`), name]), O_PATH | constants.O_NOFOLLOW); // libuv adds O_CLOEXEC
  } catch {
    return false; // absent: nothing mounted there
  }
  try {
    const at = mountIdOf(fd);
    return at < 0 || at !== mountIdOf(site.fd);
  } finally {
    closeSync(fd);
  }
}

/** The components of `name` in `site` below its grant's root. */
export function partsOf(site: Site, name: Buffer): string[] {
  return [...site.parts, name.toString("latin1")];
}

/** The kernel's path of what `fd` refers to (the real path the supervisor acts on). */
export function realPath(fd: number): string {
  return descriptorPath(fd)?.toString("utf8") ?? "";
}

/** The real path of `name` in the pinned parent. */
export function sitePath(site: Site, name: Buffer): string {
  const dir = realPath(site.fd);
  return `${dir === "/" ? "" : dir}/${name.toString("utf8")}`;
}

/** Refused by policyFn's ctx.denyPath (said in RunResult.refused), or false. */
export function deniedByCallback(env: NameEnv, syscall: string, path: string): boolean {
  if (env.files?.denied(path) !== true) return false;
  env.observe({ kind: "refused", syscall, errno: E.EACCES, target: path, why: "denied by policyFn's ctx.denyPath" });
  return true;
}

/** A directory holding a path policyFn's ctx.denyPath denied, which a rename would carry
 * out from under the rule (said in RunResult.refused), or false. */
export function holdsDeniedByCallback(env: NameEnv, syscall: string, path: string): boolean {
  if (env.files?.holdsDenied(path) !== true) return false;
  env.observe({ kind: "refused", syscall, errno: E.EACCES, target: path, why: "holds a path denied by policyFn's ctx.denyPath" });
  return true;
}

/** A protected position: the name or what lies beneath it (policy/protected.ts); only
 * under protectedFiles (the name supervision also serves policyFn's file events). */
export const isProtected = (parts: readonly string[], env?: NameEnv): boolean => (env === undefined || env.protect) && protectedAt(parts);
/** A name protected names live in (`.git`), at any depth; only under protectedFiles. */
export const holdsProtected = (parts: readonly string[], env?: NameEnv): boolean => (env === undefined || env.protect) && holdsAt(parts);

/** An inode that is an existing protected file reached by another of its names. */
export function protectedInode(env: NameEnv, st: FileId): boolean {
  return env.protect && env.protectedInodes.some((p) => sameInode(p, st));
}

const umaskOf = (status: string | null): number | undefined => {
  const m = /\nUmask:\s*([0-7]+)/.exec(status ?? "");
  return m ? parseInt(m[1]!, 8) : undefined;
};

/** The calling thread's umask (its /proc status), or undefined when it cannot be read. */
export const callerUmask = (n: Notification): number | undefined => umaskOf(callerStatus(n));

/**
 * The mode bits a create must clear beyond what the kernel clears with the supervisor's
 * own umask, which it applies to every create the supervisor makes: the caller's umask is
 * applied to the mode handed over, and `fix` says whether the kernel's (the supervisor's)
 * umask clears bits the caller's keeps, so the new inode's mode must be set afterwards on
 * the descriptor (never by name). The umask is process-wide: setting the supervisor's
 * for one call would change it for every thread of the host program.
 */
export function createMode(n: Notification, mode: number): { mode: number; fix: boolean } | number {
  const caller = callerUmask(n);
  const own = umaskOf(readSmall("/proc/self/status"));
  if (caller === undefined || own === undefined) return E.EPERM;
  const want = mode & 0o7777 & ~caller;
  return { mode: want, fix: (want & own) !== 0 };
}
