// The path a trapped open names, resolved as the kernel will for the calling thread (dirfd
// or cwd, ".", "..", "//", procfs's self/thread-self/net/mounts and magic links). Shared by
// every handler that decides on a path: the /proc view, virtual files, /etc/hosts.

import { closeSync, openSync, readSync, readlinkSync } from "node:fs";
import { procfsMounts } from "../kernel/mounts.js";
import { SYSCALLS } from "../kernel/syscalls.js";
import type { ChildMemory } from "./child-memory.js";
import type { Notification } from "./notification.js";

export const AT_FDCWD = -100;
export const O = {
  ACCMODE: 0o3, WRONLY: 0o1, RDWR: 0o2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, NONBLOCK: 0o4000,
  DIRECTORY: 0o200000, NOFOLLOW: 0o400000, CLOEXEC: 0o2000000, PATH: 0o10000000,
  /** __O_TMPFILE alone (O_TMPFILE also sets O_DIRECTORY). */
  TMPFILE: 0o20000000,
} as const;
/** openat2's how.resolve bits. */
export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10, CACHED: 0x20 } as const;

export interface ResolveEnv {
  /** Procfs mount points, e.g. ["/proc"]. */
  procMounts: readonly string[];
  /** The calling thread's id (thread-self). */
  tid: number;
  /** The calling thread's thread-group id (self), or null when it cannot be read. */
  tgid(): number | null;
  /** readlink(2) of a magic link under procfs, or null when it names no path. */
  readlink(path: string): string | null;
}

export type Resolved =
  /** An absolute path without ".", "..", "//" or procfs links. symlinkLast: its last
   * component was a procfs symlink we followed (O_NOFOLLOW would stop there). pids: the
   * process directories the lookup went through, in order ("/proc/1/cwd/x" ends outside
   * /proc but went through 1). */
  | { kind: "path"; path: string; symlinkLast: boolean; trailingSlash: boolean; pids: number[] }
  /** The path ends at a magic link (fd/N, exe, cwd, root, map_files/X, ns/X): the kernel
   * jumps to whatever the link points at, which Landlock checks as any other file. path:
   * the link's own path, with self and thread-self replaced by the caller's pids. */
  | { kind: "magic"; pids: number[]; path: string }
  /** Cannot tell (a base that names no path, a deleted directory, too many links). */
  | { kind: "unknown" };

const UNKNOWN: Resolved = Object.freeze({ kind: "unknown" });
/** The kernel's limit on links followed in one lookup. */
const MAX_LINKS = 40;
/** Symlinks in a procfs root, all into the caller's own process directory. */
const PROC_LINKS = new Set(["self", "thread-self", "net", "mounts"]);
const MAGIC_FILES = new Set(["cwd", "root", "exe"]);
const MAGIC_DIRS = new Set(["fd", "map_files", "ns"]);
const NUMERIC = /^[1-9][0-9]*$/;

function parts(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

const mountParts = new Map<string, string[]>();

/** Components of the procfs mount the stack is strictly inside, or -1. */
export function procMountDepth(stack: readonly string[], mounts: readonly string[]): number {
  for (const m of mounts) {
    let mp = mountParts.get(m);
    if (mp === undefined) mountParts.set(m, (mp = parts(m)));
    if (stack.length > mp.length && mp.every((c, i) => stack[i] === c)) return mp.length;
  }
  return -1;
}

/** rel (below a procfs mount) ends exactly at a magic link of a process directory. */
export function isMagicLink(rel: readonly string[]): boolean {
  if (rel.length < 2 || !NUMERIC.test(rel[0]!)) return false;
  const r = rel[1] === "task" && rel.length >= 4 && NUMERIC.test(rel[2]!) ? rel.slice(3) : rel.slice(1);
  return (r.length === 1 && MAGIC_FILES.has(r[0]!)) || (r.length === 2 && MAGIC_DIRS.has(r[0]!));
}

/**
 * Resolves path against base (the absolute directory a relative path starts from, or null
 * when there is none). Pure but for env's callbacks. Symlinks outside procfs are not
 * followed (the kernel will; decisions that matter are backed by Landlock, see
 * handlers/procfs-open.ts).
 */
export function resolvePath(base: string | null, path: string, env: ResolveEnv): Resolved {
  let stack: string[];
  if (path.startsWith("/")) stack = [];
  else if (base !== null && base.startsWith("/")) stack = parts(base);
  else return UNKNOWN;
  const trailingSlash = path.length > 1 && path.endsWith("/");
  const pending = parts(path);
  let links = 0;
  let symlinkLast = false;
  const pids: number[] = [];
  const through = (rel: readonly string[]): void => {
    const pid = Number(rel[0]);
    if (NUMERIC.test(rel[0]!) && !pids.includes(pid)) pids.push(pid);
  };
  for (let i = 0; i < pending.length; i++) {
    const c = pending[i]!;
    const last = i === pending.length - 1;
    symlinkLast = false;
    if (c === "..") {
      stack.pop();
      continue;
    }
    stack.push(c);
    const depth = procMountDepth(stack, env.procMounts);
    if (depth < 0) continue;
    const rel = stack.slice(depth);
    if (rel.length === 1 && PROC_LINKS.has(c)) {
      const tgid = env.tgid();
      if (tgid === null || ++links > MAX_LINKS) return UNKNOWN;
      stack.pop();
      if (c === "self") stack.push(String(tgid));
      else if (c === "thread-self") stack.push(String(tgid), "task", String(env.tid));
      else stack.push(String(tgid), c);
      through([String(tgid)]);
      symlinkLast = last;
    } else if (isMagicLink(rel)) {
      through(rel);
      if (last) return { kind: "magic", pids, path: "/" + stack.join("/") };
      const target = env.readlink("/" + stack.join("/"));
      if (target === null || !target.startsWith("/") || ++links > MAX_LINKS) return UNKNOWN;
      stack = parts(target);
    } else {
      through(rel);
    }
  }
  return { kind: "path", path: "/" + stack.join("/"), symlinkLast, trailingSlash, pids };
}

/** readlink, or null when the link is gone or names no path ("pipe:[12]", a deleted file). */
export function readlinkPath(link: string): string | null {
  try {
    const target = readlinkSync(link);
    return target.startsWith("/") && !target.endsWith(" (deleted)") ? target : null;
  } catch {
    return null;
  }
}

const small = Buffer.alloc(16384);

/** A small file's text (procfs files: one read returns all of it), or null. Cheaper than
 * readFileSync, which also stats and allocates. */
export function readSmall(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    return small.toString("latin1", 0, readSync(fd, small, 0, small.length, null));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

const statusMemo = new WeakMap<Notification, string | null>();

/** /proc/<tid>/status of the notifying thread, read once per notification (generating
 * it costs the kernel about 10 us on these machines). */
export function callerStatus(n: Notification): string | null {
  if (!statusMemo.has(n)) statusMemo.set(n, readSmall(`/proc/${n.pid}/status`));
  return statusMemo.get(n)!;
}

/** The thread group (process) of the notifying thread, or null when it is gone. */
export function callerTgid(n: Notification): number | null {
  const m = /\nTgid:\s*(\d+)/.exec(callerStatus(n) ?? "");
  return m ? Number(m[1]) : null;
}

/** One open, creat, openat or openat2 call as the caller made it, with its target. */
export interface OpenRequest {
  /** The path as written. */
  raw: string;
  dirfd: number;
  flags: number;
  mode: number;
  /** openat2's RESOLVE_* bits; 0 for the other calls. */
  resolve: number;
  target: Resolved;
}

const NR = { open: SYSCALLS.open!, creat: SYSCALLS.creat!, openat: SYSCALLS.openat!, openat2: SYSCALLS.openat2! };
const OPEN_HOW_BYTES = 24;
const memo = new WeakMap<Notification, OpenRequest | null>();

/**
 * Decodes an open-family notification and resolves its path, once per notification (every
 * concern in the chain shares the result). null when the call is malformed (the kernel will
 * refuse it), the memory is unreadable, or the notification is no longer valid. The path
 * is a copy: the caller can rewrite its memory afterwards, so a decision on it is only
 * race-free when the supervisor acts on the copy (deny, or open on its behalf).
 */
export function readOpen(n: Notification, memory: ChildMemory): OpenRequest | null {
  if (memo.has(n)) return memo.get(n)!;
  const req = decodeOpen(n, memory, procfsMounts());
  memo.set(n, req);
  return req;
}

function decodeOpen(n: Notification, memory: ChildMemory, procMounts: readonly string[]): OpenRequest | null {
  let dirfd = AT_FDCWD;
  let pathArg = 0;
  let flags: number;
  let mode: number;
  let resolve = 0;
  if (n.nr === NR.open) {
    flags = n.argU32(1);
    mode = n.argU32(2);
  } else if (n.nr === NR.creat) {
    flags = O.CREAT | O.WRONLY | O.TRUNC;
    mode = n.argU32(1);
  } else if (n.nr === NR.openat || n.nr === NR.openat2) {
    dirfd = n.argI32(0);
    pathArg = 1;
    if (n.nr === NR.openat) {
      flags = n.argU32(2);
      mode = n.argU32(3);
    } else {
      if (n.arg(3) < BigInt(OPEN_HOW_BYTES)) return null;
      const how = memory.read(n, n.argAddr(2), OPEN_HOW_BYTES);
      if (how === null) return null;
      const [f, m, r] = [how.readBigUInt64LE(0), how.readBigUInt64LE(8), how.readBigUInt64LE(16)];
      // Bits beyond 32 are invalid to openat2: it fails with EINVAL on its own.
      if (f > 0xffffffffn || m > 0xffffffffn || r > 0xffffffffn) return null;
      [flags, mode, resolve] = [Number(f), Number(m), Number(r)];
    }
  } else {
    return null;
  }
  const raw = memory.readString(n, n.argAddr(pathArg));
  if (raw === null || !memory.stillValid(n)) return null;
  let base: string | null = null;
  if (!raw.startsWith("/")) {
    base = readlinkPath(dirfd === AT_FDCWD ? `/proc/${n.pid}/cwd` : `/proc/${n.pid}/fd/${dirfd}`);
  }
  let tgid: number | null | undefined;
  const env: ResolveEnv = {
    procMounts,
    tid: n.pid,
    tgid: () => (tgid === undefined ? (tgid = callerTgid(n)) : tgid),
    readlink: readlinkPath,
  };
  // RESOLVE_IN_ROOT makes an absolute path relative to dirfd: not modelled, so unknown.
  const target = (resolve & RESOLVE.IN_ROOT) !== 0 ? UNKNOWN : resolvePath(base, raw, env);
  return { raw, dirfd, flags, mode, resolve, target };
}

/** The open asks for more than reading (write access, truncation, creation). */
export function wantsWrite(flags: number): boolean {
  return (flags & O.ACCMODE) !== 0 || (flags & (O.TRUNC | O.CREAT | O.TMPFILE)) !== 0;
}
