// Saving and loading checkpoint directories. Save is atomic: every file goes into a
// temporary sibling directory, is fsynced, and the directory is renamed into place, so
// a reader sees either no checkpoint or a complete one. Files are private (0600): they
// hold the sandboxed processes' memory. Load trusts nothing it finds (see loadFiles).

import { closeSync, constants, fstatSync, openSync, read, readlinkSync } from "node:fs";
import { stat } from "node:fs/promises";
import { totalmem } from "node:os";
import { createHash } from "node:crypto";
import { native } from "../confine/native.js";
import { basename, dirname, join, resolve } from "node:path";
import { CheckpointError } from "../errors.js";
import { errnoName } from "../confine/errno.js";
import { errnoCode } from "./errno.js";
import { MANIFEST, markVerified, readManifest } from "./format.js";
import { fileKind } from "../kernel/file-kind.js";
import { writeNewDir } from "../kernel/new-dir.js";

/** Writes files (manifest.json last) as the new directory dir, atomically. `refuse`, given
 * the real path of the parent directory as pinned (the descriptor the files are written
 * beneath), may name why the save must not happen there. */
export async function saveFiles(
  dir: string,
  files: ReadonlyMap<string, Buffer>,
  refuse?: (parentReal: string) => string | undefined,
  more?: (placeReal: string) => ReadonlyMap<string, Buffer>,
): Promise<string> {
  const target = resolve(dir);
  const parent = dirname(target);
  const failed = (message: string, cause?: unknown): CheckpointError =>
    new CheckpointError("CHECKPOINT_FAILED", `checkpoint save ${target}: ${message}`, { cause, errno: errnoCode(cause) });
  try {
    if (!(await stat(parent)).isDirectory()) throw failed(`${parent} is not a directory`);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw failed(`cannot use the parent directory ${parent} (${errnoCode(e) ?? (e as Error).message})`, e);
  }
  if (await stat(target).then(() => true, () => false)) {
    throw failed("already exists; a checkpoint is never overwritten, choose a new directory");
  }
  // Written beneath a descriptor of the parent (kernel/new-dir.ts): the parent may be
  // writable by the very sandbox captured, which could swap the temporary directory for a
  // link to a directory it may not write while the files are written (fifth review).
  let parentFd: number;
  try {
    parentFd = openSync(parent, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    throw failed(`cannot use the parent directory ${parent} (${errnoCode(e) ?? (e as Error).message})`, e);
  }
  // Checked on the descriptor itself: a link swapped into the path after this point
  // changes nothing, every file is created beneath this very directory.
  let why: string | undefined;
  let parentReal: string;
  try {
    parentReal = readlinkSync(`/proc/self/fd/${parentFd}`);
    why = refuse?.(parentReal);
  } catch (e) {
    closeSync(parentFd);
    throw failed(`cannot use the parent directory ${parent} (${errnoCode(e) ?? (e as Error).message})`, e);
  }
  if (why !== undefined) {
    closeSync(parentFd);
    throw failed(why);
  }
  try {
    const manifest = files.get(MANIFEST);
    if (manifest === undefined) throw new Error("encoder produced no manifest");
    // `more`: files made for the directory's real place (its seal), known only here.
    const place = join(parentReal, basename(target));
    const extra = more?.(place) ?? new Map<string, Buffer>();
    writeNewDir(parentFd, basename(target), [...[...files, ...extra].filter(([name]) => name !== MANIFEST), [MANIFEST, manifest]]);
    return place;
  } catch (e) {
    throw failed(`writing failed (${errnoCode(e) ?? (e as Error).message})`, e);
  } finally {
    closeSync(parentFd);
  }
}

const ENOENT = 2;
const ELOOP = 40;

/** How large a manifest may be: one short line per file, two files per process. */
export const MANIFEST_MAX_BYTES = 16 << 20;

/** O_CLOEXEC (Node adds it to its own opens; openat2 here is the addon's). */
const O_CLOEXEC = 0o2000000;
const OPEN_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY | O_CLOEXEC;
/** openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: the name stays in the directory. */
const RESOLVE_IN_DIR = 0x08 | 0x04 | 0x02;

function readAt(fd: number, buf: Buffer, offset: number): Promise<number> {
  return new Promise((res, rej) => read(fd, buf, offset, buf.length - offset, offset, (e, n) => (e ? rej(e) : res(n))));
}

/**
 * Reads manifest.json, every file it lists (a missing one is left out for the decoder to
 * name) and the `extra` files that are there (at most MANIFEST_MAX_BYTES each). A
 * checkpoint directory comes from outside, so nothing in it is trusted: every
 * file is opened relative to the directory's descriptor (renaming or swapping the
 * directory afterwards redirects nothing), without following a symlink (one to a secret
 * would leak its size and make the checksum a content oracle; one to /dev/zero would
 * grow without end) and without blocking (a FIFO would hang the load forever), then
 * must be a regular file of exactly the size the manifest records, and exactly that many
 * bytes are read.
 */
export async function loadFiles(dir: string, extra: readonly string[] = []): Promise<{ where: string; place: string; files: Map<string, Buffer> }> {
  const where = resolve(dir);
  const invalid = (message: string, extra: { cause?: unknown; path?: string } = {}): CheckpointError =>
    new CheckpointError("CHECKPOINT_INVALID", `checkpoint ${where}: ${message}`, { ...extra, errno: errnoCode(extra.cause) });
  let dirfd: number;
  try {
    // The path the caller gave may itself be a symlink to the directory: that is their choice.
    dirfd = openSync(where, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NONBLOCK);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT") throw invalid("the directory does not exist", { cause: e });
    if (code === "ENOTDIR") throw invalid("is not a directory", { cause: e });
    throw invalid(`cannot read the directory (${code ?? (e as Error).message})`, { cause: e });
  }
  /** The file's bytes, or undefined when it does not exist. `bytes`: the size it must have;
   * `sum`: the SHA-256 it must have, checked as it is read (a file that is not what the
   * manifest says fails at its own end, before the next one is read). */
  const load = async (name: string, bytes: number | undefined, sum?: string): Promise<Buffer | undefined> => {
    const fd = native().openat2(dirfd, name, OPEN_FILE, 0, RESOLVE_IN_DIR);
    if (fd === -ENOENT) return undefined;
    if (fd === -ELOOP) throw invalid(`${name} is a symbolic link; the files of a checkpoint are never followed`, { path: name });
    if (fd < 0) throw new CheckpointError("CHECKPOINT_INVALID", `checkpoint ${where}: cannot read ${name} (${errnoName(-fd)})`, { path: name, errno: errnoName(-fd) });
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw invalid(`${name} is ${fileKind(st)}, not a regular file`, { path: name });
      const want = bytes ?? st.size;
      if (bytes === undefined && st.size > MANIFEST_MAX_BYTES) {
        throw invalid(`${name} is ${st.size} bytes, more than a manifest may hold (${MANIFEST_MAX_BYTES})`, { path: name });
      }
      if (st.size < want) throw invalid(`${name} is truncated: ${st.size} of ${want} bytes`, { path: name });
      if (st.size > want) throw invalid(`${name} is ${st.size} bytes, ${st.size - want} more than ${MANIFEST} records (${want})`, { path: name });
      const buf = Buffer.allocUnsafe(want);
      const hash = sum === undefined ? undefined : createHash("sha256");
      for (let at = 0; at < want; ) {
        let n: number;
        try {
          n = await readAt(fd, buf, at);
        } catch (e) {
          throw invalid(`cannot read ${name} (${errnoCode(e) ?? (e as Error).message})`, { cause: e, path: name });
        }
        if (n === 0) throw invalid(`${name} is truncated: it ended after ${at} of ${want} bytes while being read`, { path: name });
        hash?.update(buf.subarray(at, at + n));
        at += n;
      }
      if (hash !== undefined) {
        if (hash.digest("hex") !== sum) throw invalid(`${name} is corrupt: its SHA-256 does not match ${MANIFEST}`, { path: name });
        markVerified(buf, sum!);
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  };
  try {
    const files = new Map<string, Buffer>();
    const manifest = await load(MANIFEST, undefined);
    if (manifest !== undefined) {
      files.set(MANIFEST, manifest);
      // Names are checked here (flat, no dot files) before any of them is opened.
      const entries = readManifest(where, () => manifest);
      // What the files would take in this process's memory, refused before any is read when
      // more than the host has: a manifest names sizes, not what the directory holds on
      // disk (a sparse file of any size takes no room), and such a checkpoint could not be
      // restored here anyway.
      const total = entries.reduce((n, e) => n + e.bytes, 0);
      if (total > totalmem()) throw invalid(`${MANIFEST} lists ${total} bytes of files, more than this host's memory (${totalmem()} bytes)`, { path: MANIFEST });
      for (const e of entries) {
        const data = await load(e.name, e.bytes, e.sha256);
        if (data !== undefined) files.set(e.name, data);
      }
      // Files the manifest does not list (its seal), read the same way, if there.
      for (const name of extra) {
        const data = await load(name, undefined);
        if (data !== undefined) files.set(name, data);
      }
    }
    // The real path of the directory read (the descriptor's: a link swapped in later names
    // another, which these files did not come from).
    return { where, place: readlinkSync(`/proc/self/fd/${dirfd}`), files };
  } finally {
    closeSync(dirfd);
  }
}
