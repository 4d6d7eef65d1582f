// The library's branch API (`sandlock branch` uses it): branches left by a run kept on
// purpose (onExit/onError "keep"), by a refused commit, or by a crash, listed, shown,
// applied or dropped later.

import { BranchError } from "../errors.js";
import { readChanges, type Change } from "./changes.js";
import { commitBranch } from "./commit.js";
import { unifiedDiff } from "./diff.js";
import { dropBranch, listBranches, openBranch, ownerAlive, storageRoot, type BranchState } from "./stage.js";

/** Where the branches are: the policy's fsStorage, if it set one. */
export interface BranchStoreOptions {
  /** The policy's fsStorage; default: $XDG_STATE_HOME/sandlock/branches (docs/cow.md). */
  readonly fsStorage?: string;
}

/** A branch with its change list (showWorkdirBranch). */
export interface BranchDetails extends BranchInfo {
  /** What the branch changes, against the real directory as it is now. */
  readonly changes: Change[];
  /** With `diff: true`: a unified diff of the changed text files. */
  readonly diff?: string;
}

/** A branch of the store, as `sandlock branch list` shows it. */
export interface BranchInfo {
  /** Its id, e.g. 20261201-213000-1a2b3c4d. */
  readonly id: string;
  /** The real directory its changes are for. */
  readonly workdir: string;
  /** ISO time the branch was made (the run's start). */
  readonly created: string;
  /** The command the run ran. */
  readonly command: readonly string[];
  /** "running" while its sandbox runs; "interrupted" when that process is gone without
   * finishing; "kept" on purpose; "committing" when a commit was cut short (apply it). */
  readonly state: BranchState | "interrupted";
}

function info(b: ReturnType<typeof openBranch>): BranchInfo {
  const m = b.meta;
  const state = m.state === "running" && !ownerAlive(m) ? "interrupted" : m.state;
  return { id: m.id, workdir: m.workdir, created: m.created, command: m.command, state };
}

/** Every branch of the store, oldest first. */
export function listWorkdirBranches(opts: BranchStoreOptions = {}): BranchInfo[] {
  return listBranches(storageRoot(opts.fsStorage)).map(info);
}

/** One branch with its change list (and a unified diff of its text files when asked). */
export function showWorkdirBranch(id: string, opts: BranchStoreOptions & { diff?: boolean } = {}): BranchDetails {
  const b = openBranch(storageRoot(opts.fsStorage), id);
  const { changes } = readChanges(b.upper, b.meta.workdir);
  const base = { ...info(b), changes };
  return opts.diff === true ? { ...base, diff: unifiedDiff(changes, b.upper, b.meta.workdir) } : base;
}

function settled(b: ReturnType<typeof openBranch>, what: string): void {
  const i = info(b);
  if (i.state === "running") throw new BranchError(`branch ${i.id}: its sandbox is still running (pid ${b.meta.pid}); ${what} it once the run ends`);
}

/** Commits a branch into its workdir (a commit cut short is replayed from its journal);
 * a conflict is refused with BranchError naming the paths, the branch kept. Changes to
 * protected files that a run's commit held back are written too: applying is the user's
 * own decision, made after `sandlock branch show`. */
export function applyWorkdirBranch(id: string, opts: BranchStoreOptions = {}): Change[] {
  const root = storageRoot(opts.fsStorage);
  const b = openBranch(root, id);
  settled(b, "apply");
  return commitBranch(root, b).changes;
}

/** Throws a branch away; the real directory is not touched. */
export function dropWorkdirBranch(id: string, opts: BranchStoreOptions = {}): void {
  const b = openBranch(storageRoot(opts.fsStorage), id);
  settled(b, "drop");
  dropBranch(b);
}
