// maxDisk (docs/cow.md): the staged writes live in a tmpfs of that size inside the
// sandbox's mount namespace (native/launcher/cow.c), which ends with the sandbox. This
// process holds the tmpfs's root (a duplicate taken from the launcher), and copies its
// upper directory out into the branch on disk before anything reads it, so listing,
// commit, keep and `sandlock branch` work on the branch as they do without a quota.

import { chmodSync, closeSync, constants as C, linkSync, lstatSync, openSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, utimesSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { native } from "../confine/native.js";
import { SYSCALLS } from "../kernel/syscalls.js";
import { copyData } from "./beneath.js";
import { isOpaque } from "./changes.js";

const AT_FDCWD = -100;
const S_IFCHR = 0o020000;
const OPAQUE = Buffer.from("user.overlay.opaque\0");

/** The stage's upper directory, through this process's descriptor of the tmpfs root: by
 * this process's pid, not /proc/self, so the diff(1) a dry run spawns reaches it too. */
export function stageUpper(stageFd: number): string {
  return `/proc/${process.pid}/fd/${stageFd}/upper`;
}

/** A copied entry's mode and times, as the stage had them. */
function keepModeAndTimes(path: string, st: BigIntStats): void {
  chmodSync(path, Number(st.mode & 0o7777n));
  utimesSync(path, Number(st.atimeNs / 1000n) / 1e6, Number(st.mtimeNs / 1000n) / 1e6);
}

/** What one copy-out keeps across entries: directories whose modes and times are set
 * last, and the first copy of each file with more than one name (by "dev:ino"). */
interface Copying {
  readonly dirs: [string, BigIntStats][];
  readonly links: Map<string, string>;
}

/** Every entry of directory `from`, copied into the existing directory `to`. */
function copyChildren(from: string, to: string, c: Copying): void {
  for (const name of readdirSync(from)) {
    const sub = join(from, name);
    copyEntry(sub, join(to, name), lstatSync(sub, { bigint: true }), c);
  }
}

/** One entry of the stage's upper, copied to `to` with what a change set reads: the type,
 * bytes, mode and mtime of a file, a symlink's target, a directory's opaque mark, a
 * whiteout. FIFOs and sockets are skipped (a commit does not carry them either). */
function copyEntry(from: string, to: string, st: BigIntStats, c: Copying): void {
  if (st.isDirectory()) {
    mkdirSync(to, { mode: 0o700 });
    if (isOpaque(from)) {
      const rc = native().syscallAs(SYSCALLS.setxattr!, null, Buffer.from(`${to}\0`), OPAQUE, Buffer.from("y"), 1, 0);
      if (rc < 0) throw new Error(`${to}: setxattr(user.overlay.opaque): errno ${-rc}`);
    }
    copyChildren(from, to, c);
    c.dirs.push([to, st]); // modes and times once the content is in (a 0555 directory)
  } else if (st.isFile()) {
    // A second name of a staged file is a second name in the branch: a hard link costs the
    // stage one inode and no data, and copied as a file of its own each name took the
    // host's disk the file's size again (fifth review: 1,000 names of a 900 KB file under
    // a 1 MB quota made 861 MB on disk).
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1n ? c.links.get(key) : undefined;
    if (first !== undefined) return linkSync(first, to);
    if (st.nlink > 1n) c.links.set(key, to);
    // Data extents only (cow/beneath.ts): a sparse file's holes cost the stage nothing, and
    // must not cost the host's disk more than the quota let the stage hold.
    const src = openSync(from, C.O_RDONLY | C.O_NOFOLLOW);
    try {
      const dst = openSync(to, C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o600);
      try {
        copyData(src, dst);
      } finally {
        closeSync(dst);
      }
    } finally {
      closeSync(src);
    }
    keepModeAndTimes(to, st);
  } else if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(from), to);
  } else if (st.isCharacterDevice() && st.rdev === 0n) {
    const rc = native().syscallAs(SYSCALLS.mknodat!, null, AT_FDCWD, Buffer.from(`${to}\0`), S_IFCHR, 0);
    if (rc < 0) throw new Error(`${to}: mknodat(whiteout): errno ${-rc}`);
  }
}

/**
 * Copies the quota stage's upper (`stageFd`: this process's descriptor of the tmpfs root)
 * into `upper`, the branch's empty upper directory on disk, and closes the descriptor:
 * the tmpfs and every byte in it go with it. Throws when the copy fails (the disk is
 * full): the caller keeps the branch and says what was lost.
 */
export function drainStage(stageFd: number, upper: string): void {
  try {
    const c: Copying = { dirs: [], links: new Map() };
    copyChildren(stageUpper(stageFd), upper, c);
    for (const [dir, st] of c.dirs) keepModeAndTimes(dir, st);
  } finally {
    closeSync(stageFd);
  }
}
