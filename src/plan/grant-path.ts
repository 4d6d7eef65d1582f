// Resolving a granted path without following a symbolic link that another process could
// swap: the planner's one way from a grant's path to the real path its rules are built on.

import { lstatSync, readlinkSync, type Stats } from "node:fs";

/** Symbolic links followed in one resolution before giving up, as the kernel's limit. */
const MAX_LINKS = 40;

/**
 * A symbolic link on a grant's path that sits where a process other than root could
 * replace it. `dir` is the first directory, from the root down, that makes it so.
 */
export class SwappableLinkError extends Error {
  readonly code = "ESWAPPABLELINK";
  constructor(
    readonly link: string,
    readonly target: string,
    readonly dir: string,
    readonly why: string,
  ) {
    super(`${link} is a symbolic link (to ${target}) in a directory that processes other than root can change (${dir}: ${why})`);
  }
}

/** lstat results shared by the resolutions of one pass over the host (withLstatMemo). */
let memo: Map<string, Stats | Error> | undefined;

function lstatOnce(p: string): Stats {
  if (memo === undefined) return lstatSync(p);
  let r = memo.get(p);
  if (r === undefined) {
    try {
      r = lstatSync(p);
    } catch (e) {
      r = e as Error;
    }
    memo.set(p, r);
  }
  if (r instanceof Error) throw r;
  return r;
}

/**
 * fn() (synchronous), with each path's lstat made once for all the resolutions it does.
 * One pass over the host (planning a policy, or checking that a cached plan still holds)
 * then reads the directories on its grants' paths once each, however many grants pass
 * through them: a /proc grant's 40-odd entries each went through "/" and "/proc". The pass
 * sees one snapshot of the host, as if it were instantaneous; nothing in it writes.
 */
export function withLstatMemo<T>(fn: () => T): T {
  if (memo !== undefined) return fn();
  memo = new Map();
  try {
    return fn();
  } finally {
    memo = undefined;
  }
}

/** Why a directory lets a process other than root change its entries, or undefined. */
function untrustedBecause(st: Stats): string | undefined {
  if (st.uid !== 0) return `owned by uid ${st.uid}`;
  if ((st.mode & 0o022) !== 0) return `writable by ${(st.mode & 0o002) !== 0 ? "others" : "its group"}`;
  return undefined;
}

interface Prefix {
  path: string;
  /** The first directory of this prefix (root down) another process could change, and why. */
  untrusted?: { dir: string; why: string };
}

function errno(code: string, path: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${path}`) as NodeJS.ErrnoException;
  e.code = code;
  e.path = path;
  return e;
}

/**
 * The real path of `path`, resolved component by component as the kernel would, except
 * that a symbolic link is followed only where no process other than root can swap it: in
 * a directory that, with every ancestor, is owned by root and writable by no group or
 * other (the system's own links: /lib -> usr/lib, /etc/alternatives). Anything else throws
 * SwappableLinkError.
 *
 * Why: a grant is planned (its real path, the /proc view, the carve-outs) and then its rule
 * is opened at the real path without following links (the launcher). A link the planner
 * followed in a directory another process can write (another sandbox granted that
 * directory, or anyone in /tmp) may have been swapped in a moment before planning, and the
 * grant would land wherever it pointed. Trusting root-owned directories means trusting root;
 * a sandbox running as root and granted writes to such a directory could plant a link there
 * (docs/security.md says so). Each link is judged where it is found, so a link into a user's
 * directory from a system one is followed, and a link in that user directory is not.
 *
 * Other errors are the ones realpath(3) gives: ENOENT, ENOTDIR, ELOOP, EACCES.
 */
export function grantRealpath(path: string, lstat: (p: string) => Stats = lstatOnce, readlink: (p: string) => string = readlinkSync): string {
  if (!path.startsWith("/")) throw errno("EINVAL", path);
  const root: Prefix = { path: "/" };
  const why = untrustedBecause(lstat("/"));
  if (why !== undefined) root.untrusted = { dir: "/", why };
  const stack: Prefix[] = [root];
  const todo = path.split("/").filter((c) => c.length > 0 && c !== ".").reverse();
  let links = 0;
  while (todo.length > 0) {
    const name = todo.pop()!;
    const top = stack[stack.length - 1]!;
    if (name === "..") {
      if (stack.length > 1) stack.pop();
      continue;
    }
    if (name === ".") continue;
    const full = top.path === "/" ? `/${name}` : `${top.path}/${name}`;
    const st = lstat(full);
    if (st.isSymbolicLink()) {
      const target = readlink(full);
      if (top.untrusted !== undefined) throw new SwappableLinkError(full, target, top.untrusted.dir, top.untrusted.why);
      if (++links > MAX_LINKS) throw errno("ELOOP", path);
      if (target.startsWith("/")) stack.length = 1;
      for (const c of target.split("/").reverse()) if (c.length > 0 && c !== ".") todo.push(c);
      continue;
    }
    if (todo.length > 0 && !st.isDirectory()) throw errno("ENOTDIR", full);
    const entry: Prefix = { path: full };
    if (top.untrusted !== undefined) entry.untrusted = top.untrusted;
    else {
      const w = st.isDirectory() ? untrustedBecause(st) : undefined;
      if (w !== undefined) entry.untrusted = { dir: full, why: w };
    }
    stack.push(entry);
  }
  return stack[stack.length - 1]!.path;
}
