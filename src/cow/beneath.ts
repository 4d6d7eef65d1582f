// Writes and removals of a commit through descriptors pinned beneath a directory, never by
// a path a concurrent process could redirect: the real workdir may be writable by another
// sandbox (a plain grant on it) while a commit runs, the branch's upper by a process
// that was handed a descriptor of the overlay, and the branch store by a sandbox granted
// it. See docs/security.md, "Commit races" and "The branch store".

import { chmodSync, closeSync, fchmodSync, fstatSync, ftruncateSync, futimesSync, lstatSync, mkdirSync, readdirSync, readSync, rmdirSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname } from "node:path";
import { SYSCALLS } from "../kernel/syscalls.js";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { AT_FDCWD, O, RESOLVE } from "../supervise/paths.js";

const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;
const ENOENT = 2, ENOTDIR = 20, ELOOP = 40;

function errnoError(what: string, rc: number): Error {
  return Object.assign(new Error(`${what}: errno ${-rc}`), { errno: -rc });
}

const SEEK_DATA = 3, SEEK_HOLE = 4, ENXIO = 6;

/**
 * Copies the regular file `src` into the empty file `dst` (descriptors), its data extents
 * only (SEEK_DATA/SEEK_HOLE), then sets the size: holes stay holes. A sparse file costs a
 * tmpfs (maxDisk) nothing for its holes; copied byte by byte, `truncate -s 256M` under a
 * 1 MB quota became 256 MB on the host's disk (and a 1 TB one, 1 TB).
 */
export function copyData(src: number, dst: number): void {
  const size = fstatSync(src).size;
  const buf = Buffer.allocUnsafe(1 << 20);
  const seek = (at: number, whence: number): number => native().syscallAs(SYSCALLS.lseek!, null, src, at, whence);
  let at = 0;
  while (at < size) {
    const data = seek(at, SEEK_DATA);
    if (data === -ENXIO) break; // only a hole is left
    if (data < 0) throw errnoError("lseek(SEEK_DATA)", data);
    const hole = seek(data, SEEK_HOLE);
    if (hole < 0) throw errnoError("lseek(SEEK_HOLE)", hole);
    for (let pos = data; pos < hole; ) {
      const n = readSync(src, buf, 0, Math.min(buf.length, hole - pos), pos);
      if (n === 0) break; // shrunk meanwhile
      for (let off = 0; off < n; ) off += writeSync(dst, buf, off, n - off, pos + off);
      pos += n;
    }
    at = hole;
  }
  ftruncateSync(dst, size);
}

/** `rel` (relative, any depth) opened beneath `dirFd` without following any link. */
export function openBeneath(dirFd: number, rel: string, flags: number, mode = 0): number {
  const fd = native().openat2(dirFd, rel, flags | O.CLOEXEC, mode, BENEATH);
  if (fd < 0) throw errnoError(`open ${rel}`, fd);
  return fd;
}

/**
 * The file `rel` of a branch's upper (`upperFd`), copied into a new file `tmpName` that is
 * created exclusively in `dirFd` (O_EXCL never follows a link), with its mode and mtime set
 * on that descriptor. A chmod or utimes by path would follow a link a concurrent process
 * swapped in for the temporary name and change the file it names, with the committing
 * user's rights (root's, for root). The source is opened beneath upper without following
 * a link: a symlink swapped into upper during the commit cannot make it copy a host file.
 */
export function writeFileBeneath(upperFd: number, rel: string, dirFd: number, tmpName: string, mode: number, mtime: number): void {
  const src = openBeneath(upperFd, rel, 0 /* O_RDONLY */);
  try {
    const dst = openBeneath(dirFd, tmpName, O.WRONLY | O.CREAT | O.EXCL, 0o600);
    try {
      copyData(src, dst);
      fchmodSync(dst, mode);
      futimesSync(dst, mtime, mtime);
    } finally {
      closeSync(dst);
    }
  } finally {
    closeSync(src);
  }
}

/** The directory `name` in `dirFd` set to `mode` through a descriptor opened without
 * following a link (one swapped in since the mkdir: an error, nothing outside changes).
 * O_PATH, so a directory this user may not list is changed too; chmod of the descriptor's
 * own /proc/self/fd entry acts on exactly the inode it pinned. */
export function chmodDirBeneath(dirFd: number, name: string, mode: number): void {
  const fd = openBeneath(dirFd, name, O.PATH | O.DIRECTORY | O.NOFOLLOW);
  try {
    chmodSync(`/proc/self/fd/${fd}`, mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * For removeBeneath and removeBeneathLater: the directory `name` in `dirFd` opened without
 * following a link, once a directory its owner made unlistable or unwritable (chmod 0,
 * 0500: a sandbox can; the overlay's work/work is 000) is opened up through a descriptor
 * that follows nothing (one of another owner stays as it is: the removal says so if it
 * matters). "gone", or "replaced" when it became a link or a file meanwhile.
 */
function enterForRemoval(dirFd: number, name: string, mode: number): number | "gone" | "replaced" {
  if ((mode & 0o700) !== 0o700) {
    try {
      chmodDirBeneath(dirFd, name, 0o700);
    } catch {
      // not ours, or gone: the open or the rmdir reports it
    }
  }
  const sub = native().openat2(dirFd, name, O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, BENEATH);
  if (sub === -ENOENT) return "gone";
  if (sub === -ELOOP || sub === -ENOTDIR) return "replaced";
  if (sub < 0) throw errnoError(`open ${name}`, sub);
  return sub;
}

type RmdirOutcome = "gone" | "again" | "replaced";

/** What a failed rmdir of a directory being removed means: gone, look again (ENOTEMPTY,
 * twice at most), or replaced by a link or a file; anything else is thrown. */
function afterRmdir(e: unknown, pass: number): RmdirOutcome {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "gone";
  if (code === "ENOTEMPTY" && pass < 3) return "again";
  if (code === "ENOTDIR") return "replaced";
  throw e;
}

/**
 * rm -r of `name` in `dirFd`, each level entered through a descriptor opened without
 * following a link, each entry removed by a path of one component beneath such a
 * descriptor (unlink and rmdir never follow the last component). A path-walking rm -r
 * (fs.rmSync) lstats a directory, then lists and removes through its path: a directory
 * swapped for a link to a host directory in between has that directory emptied.
 */
export function removeBeneath(dirFd: number, name: string): void {
  const path = `/proc/self/fd/${dirFd}/${name}`;
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (st.isDirectory()) {
    const sub = enterForRemoval(dirFd, name, st.mode);
    if (sub === "gone") return;
    if (sub !== "replaced") {
      try {
        // What a concurrent writer added while the listing was removed (a directory moved
        // in beside it) is found by another look; a writer that keeps adding makes the
        // last rmdir fail, and the error says so.
        for (let pass = 1; ; pass++) {
          for (const child of readdirSync(`/proc/self/fd/${sub}`)) removeBeneath(sub, child);
          let after: RmdirOutcome;
          try {
            rmdirSync(path);
            return;
          } catch (e) {
            after = afterRmdir(e, pass);
          }
          if (after === "gone") return;
          if (after === "replaced") break;
        }
      } finally {
        closeSync(sub);
      }
    }
    // swapped for a link or a file meanwhile: that name is removed, never what it names
  }
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

/**
 * rm -r of `path` (a directory sandlock made in a directory a sandbox may also write: a
 * private tmp, a wrap's socket directory under /tmp), through removeBeneath: its parent is
 * trusted, nothing beneath it is followed. A no-op when it is gone.
 */
export function removeTreeAt(path: string): void {
  const parent = native().openat2(AT_FDCWD, dirname(path), O.PATH | O.DIRECTORY | O.CLOEXEC, 0, 0);
  if (parent < 0) {
    if (parent === -ENOENT) return;
    throw errnoError(`open ${dirname(path)}`, parent);
  }
  try {
    removeBeneath(parent, basename(path));
  } finally {
    closeSync(parent);
  }
}

/** A descriptor of the directory `path` (a branch's upper; its last component not followed). */
export function openDirNoFollow(path: string): number {
  const fd = native().openat2(AT_FDCWD, path, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, 0);
  if (fd < 0) throw errnoError(`open ${path}`, fd);
  return fd;
}

/** A Node-style system error naming what failed (code: the errno's name). */
function sysError(what: string, rc: number): NodeJS.ErrnoException {
  const code = errnoName(-rc);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -rc });
}

/** The code of a Node system error, or undefined. */
const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/**
 * mkdir of `name` in `dirFd` (mkdir never follows its last component, and the descriptor's
 * own /proc/self/fd entry is the pinned directory), then the new directory opened beneath
 * `dirFd` without following a link, with `flags` (O_PATH by default): a link swapped in
 * between is an error naming `shown`, never followed. Errors name `shown`, the path the
 * user knows, not the /proc one.
 */
export function makeDirBeneath(dirFd: number, name: string, mode: number, shown: string, flags: number = O.PATH): number {
  try {
    mkdirSync(`/proc/self/fd/${dirFd}/${name}`, { mode });
  } catch (e) {
    throw Object.assign(new Error(`mkdir ${shown}: ${codeOf(e) ?? String(e)}`), { code: codeOf(e) });
  }
  const fd = native().openat2(dirFd, name, flags | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, BENEATH);
  if (fd < 0) throw sysError(`open ${shown} (replaced since it was made)`, fd);
  return fd;
}

const AT_SYMLINK_FOLLOW = 0x400;

/** A second name `name` in `dirFd` for the file `fileFd` holds (any descriptor, O_PATH
 * too): linkat of its /proc/self/fd entry, followed to exactly that inode. A link by a
 * path to the first name would follow a directory on that path swapped for a link. */
export function linkBeneath(fileFd: number, dirFd: number, name: string, shown: string): void {
  const rc = native().nameSyscallAs(SYSCALLS.linkat!, null, AT_FDCWD, Buffer.from(`/proc/self/fd/${fileFd}\0`), dirFd, Buffer.from(`${name}\0`), AT_SYMLINK_FOLLOW);
  if (rc < 0) throw sysError(`link ${shown}`, rc);
}

/**
 * removeBeneath for a removal nobody waits for (a dropped branch at the end of a run): the
 * same steps, each listing, unlink and rmdir made on libuv's threads by a path of one
 * component beneath a descriptor this call holds until it is done; entries that are not
 * directories are unlinked 16 at a time, directories entered one at a time (a descriptor
 * per level). fs.promises.rm lists and removes by path: a directory swapped for a link
 * between its look and its listing had the link's target emptied. The caller keeps
 * `dirFd` open until the promise settles.
 */
export async function removeBeneathLater(dirFd: number, name: string): Promise<void> {
  // (loaded here: this module is on a plain run's path, through the private tmp's removal,
  // and a plain CLI run loads no fs/promises: cli-cache.test.ts)
  const { lstat, rmdir, unlink } = await import("node:fs/promises");
  const path = `/proc/self/fd/${dirFd}/${name}`;
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if (codeOf(e) === "ENOENT") return;
    throw e;
  }
  if (st.isDirectory()) {
    const sub = enterForRemoval(dirFd, name, st.mode);
    if (sub === "gone") return;
    if (sub !== "replaced") {
      try {
        for (let pass = 1; ; pass++) {
          await emptyLater(sub);
          let after: RmdirOutcome;
          try {
            await rmdir(path);
            return;
          } catch (e) {
            after = afterRmdir(e, pass);
          }
          if (after === "gone") return;
          if (after === "replaced") break;
        }
      } finally {
        closeSync(sub);
      }
    }
    // swapped for a link or a file meanwhile: that name is removed, never what it names
  }
  try {
    await unlink(path);
  } catch (e) {
    if (codeOf(e) !== "ENOENT") throw e;
  }
}

/** Every entry of the directory `fd` removed (removeBeneathLater). */
async function emptyLater(fd: number): Promise<void> {
  const { readdir, unlink } = await import("node:fs/promises");
  const entries = await readdir(`/proc/self/fd/${fd}`, { withFileTypes: true });
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const others = entries.filter((e) => !e.isDirectory()).map((e) => e.name);
  for (let i = 0; i < others.length; i += 16) {
    await Promise.all(
      others.slice(i, i + 16).map(async (n) => {
        try {
          await unlink(`/proc/self/fd/${fd}/${n}`); // never follows n
        } catch (e) {
          const code = codeOf(e);
          if (code === "EISDIR") dirs.push(n); // made a directory meanwhile: entered below
          else if (code !== "ENOENT") throw e;
        }
      }),
    );
  }
  for (const n of dirs) await removeBeneathLater(fd, n);
}
