// Where a copy-on-write run stages its writes: a branch directory under fsStorage (mode
// 0700, owned by the caller) holding the overlay's upper and work directories and a small
// meta.json, which `sandlock branch` lists after a crash (docs/cow.md).

import { chmodSync, closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BranchError } from "../errors.js";
import { removeTreeAt } from "./beneath.js";

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

/** The directory branches live in: fsStorage, else $XDG_STATE_HOME/sandlock/branches
 * (~/.local/state/...), else <tmpdir>/sandlock-<uid>/branches when no home is writable. */
export function storageRoot(fsStorage: string | undefined): string {
  if (fsStorage !== undefined) return ensurePrivateDir(fsStorage, "fsStorage");
  const state = process.env.XDG_STATE_HOME || join(process.env.HOME || homedir(), ".local", "state");
  try {
    return ensurePrivateDir(join(state, "sandlock", "branches"), "the branch store");
  } catch {
    return ensurePrivateDir(join(tmpdir(), `sandlock-${process.getuid?.() ?? 0}`, "branches"), "the branch store");
  }
}

/**
 * mkdir -p with mode 0700, then checks the leaf: a real directory (not a symlink), owned by
 * this user, not writable by group or others. Another user who could write the store
 * could plant or swap files that a later commit would write into the real tree.
 */
function ensurePrivateDir(dir: string, what: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) throw new BranchError(`${what}: ${dir} is not a directory`);
  if (st.uid !== uid) throw new BranchError(`${what}: ${dir} is owned by uid ${st.uid}, not by this user (${uid})`);
  if ((st.mode & 0o022) !== 0) throw new BranchError(`${what}: ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}); make it 0700`);
  return dir;
}

function stamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Replaces a file whole: a temporary name beside it, renamed over (a reader sees the old
 * or the new content, never a part). `sync`: fsync before the rename, for the journal,
 * which must outlive a power loss as long as the files it moves (the branch's own record
 * needs no more than upper's files get: none). */
export function writeDurable(path: string, text: string, sync = true): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  if (sync) {
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, path);
}

/**
 * Returns once the filesystem's clock reads later than `stamp` (it advances in ticks of a
 * few milliseconds): every change made from then on carries a later ctime than the stamp,
 * and one made before it at most the stamp (commit.ts conflicts compares with ">").
 */
export function waitPast(probe: string, stamp: bigint): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 200; i++) {
    writeFileSync(probe, "");
    if (statSync(probe, { bigint: true }).mtimeNs > stamp) break;
    Atomics.wait(pause, 0, 0, 1);
  }
  rmSync(probe, { force: true });
}

/** A new branch for a run on `workdir` (its real path). */
export function createBranch(root: string, workdir: string, command: readonly string[]): Branch {
  const id = `${stamp(new Date())}-${randomBytes(4).toString("hex")}`;
  const dir = join(root, id);
  mkdirSync(dir, { mode: 0o700 });
  mkdirSync(join(dir, "upper"), { mode: 0o755 });
  mkdirSync(join(dir, "work"), { mode: 0o700 });
  const draft = { version: 1 as const, id, workdir, created: new Date().toISOString(), startNs: "0", pid: process.pid, command: [...command], state: "running" as BranchState };
  const metaPath = join(dir, "meta.json");
  writeFileSync(metaPath, JSON.stringify(draft), { mode: 0o600 });
  // The filesystem's own clock (coarse, as for every ctime it sets): comparing ctimes with
  // it needs no assumption about how Date.now() and the kernel's timestamps relate.
  const startNs = statSync(metaPath, { bigint: true }).mtimeNs.toString();
  const meta: BranchMeta = { ...draft, startNs };
  writeDurable(metaPath, JSON.stringify(meta), false);
  waitPast(join(dir, "tick"), BigInt(startNs));
  return { dir, upper: join(dir, "upper"), meta };
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
      removeTree(join(root, name)); // a drop that was interrupted
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
 * cut short is finished by the next listing. */
export function dropBranch(branch: Branch, background = false): void {
  const trash = join(branch.dir, "..", `.trash-${branch.meta.id}`);
  renameSync(branch.dir, trash);
  if (!background) return removeTree(trash);
  openWork(trash);
  void rm(trash, { recursive: true, force: true }).catch(() => undefined);
}

/** rm -rf through descriptors (removeTreeAt: nothing a link swapped in is followed),
 * after opening up the overlay's own work directories: it makes work/work mode 000, which
 * only root's capabilities can enter. */
function removeTree(dir: string): void {
  openWork(dir);
  removeTreeAt(dir);
}

function openWork(dir: string): void {
  const open = (d: string, depth: number): void => {
    try {
      chmodSync(d, 0o700);
      if (depth > 0) for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) open(join(d, e.name), depth - 1);
    } catch {
      // gone, or not ours: rm says so if it matters
    }
  };
  open(join(dir, "work"), 2);
}
