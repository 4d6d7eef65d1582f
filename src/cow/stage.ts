// Where a copy-on-write run stages its writes: a branch directory under fsStorage (mode
// 0700, owned by the caller) holding the overlay's upper and work directories and a small
// meta.json, which `sandlock branch` lists after a crash (docs/cow.md). A sandbox granted
// the store (`-w ~`, `-w /tmp` for the fallback) can write it while the host does: the
// host's writes, modes and removals there go through descriptors pinned beneath the
// store's root, never by a path it could redirect (docs/security.md, "The branch store").

import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { BranchError } from "../errors.js";
import { AT_FDCWD, O, RESOLVE } from "../supervise/paths.js";
import { chmodDirBeneath, makeDirBeneath, openBeneath, removeBeneath, removeBeneathLater } from "./beneath.js";

/** What a branch is doing: a run still staging, a branch kept on purpose, a commit begun. */
export type BranchState = "running" | "kept" | "committing";

export interface BranchMeta {
  readonly version: 1;
  readonly id: string;
  /** The real directory the overlay covers. */
  readonly workdir: string;
  /** ISO time the branch was made. */
  readonly created: string;
  /** The run's start as the filesystem's clock saw it (meta.json's own mtime, ns): a
   * real file changed at or after it conflicts with the branch (commit.ts). */
  readonly startNs: string;
  /** The process that made the branch (a branch whose process is gone was interrupted). */
  readonly pid: number;
  readonly command: readonly string[];
  state: BranchState;
}

export interface Branch {
  readonly dir: string;
  readonly upper: string;
  readonly meta: BranchMeta;
}

const ID = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$/;
const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;
const ELOOP = 40, ENOTDIR = 20;

/** `name` in the directory `dirFd`: mkdir, rename and unlink of it never follow its last
 * component, and the rest is the descriptor's own inode. */
const at = (dirFd: number, name: string): string => `/proc/self/fd/${dirFd}/${name}`;

/** A Node-style system error naming the path it concerns (code: the errno's name). */
function sysError(what: string, rc: number): NodeJS.ErrnoException {
  const code = errnoName(-rc);
  return Object.assign(new Error(`${what}: ${code}`), { code, errno: -rc });
}

/** The store roots storageRoot checked in this process (by resolved path): the identity of
 * the directory it checked, which every later open of the root must find again. */
const checkedRoots = new Map<string, { dev: number; ino: number }>();

/** The directory branches live in: fsStorage, else $XDG_STATE_HOME/sandlock/branches
 * (~/.local/state/...), else <tmpdir>/sandlock-<uid>/branches when no home is writable. */
export function storageRoot(fsStorage: string | undefined): string {
  if (fsStorage !== undefined) return ensurePrivateDir(fsStorage, "fsStorage");
  const state = process.env.XDG_STATE_HOME || join(process.env.HOME || homedir(), ".local", "state");
  try {
    mkdirSync(state, { recursive: true, mode: 0o700 });
    return privateDirsBelow(state, ["sandlock", "branches"], "the branch store");
  } catch {
    // Beside every other user's and every sandbox's granted /tmp: sandlock-<uid> is made
    // here mode 0700, and must be a directory of this user's, not a link (another user
    // could make that name first); a sandbox of this user granted /tmp can still write it
    // (docs/cow.md, "Where branches live, and who else can write there").
    return privateDirsBelow(tmpdir(), [`sandlock-${process.getuid?.() ?? 0}`, "branches"], "the branch store");
  }
}

/** Checks a store directory through its descriptor: a real directory (the descriptor was
 * opened without following a link), owned by this user, not writable by group or others. */
function checkPrivate(fd: number, dir: string, what: string): void {
  const st = fstatSync(fd);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) throw new BranchError(`${what}: ${dir} is not a directory`);
  if (st.uid !== uid) throw new BranchError(`${what}: ${dir} is owned by uid ${st.uid}, not by this user (${uid})`);
  if ((st.mode & 0o022) !== 0) throw new BranchError(`${what}: ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}); make it 0700`);
}

/** `fd` (the store root, checked) recorded as the directory later opens must find. */
function recordRoot(fd: number, dir: string): string {
  const st = fstatSync(fd);
  checkedRoots.set(resolve(dir), { dev: st.dev, ino: st.ino });
  return dir;
}

/** The directory `dir` opened (O_PATH) without following its last component, or a
 * BranchError saying it is a link or no directory. */
function openNoFollow(dirFd: number, name: string, dir: string, what: string): number {
  const fd = native().openat2(dirFd, name, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, dirFd === AT_FDCWD ? 0 : BENEATH);
  if (fd === -ELOOP || fd === -ENOTDIR) throw new BranchError(`${what}: ${dir} is not a directory`);
  if (fd < 0) throw sysError(`${what}: open ${dir}`, fd);
  return fd;
}

/**
 * mkdir -p with mode 0700 (the path as the user named it), then checks the leaf: a real
 * directory (not a symlink), owned by this user, not writable by group or others. Another
 * user who could write the store could plant or swap files that a later commit would write
 * into the real tree.
 */
function ensurePrivateDir(dir: string, what: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = openNoFollow(AT_FDCWD, dir, dir, what);
  try {
    checkPrivate(fd, dir, what);
    return recordRoot(fd, dir);
  } finally {
    closeSync(fd);
  }
}

/**
 * The directories `names` below `base` (which must exist), each made mode 0700 beneath its
 * parent's descriptor and opened without following a link, each checked as
 * ensurePrivateDir checks its leaf. A recursive mkdir by path followed a link planted on
 * the way (another user's /tmp/sandlock-<uid>, a sandbox's ~/.local/state/sandlock) and made
 * the store wherever it led.
 */
function privateDirsBelow(base: string, names: readonly string[], what: string): string {
  let fd = native().openat2(AT_FDCWD, base, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, 0);
  if (fd < 0) throw sysError(`${what}: open ${base}`, fd);
  let dir = base;
  try {
    for (const name of names) {
      dir = join(dir, name);
      try {
        mkdirSync(at(fd, name), { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw Object.assign(new Error(`${what}: mkdir ${dir}: ${(e as NodeJS.ErrnoException).code}`), { code: (e as NodeJS.ErrnoException).code });
      }
      const sub = openNoFollow(fd, name, dir, what);
      closeSync(fd);
      fd = sub;
      checkPrivate(fd, dir, what);
    }
    return recordRoot(fd, dir);
  } finally {
    closeSync(fd);
  }
}

/**
 * A descriptor (O_PATH) of the store's root `root`, opened by its path as the user named
 * it, and when storageRoot checked that path in this process, the very directory it
 * checked: a root replaced since (a sandbox granted its parent can rename it and put a
 * link in its place) is refused, never written.
 */
function openStoreRoot(root: string): number {
  const fd = native().openat2(AT_FDCWD, root, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, 0);
  if (fd < 0) throw sysError(`open the branch store ${root}`, fd);
  const want = checkedRoots.get(resolve(root));
  const st = fstatSync(fd);
  if (want !== undefined && (st.dev !== want.dev || st.ino !== want.ino)) {
    closeSync(fd);
    throw new BranchError(`the branch store ${root} is no longer the directory checked when it was opened (replaced since, by a link or another directory); nothing is written there`);
  }
  return fd;
}

/**
 * A descriptor (O_PATH) of `dir`, a directory `depth` levels below the store's root (1: a
 * branch, 2: its upper): the root as openStoreRoot finds it, the rest beneath it without
 * following any link. Every host write into a branch starts here.
 */
export function openInStore(dir: string, depth: number): number {
  let root = dir;
  for (let i = 0; i < depth; i++) root = dirname(root);
  const rootFd = openStoreRoot(root);
  try {
    const fd = native().openat2(rootFd, dir.slice(root.length).replace(/^\/+/, ""), O.PATH | O.DIRECTORY | O.CLOEXEC, 0, BENEATH);
    if (fd < 0) throw sysError(`open ${dir} beneath the branch store (a link or a missing directory)`, fd);
    return fd;
  } finally {
    closeSync(rootFd);
  }
}

function stamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** All of `text` written to `fd`. */
function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text);
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/** Unlinks `name` in `dirFd` (never following it); gone already is fine. */
function unlinkAt(dirFd: number, name: string): void {
  try {
    unlinkSync(at(dirFd, name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

/** Replaces a file whole: a temporary name beside it, renamed over (a reader sees the old
 * or the new content, never a part). `sync`: fsync before the rename, for the journal,
 * which must outlive a power loss as long as the files it moves (the branch's own record
 * needs no more than upper's files get: none). `path` is in a branch directory. */
export function writeDurable(path: string, text: string, sync = true): void {
  const dirFd = openInStore(dirname(path), 1);
  try {
    writeDurableAt(dirFd, basename(path), text, sync, path);
  } finally {
    closeSync(dirFd);
  }
}

/** writeDurable of `name` in the branch directory `dirFd`. The temporary is a new name
 * created exclusively beneath it: a fixed name written by path (`meta.json.tmp`) followed
 * a link planted there and overwrote what it named. */
function writeDurableAt(dirFd: number, name: string, text: string, sync: boolean, shown: string): void {
  const tmp = `${name}.tmp-${randomBytes(4).toString("hex")}`;
  const fd = openBeneath(dirFd, tmp, O.WRONLY | O.CREAT | O.EXCL, 0o600);
  try {
    writeAll(fd, text);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(at(dirFd, tmp), at(dirFd, name)); // rename follows neither name
  } catch (e) {
    unlinkAt(dirFd, tmp);
    throw Object.assign(new Error(`rename ${shown}: ${(e as NodeJS.ErrnoException).code}`), { code: (e as NodeJS.ErrnoException).code });
  }
}

/**
 * Returns once the filesystem's clock reads later than `stamp` (it advances in ticks of a
 * few milliseconds): every change made from then on carries a later ctime than the stamp,
 * and one made before it at most the stamp (commit.ts conflicts compares with ">").
 * `probe` names a file to make in a branch directory (a new name beside it, in fact).
 */
export function waitPast(probe: string, stamp: bigint): void {
  const dirFd = openInStore(dirname(probe), 1);
  try {
    waitPastAt(dirFd, basename(probe), stamp);
  } finally {
    closeSync(dirFd);
  }
}

/** waitPast with its probe made exclusively beneath `dirFd` and truncated through its
 * descriptor (which sets its mtime from the filesystem's clock, as the O_TRUNC of a write
 * by path did: that write followed a link planted on the name and emptied its target). */
function waitPastAt(dirFd: number, name: string, stamp: bigint): void {
  const tmp = `${name}-${randomBytes(4).toString("hex")}`;
  const fd = openBeneath(dirFd, tmp, O.WRONLY | O.CREAT | O.EXCL, 0o600);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  try {
    for (let i = 0; i < 200; i++) {
      ftruncateSync(fd, 0);
      if (fstatSync(fd, { bigint: true }).mtimeNs > stamp) break;
      Atomics.wait(pause, 0, 0, 1);
    }
  } finally {
    closeSync(fd);
    unlinkAt(dirFd, tmp);
  }
}

/** A new branch for a run on `workdir` (its real path). */
export function createBranch(root: string, workdir: string, command: readonly string[]): Branch {
  const id = `${stamp(new Date())}-${randomBytes(4).toString("hex")}`;
  const dir = join(root, id);
  // Made beneath the root's descriptor and pinned at once: everything below is made
  // beneath the branch's own descriptor, nothing through a name a sandbox granted the
  // store could swap for a link meanwhile.
  const rootFd = openStoreRoot(root);
  let dirFd: number;
  try {
    dirFd = makeDirBeneath(rootFd, id, 0o700, dir);
  } catch (e) {
    closeSync(rootFd);
    throw e;
  }
  let made = false;
  try {
    closeSync(makeDirBeneath(dirFd, "upper", 0o755, join(dir, "upper")));
    closeSync(makeDirBeneath(dirFd, "work", 0o700, join(dir, "work")));
    const draft = { version: 1 as const, id, workdir, created: new Date().toISOString(), startNs: "0", pid: process.pid, command: [...command], state: "running" as BranchState };
    const fd = openBeneath(dirFd, "meta.json", O.WRONLY | O.CREAT | O.EXCL, 0o600);
    let startNs: string;
    try {
      writeAll(fd, JSON.stringify(draft));
      // The filesystem's own clock (coarse, as for every ctime it sets): comparing ctimes
      // with it needs no assumption about how Date.now() and the kernel's timestamps relate.
      startNs = fstatSync(fd, { bigint: true }).mtimeNs.toString();
    } finally {
      closeSync(fd);
    }
    const meta: BranchMeta = { ...draft, startNs };
    writeDurableAt(dirFd, "meta.json", JSON.stringify(meta), false, join(dir, "meta.json"));
    waitPastAt(dirFd, "tick", BigInt(startNs));
    made = true;
    return { dir, upper: join(dir, "upper"), meta };
  } finally {
    closeSync(dirFd);
    // A branch that could not be made whole (a name in it replaced by a link meanwhile)
    // is removed, through descriptors, rather than left half-made in the store.
    if (!made) {
      try {
        removeBeneath(rootFd, id);
      } catch {
        // left: listBranches does not list a branch without its record
      }
    }
    closeSync(rootFd);
  }
}

export function saveMeta(branch: Branch): void {
  writeDurable(join(branch.dir, "meta.json"), JSON.stringify(branch.meta), false);
}

/** Reads one branch by id; BranchError when there is none or it is malformed. */
export function openBranch(root: string, id: string): Branch {
  if (!ID.test(id)) throw new BranchError(`branch: ${JSON.stringify(id)} is not a branch id (like 20261201-213000-1a2b3c4d; \`sandlock branch list\` shows them)`);
  const dir = join(root, id);
  let meta: BranchMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as BranchMeta;
  } catch (e) {
    throw new BranchError(`branch ${id}: not found in ${root} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (meta.version !== 1 || meta.id !== id || typeof meta.workdir !== "string") throw new BranchError(`branch ${id}: meta.json is not a branch record`);
  return { dir, upper: join(dir, "upper"), meta };
}

/** Every branch in the store, oldest first; directories that are not branches are skipped. */
export function listBranches(root: string): Branch[] {
  const out: Branch[] = [];
  for (const name of readdirSync(root).sort()) {
    if (name.startsWith(".trash-")) {
      // A drop that was interrupted: removed through descriptors (cow/beneath.ts).
      const rootFd = openStoreRoot(root);
      try {
        removeBeneath(rootFd, name);
      } finally {
        closeSync(rootFd);
      }
      continue;
    }
    if (!ID.test(name)) continue;
    try {
      out.push(openBranch(root, name));
    } catch {
      // half-made (killed while creating it): not listed
    }
  }
  return out;
}

/** Whether the process that made the branch still runs (same pid, not reused is assumed). */
export function ownerAlive(meta: BranchMeta): boolean {
  try {
    process.kill(meta.pid, 0);
    return meta.pid !== process.pid || meta.state === "running";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes a branch: renamed aside first (atomic), so a crash never leaves half a branch
 * listed. `background`: the removal itself goes on after the call returns (each unlink
 * and rmdir is a journal write; a run that ends is not kept waiting for them); a removal
 * cut short is finished by the next listing. Either way through descriptors (removeBeneath,
 * removeBeneathLater): each directory entered without following a link, each entry removed
 * by one name beneath it, a directory made unlistable (the overlay's work/work is 000)
 * opened up through an O_PATH descriptor. A chmod and an rm -r by path followed a work
 * swapped for a link, and set modes and removed files where it led. Before a background
 * removal the work directories are opened up at once (openWork), as they were: the branch
 * set aside can then be removed by a plain rm -r of the store while the removal runs. */
export function dropBranch(branch: Branch, background = false): void {
  const trash = `.trash-${branch.meta.id}`;
  const rootFd = openStoreRoot(dirname(branch.dir));
  try {
    renameSync(at(rootFd, basename(branch.dir)), at(rootFd, trash)); // follows neither name
  } catch (e) {
    closeSync(rootFd);
    throw Object.assign(new Error(`rename ${branch.dir}: ${(e as NodeJS.ErrnoException).code}`), { code: (e as NodeJS.ErrnoException).code });
  }
  if (!background) {
    try {
      return removeBeneath(rootFd, trash);
    } finally {
      closeSync(rootFd);
    }
  }
  openWork(rootFd, trash);
  void removeBeneathLater(rootFd, trash)
    .catch(() => undefined)
    .finally(() => closeSync(rootFd));
}

/** The overlay's work directory of the branch `trash` (in the root `rootFd`) and the
 * directories two levels below it made 0700: each level opened beneath its parent without
 * following a link, each chmod through chmodDirBeneath (a work swapped for a link is left
 * as it is, and what it names untouched). */
function openWork(rootFd: number, trash: string): void {
  const open = (dirFd: number, name: string, depth: number): void => {
    try {
      chmodDirBeneath(dirFd, name, 0o700);
      if (depth === 0) return;
      const fd = openBeneath(dirFd, name, O.DIRECTORY);
      try {
        for (const e of readdirSync(at(fd, ""), { withFileTypes: true })) if (e.isDirectory()) open(fd, e.name, depth - 1);
      } finally {
        closeSync(fd);
      }
    } catch {
      // gone, not ours, or a link: the removal says so if it matters
    }
  };
  let trashFd: number;
  try {
    trashFd = openBeneath(rootFd, trash, O.PATH | O.DIRECTORY);
  } catch {
    return;
  }
  try {
    open(trashFd, "work", 2);
  } finally {
    closeSync(trashFd);
  }
}
