// What the user reads when a confined command failed: the calls the supervisor refused
// (RunResult.refused), and otherwise, in a terminal, one hint that `sandlock learn`
// proposes a profile. Landlock refuses files in the kernel without telling anyone, so
// the hint is all that can be said of those without guessing.

import { printableShort } from "../printable.js";
import type { RunResult } from "../result.js";

/** Kinds of refusal listed before "and N more". */
const SHOWN = 5;

/** Targets and reasons name what the sandbox chose (a /proc path, the host name a proxied
 * request carried): printable, so its control characters and line breaks cannot write to
 * the terminal or forge lines of sandlock's own. */
export function refusalLines(result: RunResult): string[] {
  const lines = result.refused.slice(0, SHOWN).map((r) => `sandlock: refused: ${r.syscall} ${printableShort(r.target)}: ${r.errno}, ${printableShort(r.why)}${r.count > 1 ? ` (${r.count} times)` : ""}`);
  if (result.refused.length > SHOWN) lines.push(`sandlock: refused: ${result.refused.length - SHOWN} more kinds of call (--json lists them)`);
  return lines;
}

/** argv as a shell would need it typed. */
export function shellWords(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** One line that points at learn mode, for a failed run that used no preset or profile. */
export function learnHint(cmd: readonly string[]): string {
  const shell = cmd.length === 3 && cmd[0] === "/bin/sh" && cmd[1] === "-c" ? `-e ${shellWords([cmd[2]!])}` : `-- ${shellWords(cmd)}`;
  return `sandlock: hint: if the command failed for lack of a file, "sandlock learn ${shell}" proposes a profile that lets it run (or start from a preset: -p workspace)`;
}

export interface FailureContext {
  readonly cmd: readonly string[];
  /** A preset or profile was given (-p, --profile-file). */
  readonly usedProfile: boolean;
  /** sandlock's stderr is a terminal: a person reads it. */
  readonly tty: boolean;
}

/** Lines to print after a run: nothing when it succeeded, or ended by a timeout or a limit
 * (those say so themselves). */
export function failureLines(result: RunResult, ctx: FailureContext): string[] {
  const failed = result.status !== "timeout" && result.limit === null && (result.signal !== null || result.exitCode !== 0);
  if (!failed) return [];
  const lines = refusalLines(result);
  if (lines.length === 0 && !ctx.usedProfile && ctx.tty && result.status === "exited") lines.push(learnHint(ctx.cmd));
  return lines;
}
