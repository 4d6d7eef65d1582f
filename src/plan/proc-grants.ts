// Landlock grants that never reach another process's /proc directory: a grant on /proc or
// an ancestor of it is split into rules on its entries, leaving out every process
// directory and the kernel's secrets. The supervisor serves the sandbox's own.

import { closeSync, constants, lstatSync, openSync, readdirSync, statSync, type Dirent, type Stats } from "node:fs";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { observe } from "./host-reads.js";
import { grantRealpath } from "./grant-path.js";
import { PolicyError } from "../errors.js";
import type { PathGrant } from "./landlock.js";

/** Files under /proc no sandbox reads: kernel memory and symbols, the kernel log, keys,
 * SysRq, physical page state, and the scheduler's and timers' lists of every task. */
export const HIDDEN_PROC_FILES: readonly string[] = [
  "kcore", "kmsg", "kallsyms", "keys", "key-users", "sysrq-trigger",
  "kpagecount", "kpageflags", "kpagecgroup", "sched_debug", "timer_list",
];

/** "file": a regular file (or anything not listed here); "device": a character or block
 * device node. */
export type EntryType = "dir" | "file" | "symlink" | "device" | "fifo" | "socket";

function entryType(st: Stats | Dirent): EntryType {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isDirectory()) return "dir";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "device";
  if (st.isFIFO()) return "fifo";
  return st.isSocket() ? "socket" : "file";
}

/** The filesystem as the planner sees it (a fake in unit tests). */
export interface FsView {
  realpath(path: string): string;
  /** Entries of a directory that `wanted` accepts, with their types (of the entry itself,
   * not of what a symlink leads to). An entry that vanishes while listed is left out.
   * `procRoot`: dir is the root of a procfs mount, whose process directories `wanted`
   * rejects; the listing may stop where they begin (listProcRoot). */
  list(dir: string, wanted: (name: string) => boolean, procRoot?: boolean): { name: string; type: EntryType }[];
  /** The type of what path leads to (symlinks followed), undefined when nothing is there.
   * Optional: without it, the planner lists the parent directory of the real path. */
  type?(path: string): EntryType | undefined;
}

/**
 * Start-up must not depend on other processes' timing. readdir with file types is not
 * enough: procfs reports a process that exits during the listing with type DT_UNKNOWN, and
 * Node then lstat()s it and throws ENOENT for the whole listing. So when that listing
 * fails, names come first, names `wanted` rejects (process directories) are never looked
 * at, and the type of each other entry comes from lstat, where ENOENT means it is gone and
 * needs no rule (were it created again, it would have none: closed, not open). The types
 * readdir gives are used when it succeeds: an lstat per entry cost 2.7 ms for /dev's 294.
 */
export const HOST_FS: FsView = {
  // Each read is noted for the plan cache's check (plan/host-reads.ts).
  realpath: (p) => observe(`realpath ${p}`, () => grantRealpath(p)),
  list: (dir, wanted, procRoot) => observe(undefined, () => (procRoot === true ? listProcRoot(dir, wanted) : listHost(dir, wanted))),
  type: (p) =>
    observe(`type ${p}`, () => {
      const st = statSync(p, { throwIfNoEntry: false });
      return st === undefined ? undefined : entryType(st);
    }),
};

function listHost(dir: string, wanted: (name: string) => boolean): { name: string; type: EntryType }[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => wanted(d.name)).map((d) => ({ name: d.name, type: entryType(d) }));
  } catch {
    // an entry vanished while Node looked at its type (or the directory is unreadable,
    // which the listing below reports)
  }
  const out: { name: string; type: EntryType }[] = [];
  for (const name of readdirSync(dir)) {
    if (!wanted(name)) continue;
    const st = lstatSync(childPath(dir, name), { throwIfNoEntry: false });
    if (st === undefined) continue;
    out.push({ name, type: entryType(st) });
  }
  return out;
}

/** getdents64's d_type values (dirent.h). */
const DT_TYPES: Record<number, EntryType> = { 1: "fifo", 2: "device", 4: "dir", 6: "device", 10: "symlink", 12: "socket" };

/**
 * The entries of a procfs mount's root that `wanted` accepts, read with getdents64 only up
 * to the first process directory. The kernel lists the root's fixed entries first and the
 * processes after them (then every process, 1,570 of them in a listing of 1.25 ms by
 * readdirSync on a busy host, where the fixed part took 10 us read this way), so a start
 * no longer pays for the host's process count. Were the kernel ever to list a fixed entry
 * after the processes, that entry would get no rule: hidden from the sandbox, never shown.
 * An entry of unknown type (DT_UNKNOWN) is looked at with lstat, as readdirSync does.
 */
function listProcRoot(dir: string, wanted: (name: string) => boolean): { name: string; type: EntryType }[] {
  let addon: ReturnType<typeof native>;
  try {
    addon = native();
  } catch {
    return listHost(dir, wanted); // planning without the addon (no sandbox can start then)
  }
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  const out: { name: string; type: EntryType }[] = [];
  try {
    const buf = Buffer.allocUnsafe(4096);
    for (;;) {
      const got = addon.getdents(fd, buf, 0);
      if (got < 0) throw errnoError(-got, "getdents64", dir);
      if (got === 0) return byName(out);
      for (let at = 0; at + 19 < got; ) {
        const reclen = buf.readUInt16LE(at + 16);
        if (reclen < 20 || at + reclen > got) throw errnoError(5 /* EIO */, "getdents64", dir);
        const end = buf.indexOf(0, at + 19);
        const name = buf.toString("utf8", at + 19, end < 0 || end > at + reclen ? at + reclen : end);
        const dtype = buf[at + 18]!;
        at += reclen;
        if (NUMERIC.test(name)) return byName(out);
        if (name === "." || name === ".." || !wanted(name)) continue;
        let type = DT_TYPES[dtype];
        if (type === undefined && dtype !== 8) {
          const st = lstatSync(childPath(dir, name), { throwIfNoEntry: false });
          if (st === undefined) continue;
          type = entryType(st);
        }
        out.push({ name, type: type ?? "file" });
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** In the order readdirSync gives (libuv sorts by bytes; these names are ASCII). */
function byName<T extends { name: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function errnoError(errno: number, call: string, path: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  return Object.assign(new Error(`${code}: ${call} ${path}`), { code });
}

export interface ProcGrants {
  /** The grants to give Landlock. */
  grants: PathGrant[];
  /** Procfs mounts the original grants reached (their process directories are hidden). */
  reached: string[];
  /** Whether a writable grant reached one of them. */
  writable: boolean;
}

const NUMERIC = /^[0-9]+$/;

/** a is b or inside it. */
export function within(a: string, b: string): boolean {
  return a === b || b === "/" || a.startsWith(b + "/");
}

/** The path of entry `name` of directory `dir`. */
export function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/**
 * Why this replaces rather than filters: Landlock rules only ever add access, so a rule on
 * "/" cannot exclude /proc/1. Instead the directory keeps only the right to list it, and
 * each entry gets the full rights of the grant, except the branch leading to procfs, which
 * is split the same way, and, in procfs, the process directories, procfs's symlinks into
 * them (self, thread-self, net, mounts) and the hidden files. Symlinks elsewhere need no
 * rule: Landlock checks the file a path resolves to, whose own rule applies.
 *
 * This is what makes the supervisor's /proc checks race-free: a path the supervisor let
 * continue can be rewritten by another thread before the kernel reads it, but whatever it
 * then names, Landlock still refuses a process directory or a hidden file.
 */
export function hideProcesses(grants: readonly PathGrant[], mounts: readonly string[], fs: FsView = HOST_FS): ProcGrants {
  const out: PathGrant[] = [];
  const reached = new Set<string>();
  let writable = false;
  for (const g of grants) {
    if (g.dirOnly) {
      out.push(g); // from an earlier split: no file right to give away
      continue;
    }
    const field = g.writable ? "fsWritable" : "fsReadable";
    const real = fs.realpath(g.path);
    const inside = mounts.find((m) => real !== m && within(real, m));
    if (inside !== undefined) {
      const first = real.slice(inside.length + 1).split("/")[0]!;
      if (NUMERIC.test(first)) {
        throw new PolicyError(field, g.path, `${field}: ${JSON.stringify(g.path)} names a process directory under ${inside}; grant ${JSON.stringify(inside)} instead (the sandbox then sees its own processes, and only those)`);
      }
      if (HIDDEN_PROC_FILES.includes(first)) {
        throw new PolicyError(field, g.path, `${field}: ${JSON.stringify(g.path)} is always hidden from the sandbox (kernel memory, logs, keys and task lists under ${inside})`);
      }
      if (g.writable) {
        // See split(): outside the process directories, procfs holds host-wide settings.
        throw new PolicyError(field, g.path, `${field}: ${JSON.stringify(g.path)} is in ${inside}, whose files outside the process directories are the host's kernel settings: never writable from a sandbox (uid 0 without capabilities could change them); grant it readable, or grant ${JSON.stringify(inside)} writable for the sandbox's own process files`);
      }
      out.push(g);
      continue;
    }
    const below = mounts.filter((m) => within(m, real));
    if (below.length === 0) {
      out.push(g);
      continue;
    }
    for (const m of below) reached.add(m);
    writable ||= g.writable;
    try {
      split(real, g.writable, below, fs, out);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new PolicyError(field, g.path, `${field}: ${JSON.stringify(g.path)} contains procfs (${below.join(", ")}), and its entries cannot be listed to leave the process directories out (${code}); grant its subdirectories instead`);
    }
  }
  return { grants: out, reached: [...reached], writable };
}

/*
 * Inside a procfs mount every rule is read-only, whatever the grant: the entries beside the
 * process directories are the host's (sysctls under /proc/sys, IRQ affinities, binfmt_misc
 * below it), and the kernel lets uid 0 write most of them on file mode alone, without any
 * capability: a sandbox running as root with /proc (or /) granted writable could set
 * kernel.core_pattern, a command the kernel runs as root outside any sandbox (second
 * review of issue 9). The sandbox's own process files stay writable under such a grant:
 * the supervisor opens those (ProcGrants.writable), Landlock never sees them.
 */
function split(dir: string, writable: boolean, mounts: readonly string[], fs: FsView, out: PathGrant[]): void {
  const isMount = mounts.includes(dir);
  if (isMount) writable = false;
  // The directory itself may only be listed, even under a writable grant: Landlock's rights
  // on a directory reach everything beneath it, so creating or removing entries here would
  // also reach the entries this split leaves out or makes read-only (unlinking the host's
  // device nodes under a writable "/", plan/dev-grants.ts).
  out.push({ path: dir, isDir: true, writable: false, dirOnly: true });
  const wanted = (name: string): boolean => !isMount || (!NUMERIC.test(name) && !HIDDEN_PROC_FILES.includes(name));
  for (const e of fs.list(dir, wanted, isMount)) {
    const path = childPath(dir, e.name);
    if (e.type === "symlink") continue;
    const deeper = mounts.filter((m) => within(m, path));
    if (deeper.length > 0 && e.type === "dir") split(path, writable, deeper, fs, out);
    else out.push({ path, isDir: e.type === "dir", writable });
  }
}
