// RunResult -> sandlock's exit code (SPEC 9): the command's own code, 128+N for signal N,
// 124 after a timeout (with "sandlock: timeout after Ns" on stderr); a limit that killed
// a process is named on stderr, the code stays the command's (137 for SIGKILL).

import { constants } from "node:os";
import type { RunResult } from "../result.js";
import { EXIT_TIMEOUT, adjustmentMessage, limitMessage } from "./report.js";

export const EXIT_SIGNAL_BASE = 128;

function signalNumber(name: string): number {
  const known = (constants.signals as Record<string, number | undefined>)[name];
  if (known !== undefined) return known;
  const m = /^SIG(\d+)$/.exec(name); // real-time signals have no name in Node's table
  return m ? Number(m[1]) : constants.signals.SIGKILL;
}

/** A signal sandlock received was forwarded to the sandbox: the code is still the
 * command's own (timeout(1) does the same), see run-exec.ts. */
export function exitCodeOf(result: RunResult, timeoutText: string | undefined): number {
  for (const a of result.adjustments) process.stderr.write(`${adjustmentMessage(a)}\n`);
  if (result.limit !== null) process.stderr.write(`${limitMessage(result.limit)}\n`);
  if (result.status === "timeout") {
    process.stderr.write(`sandlock: timeout after ${timeoutText ?? "?"}s\n`);
    return EXIT_TIMEOUT;
  }
  if (result.signal !== null) return EXIT_SIGNAL_BASE + signalNumber(result.signal);
  return result.exitCode ?? EXIT_SIGNAL_BASE + constants.signals.SIGKILL;
}
