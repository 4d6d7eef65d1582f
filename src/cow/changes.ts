// The change set of a copy-on-write run, read from the overlay's upper directory: what was
// added, modified or deleted against the real tree, and the ordered operations a commit
// applies (commit.ts). Nothing here follows a symbolic link.

import { closeSync, constants as C, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { native } from "../confine/native.js";
import { SYSCALLS } from "../kernel/syscalls.js";

/** One entry of the change list (Sandbox.dryRun, `sandlock run --dry-run`). */
export interface Change {
  /** "added" (new here), "modified" (content, mode or type), "deleted" (gone, a directory with its content). */
  readonly kind: "added" | "modified" | "deleted";
  /** The real path it concerns (beneath the workdir). */
  readonly path: string;
  /** What the path is after the change (for a deletion: what it was). */
  readonly type: "file" | "dir" | "symlink";
}

/** One operation of a commit, on a path relative to the workdir ("" is never one). Each is
 * idempotent, so a journal of them can be applied again after a crash (commit.ts). */
export type Op =
  | { readonly t: "rm"; readonly p: string }
  | { readonly t: "dir"; readonly p: string; readonly mode: number }
  | { readonly t: "file"; readonly p: string; readonly mode: number; readonly mtimeNs: string }
  | { readonly t: "link"; readonly p: string; readonly target: string };

export interface ChangeSet {
  readonly changes: Change[];
  readonly ops: Op[];
}

/** Mode bits a commit writes: never setuid or setgid (a file the sandbox marked so would
 * run with the committing user's identity); the sticky bit stays for directories. */
export const FILE_MODE_MASK = 0o777;
export const DIR_MODE_MASK = 0o1777;

const OPAQUE = Buffer.from("user.overlay.opaque\0");

/** Whether an upper directory is opaque (it replaced the real directory's content). */
export function isOpaque(path: string): boolean {
  const out = Buffer.alloc(8);
  const rc = native().syscallAs(SYSCALLS.lgetxattr!, null, Buffer.from(`${path}\0`), OPAQUE, out, out.length);
  return rc > 0 && out[0] === 0x79; // "y"
}

/** A whiteout: the overlay's mark of a deletion, a character device 0/0. */
function whiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

function lstatOr(path: string): BigIntStats | undefined {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false });
}

function typeOf(st: BigIntStats): Change["type"] | undefined {
  if (st.isDirectory()) return "dir";
  if (st.isFile()) return "file";
  if (st.isSymbolicLink()) return "symlink";
  return undefined;
}

/** Byte-for-byte equality of two regular files of the same size. */
function sameContent(a: string, b: string, size: bigint): boolean {
  if (size === 0n) return true;
  // b is the real file: without following a link and without blocking, and only while it
  // is still a regular file (another process that can write the real directory may have
  // swapped a FIFO in since it was looked at, which a plain open would wait on forever).
  let fb: number;
  try {
    fb = openSync(b, C.O_RDONLY | C.O_NONBLOCK | C.O_NOFOLLOW);
  } catch {
    return false; // a link or gone now: not the same
  }
  if (!fstatSync(fb).isFile()) {
    closeSync(fb);
    return false;
  }
  const fa = openSync(a, "r");
  try {
    const ba = Buffer.alloc(1 << 16), bb = Buffer.alloc(1 << 16);
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, null);
      const nb = readSync(fb, bb, 0, bb.length, null);
      if (na !== nb) return false;
      if (na === 0) return true;
      if (!ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** A regular file or symlink of the upper layer that differs from the real one (or is new). */
function leafDiffers(u: BigIntStats, upath: string, r: BigIntStats | undefined, rpath: string): boolean {
  if (r === undefined || typeOf(r) !== typeOf(u)) return true;
  if (u.isSymbolicLink()) return readlinkSync(upath) !== readlinkSync(rpath);
  if ((u.mode & 0o7777n) !== (r.mode & 0o7777n) || u.size !== r.size) return true;
  // A copy-up without a change (opened for writing, touched): the content decides.
  return !sameContent(upath, rpath, u.size);
}

/**
 * Walks upper against the real workdir. Ops come in three runs: first the removals a
 * change of type needs (a file that became a directory), then every creation in pre-order
 * (a directory before its content), then the deletions deepest first.
 */
export function readChanges(upper: string, workdir: string): ChangeSet {
  const changes: Change[] = [];
  const first: Op[] = [], create: Op[] = [], remove: Op[] = [];
  const walk = (rel: string, realExists: boolean): void => {
    const udir = join(upper, rel);
    const names = readdirSync(udir).sort();
    const seen = new Set(names);
    if (realExists && rel !== "" && isOpaque(udir)) {
      // The directory was removed and made again: what the real one held is gone.
      for (const name of readdirSync(join(workdir, rel)).sort()) {
        if (seen.has(name)) continue;
        const p = join(rel, name);
        const st = lstatOr(join(workdir, p));
        if (st === undefined) continue;
        changes.push({ kind: "deleted", path: join(workdir, p), type: typeOf(st) ?? "file" });
        remove.push({ t: "rm", p });
      }
    }
    for (const name of names) {
      const p = rel === "" ? name : join(rel, name);
      const upath = join(upper, p), rpath = join(workdir, p);
      const u = lstatSync(upath, { bigint: true });
      const r = realExists ? lstatOr(rpath) : undefined;
      if (whiteout(u)) {
        if (r === undefined) continue;
        changes.push({ kind: "deleted", path: rpath, type: typeOf(r) ?? "file" });
        remove.push({ t: "rm", p });
        continue;
      }
      const type = typeOf(u);
      if (type === undefined) continue; // fifos and sockets are not committed (docs/cow.md)
      const replaced = r !== undefined && typeOf(r) !== type;
      if (replaced && (type === "dir" || r!.isDirectory())) first.push({ t: "rm", p });
      if (type === "dir") {
        const mode = Number(u.mode) & DIR_MODE_MASK;
        if (r === undefined || replaced) changes.push({ kind: r === undefined ? "added" : "modified", path: rpath, type });
        else if ((Number(r.mode) & DIR_MODE_MASK) !== mode) changes.push({ kind: "modified", path: rpath, type });
        create.push({ t: "dir", p, mode });
        walk(p, r !== undefined && !replaced);
        continue;
      }
      if (!leafDiffers(u, upath, r, rpath)) continue;
      changes.push({ kind: r === undefined ? "added" : "modified", path: rpath, type });
      create.push(type === "symlink" ? { t: "link", p, target: readlinkSync(upath) } : { t: "file", p, mode: Number(u.mode) & FILE_MODE_MASK, mtimeNs: u.mtimeNs.toString() });
    }
  };
  walk("", true);
  remove.reverse();
  return { changes, ops: [...first, ...create, ...remove] };
}
