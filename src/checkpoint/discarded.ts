// Signals a traced process is sent that it would never have seen untraced: the kernel
// discards a signal the process ignores, or does not catch and ignores by default, unless it
// is blocked or the process is traced (so that its tracer sees every signal). A capture and
// a restore trace the sandbox, so they meet such signals where the sandbox would not.

import { readFileSync } from "node:fs";
import { parseStatus } from "./procfs.js";

/** Signals whose default action is to ignore them (SIGCHLD, SIGCONT, SIGURG, SIGWINCH), as
 * a signal mask (bit s - 1). */
const IGNORED_BY_DEFAULT = (1n << 16n) | (1n << 17n) | (1n << 22n) | (1n << 27n);

/** The signals the kernel discards when sent to a process that is not traced, as a mask: the
 * ignored ones (SigIgn), and those not caught (SigCgt) whose default is to ignore them. A
 * traced process is sent them all, so that its tracer sees them. */
export function discardedMask(sigIgnored: bigint, sigCaught: bigint): bigint {
  return sigIgnored | (IGNORED_BY_DEFAULT & ~sigCaught);
}

/**
 * Whether the kernel would have discarded signal sig sent to pid, were it not traced: a
 * remote call (a capture's, a restore's) then drops it and goes on. A SIGCHLD for a child
 * the pause stopped reached a frozen parent in the middle of a capture's call, which then
 * failed and left its signal handlers unrecorded (a restore refused the process; one run
 * in 75 of restore-state's ids case, three at a time beside two busy loops).
 */
export function discardedUntraced(pid: number, sig: number): boolean {
  if (sig < 1 || sig > 64) return false;
  let status: Map<string, string>;
  try {
    status = parseStatus(readFileSync(`/proc/${pid}/status`, "latin1"));
  } catch {
    return false;
  }
  const mask = (name: string): bigint => BigInt(`0x${status.get(name) || "0"}`);
  return (discardedMask(mask("SigIgn"), mask("SigCgt")) & (1n << BigInt(sig - 1))) !== 0n;
}
