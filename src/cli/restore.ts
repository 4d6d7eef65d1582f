// `sandlock restore DIR`: loads a checkpoint saved by `sandlock checkpoint` (or cp.save) and
// resumes it in a new sandbox under its saved policy, with this terminal's stdin, stdout
// and stderr as the restored process's 0-2; the exit code is the restored command's.

import { parseArgs, type FlagSpec } from "./args.js";
import { exitCodeOf } from "./outcome.js";
import { UsageError } from "./usage-error.js";

export const RESTORE_FLAGS: readonly FlagSpec[] = [{ long: "help", short: "h", help: "show this help" }];

const HELP = `sandlock restore

Usage:
  sandlock restore DIR

Resumes the checkpoint saved in DIR (sandlock checkpoint NAME DIR) in a new sandbox under
its saved policy, on the same kernel: memory, registers, open files at their offsets, cwd,
umask, signal mask (docs/checkpoint.md). stdin, stdout and stderr are this terminal's. What
cannot be restored (a socket, a pipe, a changed file, a process whose parent is not in it) is
refused before anything runs, with the process and descriptor named. Exit: the restored
command's code (128+N for signal N); 1 when the checkpoint cannot be loaded or restored
(the reason is on stderr).

  -h, --help  show this help
`;

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
  const [{ Checkpoint }, { Sandbox }, { CheckpointError }] = await Promise.all([import("../checkpoint/checkpoint.js"), import("../sandbox.js"), import("../errors.js")]);
  let sb;
  try {
    const cp = await Checkpoint.load(operands[0]!);
    sb = await Sandbox.restore(cp, { stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    process.stderr.write(`sandlock restore: ${e.message}\n`);
    return 1;
  }
  return exitCodeOf(await sb.wait(), undefined);
}
