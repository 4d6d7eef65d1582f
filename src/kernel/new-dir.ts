// A new directory of files written beneath a pinned parent, atomically, never by a path a
// concurrent process could redirect: a checkpoint may be saved into a directory the
// sandbox it captured can write (docs/security.md, "Fifth review").

import { closeSync, fstatSync, fsyncSync, lstatSync, mkdirSync, renameSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { removeBeneath } from "../cow/beneath.js";
import { O, RESOLVE } from "../supervise/paths.js";

const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

/** A Node-style system error (code: the errno name), so callers name it as any other. */
function sysError(what: string, rc: number): NodeJS.ErrnoException {
  const code = errnoName(-rc);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -rc });
}

/** `name` in the directory `dirFd`: mkdir, rename and lstat of it never follow its last
 * component, and the rest is the descriptor's own inode (no path is looked up again). */
const at = (dirFd: number, name: string): string => `/proc/self/fd/${dirFd}/${name}`;

/**
 * Writes `files` (in their order) as the new directory `name` in the directory `parentFd`.
 * Why by descriptors: a process that can write the parent (the sandbox whose checkpoint
 * this is, resumed while the files are written) can rename the temporary directory away
 * and put a symbolic link to a directory it may not write in its place. Files created by
 * a path through that name would land there, with the owner's rights (measured before:
 * every round of 10). So the temporary is made beneath the parent's descriptor, opened once without following
 * a link, and every file is created in that descriptor (O_EXCL, beneath it, no link
 * followed); the rename into place must have moved the very
 * directory written: otherwise the save fails, and the files stay in the directory
 * that was moved aside (where the racer put it, inside what it can write).
 */
export function writeNewDir(parentFd: number, name: string, files: Iterable<readonly [string, Buffer]>): void {
  const tmp = `.${name}.tmp-${randomBytes(6).toString("hex")}`;
  const replaced = (): Error => new Error(`the temporary directory ${tmp} was replaced while it was written (another process can write the parent directory)`);
  mkdirSync(at(parentFd, tmp), 0o700);
  let renamed = false;
  const dirFd = native().openat2(parentFd, tmp, O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, BENEATH);
  try {
    // Gone between mkdir and open: renamed away by the parent's writer.
    if (dirFd === -2 /* ENOENT */) throw replaced();
    if (dirFd < 0) throw sysError(`open ${tmp}`, dirFd);
    for (const [file, data] of files) {
      const fd = native().openat2(dirFd, file, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600, BENEATH);
      if (fd < 0) throw sysError(`create ${file}`, fd);
      try {
        for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    fsyncSync(dirFd);
    // rename(2) replaces at most an empty directory (the caller checked that none is
    // there; one made since is the parent's writer's own), never a link or a file.
    try {
      renameSync(at(parentFd, tmp), at(parentFd, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw replaced(); // moved away meanwhile
      throw e;
    }
    renamed = true;
    const placed = lstatSync(at(parentFd, name), { throwIfNoEntry: false });
    const written = fstatSync(dirFd);
    if (placed === undefined || placed.ino !== written.ino || placed.dev !== written.dev) {
      throw replaced();
    }
    fsyncSync(parentFd);
  } finally {
    if (dirFd >= 0) closeSync(dirFd);
    // Whatever holds the temporary name now is removed beneath the parent, never followed.
    if (!renamed) removeBeneath(parentFd, tmp);
  }
}
