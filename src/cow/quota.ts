// maxDisk (docs/cow.md): the staged writes live in a tmpfs of that size inside the
// sandbox's mount namespace (native/launcher/cow.c), which ends with the sandbox. This
// process holds the tmpfs's root (a duplicate taken from the launcher), and copies its
// upper directory out into the branch on disk before anything reads it, so listing,
// commit, keep and `sandlock branch` work on the branch as they do without a quota.

import { closeSync, constants as C, fchmodSync, futimesSync, lstatSync, openSync, readdirSync, readlinkSync, chmodSync, symlinkSync, utimesSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { native } from "../confine/native.js";
import { errnoName } from "../confine/errno.js";
import { SYSCALLS } from "../kernel/syscalls.js";
import { O, RESOLVE } from "../supervise/paths.js";
import { copyData, linkBeneath, makeDirBeneath } from "./beneath.js";
import { isOpaque } from "./changes.js";
import { openInStore } from "./stage.js";

const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;
const S_IFCHR = 0o020000;
const OPAQUE = Buffer.from("user.overlay.opaque\0");

/** The stage's upper directory, through this process's descriptor of the tmpfs root: by
 * this process's pid, not /proc/self, so the diff(1) a dry run spawns reaches it too. */
export function stageUpper(stageFd: number): string {
  return `/proc/${process.pid}/fd/${stageFd}/upper`;
}

/** A staged entry's atime and mtime, in seconds (futimes, utimes). */
const times = (st: BigIntStats): [number, number] => [Number(st.atimeNs / 1000n) / 1e6, Number(st.mtimeNs / 1000n) / 1e6];

/**
 * What one copy-out keeps across entries. Every write goes through `upperFd`, the
 * branch's upper pinned once, and descriptors opened beneath it without following a link:
 * the store may be writable by a sandbox (a grant on the home or on /tmp), which can swap
 * any directory here for a link while the copy runs; a copy by path then created the rest
 * of the stage's files, and set their modes, where the link led (docs/security.md, "The
 * branch store"). `dirs`: directories (relative to upper) whose modes and times are set
 * last; `links`: the first copy of each file with more than one name (by "dev:ino").
 */
interface Copying {
  readonly upperFd: number;
  readonly upper: string;
  readonly dirs: [string, BigIntStats][];
  readonly links: Map<string, string>;
}

/** An error naming the branch path `rel` (relative to upper) and what failed on it. */
function failure(c: Copying, rel: string, what: string, e: unknown): Error {
  const code = typeof e === "number" ? errnoName(-e) : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
  return Object.assign(new Error(`${join(c.upper, rel)}: ${what}: ${code}`), { code });
}

/** Runs `fn`, naming `rel` in what it throws. */
function naming<T>(c: Copying, rel: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw failure(c, rel, what, e);
  }
}

/** Every entry of the stage directory `from`, copied into the branch directory `dirFd`
 * (`rel` relative to upper). */
function copyChildren(from: string, dirFd: number, rel: string, c: Copying): void {
  for (const name of readdirSync(from)) {
    const sub = join(from, name);
    copyEntry(sub, dirFd, name, rel === "" ? name : `${rel}/${name}`, lstatSync(sub, { bigint: true }), c);
  }
}

/** One entry of the stage's upper, copied to `name` in `dirFd` with what a change set
 * reads: the type, bytes, mode and mtime of a file, a symlink's target, a directory's
 * opaque mark, a whiteout. FIFOs and sockets are skipped (a commit does not carry them
 * either). Nothing is made by a path: mkdir, symlink and mknod name one component beneath
 * `dirFd` (none follows it), files are created O_EXCL beneath it. */
function copyEntry(from: string, dirFd: number, name: string, rel: string, st: BigIntStats, c: Copying): void {
  if (st.isDirectory()) {
    // O_RDONLY, not O_PATH: fsetxattr needs a descriptor that reads.
    const sub = makeDirBeneath(dirFd, name, 0o700, join(c.upper, rel), 0);
    try {
      if (isOpaque(from)) {
        const rc = native().syscallAs(SYSCALLS.fsetxattr!, null, sub, OPAQUE, Buffer.from("y"), 1, 0);
        if (rc < 0) throw failure(c, rel, "fsetxattr(user.overlay.opaque)", rc);
      }
      copyChildren(from, sub, rel, c);
    } finally {
      closeSync(sub);
    }
    c.dirs.push([rel, st]); // modes and times once the content is in (a 0555 directory)
  } else if (st.isFile()) {
    // A second name of a staged file is a second name in the branch: a hard link costs the
    // stage one inode and no data, and copied as a file of its own each name took the
    // host's disk the file's size again (fifth review: 1,000 names of a 900 KB file under
    // a 1 MB quota made 861 MB on disk). The first name is reopened beneath upper without
    // following a link, and linked by its descriptor.
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1n ? c.links.get(key) : undefined;
    if (first !== undefined) {
      const src = native().openat2(c.upperFd, first, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, BENEATH);
      if (src < 0) throw failure(c, first, "open", src);
      try {
        return linkBeneath(src, dirFd, name, join(c.upper, rel));
      } finally {
        closeSync(src);
      }
    }
    if (st.nlink > 1n) c.links.set(key, rel);
    // Data extents only (cow/beneath.ts): a sparse file's holes cost the stage nothing, and
    // must not cost the host's disk more than the quota let the stage hold.
    const src = openSync(from, C.O_RDONLY | C.O_NOFOLLOW);
    try {
      const dst = native().openat2(dirFd, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600, BENEATH);
      if (dst < 0) throw failure(c, rel, "open(O_CREAT|O_EXCL)", dst);
      try {
        naming(c, rel, "copy", () => {
          copyData(src, dst);
          fchmodSync(dst, Number(st.mode & 0o7777n));
          futimesSync(dst, ...times(st));
        });
      } finally {
        closeSync(dst);
      }
    } finally {
      closeSync(src);
    }
  } else if (st.isSymbolicLink()) {
    naming(c, rel, "symlink", () => symlinkSync(readlinkSync(from), `/proc/self/fd/${dirFd}/${name}`));
  } else if (st.isCharacterDevice() && st.rdev === 0n) {
    const rc = native().syscallAs(SYSCALLS.mknodat!, null, dirFd, Buffer.from(`${name}\0`), S_IFCHR, 0);
    if (rc < 0) throw failure(c, rel, "mknodat(whiteout)", rc);
  }
}

/** The directories' modes and times, deepest first (each reopened beneath upper without
 * following a link; its parents are still 0700 when it is reached). */
function keepDirModes(c: Copying): void {
  for (const [rel, st] of c.dirs) {
    const fd = native().openat2(c.upperFd, rel, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, BENEATH);
    if (fd < 0) throw failure(c, rel, "open (replaced by a link or a file since it was made)", fd);
    try {
      // chmod and utimes of the descriptor's own /proc/self/fd entry act on exactly the
      // inode it pinned (an O_PATH descriptor has no fchmod).
      naming(c, rel, "chmod, utimes", () => {
        chmodSync(`/proc/self/fd/${fd}`, Number(st.mode & 0o7777n));
        utimesSync(`/proc/self/fd/${fd}`, ...times(st));
      });
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Copies the quota stage's upper (`stageFd`: this process's descriptor of the tmpfs root)
 * into `upper`, the branch's empty upper directory on disk, and closes the descriptor:
 * the tmpfs and every byte in it go with it. Throws when the copy fails (the disk is
 * full, or a name in the branch was replaced meanwhile): the caller keeps the branch and
 * says what was lost.
 */
export function drainStage(stageFd: number, upper: string): void {
  try {
    const upperFd = openInStore(upper, 2);
    try {
      const c: Copying = { upperFd, upper, dirs: [], links: new Map() };
      copyChildren(stageUpper(stageFd), upperFd, "", c);
      keepDirModes(c);
    } finally {
      closeSync(upperFd);
    }
  } finally {
    closeSync(stageFd);
  }
}
