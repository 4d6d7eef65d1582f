// The copy-on-write workdir around one run: the branch made before the launch, and at the
// end the policy's action (onExit for exit 0, onError otherwise): commit, abort or keep.

import { closeSync } from "node:fs";
import { BranchError, ConfinementError } from "../errors.js";
import type { Policy } from "../policy/policy.js";
import type { WorkdirOutcome } from "../result.js";
import { readChanges } from "./changes.js";
import { commitBranch } from "./commit.js";
import { unifiedDiff } from "./diff.js";
import { cowUnavailable, realWorkdir } from "./host.js";
import { drainStage, stageUpper } from "./quota.js";
import { createBranch, dropBranch, saveMeta, storageRoot, type Branch } from "./stage.js";

export interface CowRun {
  readonly root: string;
  readonly branch: Branch;
  /** A dry run: the changes are listed, then thrown away whatever the policy says;
   * "diff" adds the unified diff of the text files. */
  readonly dryRun: false | "list" | "diff";
}

/** Before the launch: refuses a host without namespaces, then makes the branch. */
export function startCow(policy: Policy, cmd: readonly string[], dryRun: CowRun["dryRun"]): CowRun {
  const why = cowUnavailable();
  if (why !== undefined) {
    throw new ConfinementError(`workdir: the copy-on-write overlay needs ${process.getuid?.() === 0 ? "a mount namespace" : "a user namespace"}, and this host refuses it: ${why}. Without it writes would reach the real directory, so the run is refused`, {});
  }
  const root = storageRoot(policy.fsStorage);
  return { root, branch: createBranch(root, realWorkdir(policy.workdir!), cmd), dryRun };
}

/** A branch whose commit failed: listed as kept, for `sandlock branch`. */
export function keepBranch(run: CowRun): void {
  try {
    if (run.branch.meta.state === "running") {
      run.branch.meta.state = "kept";
      saveMeta(run.branch);
    }
  } catch {
    // the store itself failed: the error reported names the branch anyway
  }
}

/** What holds the quota stage's tmpfs: the launcher, once it handed its root over. */
export interface StageHolder {
  stageFd: number | undefined;
}

/**
 * maxDisk: the staged writes are in a tmpfs only the holder's descriptor keeps alive; the
 * run's action (finishCow) takes that descriptor from here. Undefined without maxDisk.
 */
export function takeStage(holder: StageHolder, run: CowRun, policy: Policy): number | undefined {
  if (policy.maxDisk === undefined) return undefined;
  const fd = holder.stageFd;
  holder.stageFd = undefined;
  if (fd === undefined) throw new BranchError(`workdir: the maxDisk stage of branch ${run.branch.meta.id} was never handed over by the launcher; nothing staged can be recovered`);
  return fd;
}

/** Copies the quota stage into the branch on disk (and lets the stage go). A copy that
 * fails (the branch's disk is full) loses what it did not copy, and says so. */
function drainInto(branch: Branch, stageFd: number): void {
  try {
    drainStage(stageFd, branch.upper);
  } catch (e) {
    throw new BranchError(`workdir: the staged writes of branch ${branch.meta.id} could not be copied out of the maxDisk stage (${(e as Error).message}); what was not copied is lost`, { cause: e });
  }
}

/** A run that ended before its action: the stage's tmpfs, if any, is let go. */
export function closeStage(holder: StageHolder): void {
  if (holder.stageFd !== undefined) closeSync(holder.stageFd);
  holder.stageFd = undefined;
}

/** A run that never started: its branch holds nothing. */
export function discardCow(run: CowRun): void {
  dropBranch(run.branch, true);
}

/**
 * After every process of the sandbox is gone (the overlay's mount namespace with them):
 * the action for this ending. A commit refused for conflicts rethrows the BranchError (the
 * branch is kept and listed); any other failure of a commit keeps the branch too.
 * `stageFd` (maxDisk, takeStage): a commit or a kept branch needs the staged writes on
 * disk, where they outlive this process, so they are copied there first; an abort (a dry
 * run's listing and diff too) reads them where they are and copies nothing.
 */
export function finishCow(run: CowRun, policy: Policy, success: boolean, stageFd?: number): WorkdirOutcome & { diff?: string } {
  const { branch } = run;
  const action = run.dryRun ? "abort" : success ? policy.onExit : policy.onError;
  if (stageFd !== undefined) {
    if (action === "abort") {
      try {
        return abortCow(run, stageUpper(stageFd));
      } finally {
        closeSync(stageFd);
      }
    }
    drainInto(branch, stageFd);
  }
  const id = branch.meta.id;
  if (action === "commit") {
    const { changes, held } = commitBranch(run.root, branch, policy.protectedFiles);
    // protectedFiles: what touched a protected file stays in the branch, named.
    return held.length > 0 ? { action: "committed", branch: id, changes, heldBack: held } : { action: "committed", branch: id, changes };
  }
  if (action === "keep") {
    const { changes } = readChanges(branch.upper, branch.meta.workdir);
    branch.meta.state = "kept";
    saveMeta(branch);
    return { action: "kept", branch: id, changes };
  }
  return abortCow(run, branch.upper);
}

/** An abort: the change list (and a dry run's diff) read from `upper`, the branch dropped. */
function abortCow(run: CowRun, upper: string): WorkdirOutcome & { diff?: string } {
  const { branch } = run;
  const id = branch.meta.id;
  const { changes } = readChanges(upper, branch.meta.workdir);
  let diff: string | undefined;
  try {
    diff = run.dryRun === "diff" ? unifiedDiff(changes, upper, branch.meta.workdir) : undefined;
  } catch (e) {
    // A dry run whose diff could not be made still lists its changes and throws them away:
    // failing here kept the branch, whatever the sandbox had staged, on the host's disk.
    diff = `[no diff: ${(e as Error).message}]\n`;
  }
  dropBranch(branch, true);
  return diff === undefined ? { action: "aborted", branch: id, changes } : { action: "aborted", branch: id, changes, diff };
}
