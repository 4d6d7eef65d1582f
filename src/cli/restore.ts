// `sandlock restore DIR`: loads a checkpoint saved by `sandlock checkpoint` (or cp.save) and
// resumes it in a new sandbox under its saved policy, with this terminal's stdin, stdout
// and stderr as the restored process's 0-2; the exit code is the restored command's.

import { formatFlags, parseArgs, type FlagSpec } from "./args.js";
import type { ProfileRef } from "../profile/resolve.js";
import { exitCodeOf } from "./outcome.js";
import { profileRefOf } from "./profile-ref.js";
import { UsageError } from "./usage-error.js";

export const RESTORE_FLAGS: readonly FlagSpec[] = [
  { long: "profile", short: "p", arg: "NAME", help: "restore under preset or profile NAME, not the saved policy; repeatable, composed in order" },
  { long: "profile-file", arg: "PATH", help: "restore under the TOML profile in PATH, not the saved policy; repeatable" },
  { long: "help", short: "h", help: "show this help" },
];

const HELP = `sandlock restore

Usage:
  sandlock restore [-p NAME | --profile-file PATH]... DIR

Resumes the checkpoint saved in DIR (sandlock checkpoint NAME DIR) in a new sandbox under
its saved policy, on the same kernel: memory, registers, open files at their offsets, cwd,
umask, signal mask (docs/checkpoint.md). stdin, stdout and stderr are this terminal's. What
cannot be restored (a socket, a pipe, a changed file, a process whose parent is not in it) is
refused before anything runs, with the process and descriptor named. A checkpoint captured
in the kernel view is restored in it with every thread id as it was; one captured in the
supervised view gets new ids (a warning says so).

The saved policy is used only when the checkpoint's seal verifies under this user's key
(kept in the kernel keyring, which no sandbox reaches; lost at a reboot): a sandbox that
could write where it lies could have rewritten it. Otherwise, or to restore under less,
give the policy with -p or --profile-file; it must be within the saved one.

Exit: the restored command's code (128+N for signal N); 1 when the checkpoint cannot be
loaded or restored, or a profile cannot be used (the reason is on stderr).

${formatFlags(RESTORE_FLAGS)}`;

/** Said before a restore of a capture from the supervised view, whose thread ids cannot be
 * given back (docs/checkpoint.md, "Ids"). */
export const SUPERVISED_WARNING =
  "sandlock restore: warning: this checkpoint was captured in the supervised view: its threads get new ids, and one that held a lock recorded by its thread id when captured (a recursive or error-checking mutex) waits for it for good; a capture in the kernel view keeps the ids (docs/checkpoint.md, Limits)";

export async function restoreCommand(argv: readonly string[]): Promise<number> {
  const hint = `see "sandlock restore --help"`;
  const { uses, operands } = parseArgs(argv, RESTORE_FLAGS, { command: "sandlock restore", hint });
  if (uses.some((u) => u.spec.long === "help")) {
    process.stdout.write(HELP);
    return 0;
  }
  if (operands.length !== 1 || operands[0] === "") {
    throw new UsageError(`sandlock restore: give the checkpoint's directory (got ${operands.length} argument${operands.length === 1 ? "" : "s"})`, hint);
  }
  const refs: ProfileRef[] = [];
  for (const u of uses) {
    if (u.spec.long !== "profile" && u.spec.long !== "profile-file") continue;
    const ref = profileRefOf(u.spec.long, u.value ?? "");
    if ("empty" in ref) throw new UsageError(`sandlock restore: --${u.spec.long} is empty (${ref.empty})`, hint);
    refs.push(ref);
  }
  const [{ Checkpoint }, { Sandbox }, { CheckpointError, PolicyError }] = await Promise.all([import("../checkpoint/checkpoint.js"), import("../sandbox.js"), import("../errors.js")]);
  let sb;
  try {
    let policy;
    if (refs.length > 0) {
      const r = await (await import("../profile/resolve.js")).resolveProfiles(refs);
      if (r.cmd !== undefined) throw new UsageError(`sandlock restore: ${r.layers.join(", ")} names a command ([program] exec); a restore runs the checkpoint's own, so give a profile without one`, hint);
      policy = r.input;
    }
    const cp = await Checkpoint.load(operands[0]!);
    if (cp.procView === "supervised") process.stderr.write(`${SUPERVISED_WARNING}\n`);
    sb = await Sandbox.restore(cp, { stdin: "inherit", stdout: "inherit", stderr: "inherit", ...(policy === undefined ? {} : { policy }) });
  } catch (e) {
    if (!(e instanceof CheckpointError) && !(e instanceof PolicyError)) throw e;
    process.stderr.write(`sandlock restore: ${e.message}\n`);
    return 1;
  }
  return exitCodeOf(await sb.wait(), undefined);
}
