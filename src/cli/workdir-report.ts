// What `sandlock run --workdir` says on stderr at the end: the dry run's change list, a
// branch kept, changes thrown away after a failure (so the user knows --on-error keep).
// The names are the sandbox's choice: escaped (printable), so none writes a line of its own
// or an escape sequence to the user's terminal.

import { printable } from "../printable.js";
import type { RunResult } from "../result.js";

const MARK = { added: "A", modified: "M", deleted: "D" } as const;

export function workdirLines(result: RunResult, dryRun: boolean, onError: string): string[] {
  const w = result.workdir;
  if (w === null) return [];
  const n = w.changes.length;
  const list = w.changes.map((c) => `  ${MARK[c.kind]} ${printable(c.path)}${c.type === "dir" ? "/" : ""}`);
  if (dryRun) return [`sandlock: dry run: ${n} change${n === 1 ? "" : "s"}, none written (A added, M modified, D deleted):`, ...list];
  if (w.action === "committed" && w.heldBack !== undefined && w.heldBack.length > 0) {
    const h = w.heldBack.length;
    return [`sandlock: workdir: ${h} change${h === 1 ? "" : "s"} to protected files held back in branch ${w.branch}, the rest committed (sandlock branch show|apply|drop ${w.branch}):`, ...w.heldBack.map((c) => `  ${MARK[c.kind]} ${printable(c.path)}${c.type === "dir" ? "/" : ""}`)];
  }
  if (w.action === "kept") return [`sandlock: workdir: ${n} change${n === 1 ? "" : "s"} kept as branch ${w.branch} (sandlock branch show|apply|drop ${w.branch})`];
  if (w.action === "aborted" && n > 0 && onError === "abort" && !result.success) {
    return [`sandlock: workdir: the command failed, ${n} change${n === 1 ? "" : "s"} thrown away (--on-error keep keeps them as a branch, --on-error commit writes them)`];
  }
  return [];
}
