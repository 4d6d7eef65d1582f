// Errors of a run -> what the user reads and the exit code (SPEC 9): policy errors name the
// flag that set the field; confinement failures are 126, or 127 for a missing command.

import type { LimitExceeded } from "../result.js";
import type { Adjustment } from "../plan/features.js";
import { FLAG_OF_FIELD } from "./run-flags.js";
import { EXIT_USAGE, UsageError } from "./usage-error.js";

export const EXIT_TIMEOUT = 124;
export const EXIT_CONFINEMENT = 126;
export const EXIT_NOT_FOUND = 127;

export interface Failure {
  readonly code: string;
  readonly message: string;
  readonly exitCode: number;
}

/** The fields of sandlock's error tree this module reads (branching on `code`, not class). */
interface LibraryError {
  code: string;
  message: string;
  field?: string;
  step?: string;
  errno?: string;
  notGranted?: boolean;
  stream?: string;
  maxBuffer?: number;
}

function isLibraryError(e: unknown): e is LibraryError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

/**
 * "maxMemory: \"12X\" is not..." -> "--max-memory: \"12X\" is not...". A nested field keeps
 * its sub-part: "user.uid: 5 is..." -> "--user (uid): 5 is...".
 */
export function flagMessage(field: string, message: string): string {
  let flag = FLAG_OF_FIELD.get(field);
  let sub = "";
  if (flag === undefined) {
    const base = /^[^.[]+/.exec(field)?.[0] ?? field;
    flag = FLAG_OF_FIELD.get(base);
    if (flag === undefined) return message;
    sub = field.slice(base.length).replace(/^\./, "");
    const bracket = /^\[(.*)\]$/.exec(sub);
    if (bracket !== null) {
      try {
        sub = String(JSON.parse(bracket[1]!));
      } catch {
        sub = bracket[1]!;
      }
    }
  }
  const label = sub === "" ? flag : `${flag} (${sub})`;
  return message.startsWith(`${field}:`) ? `${label}${message.slice(field.length)}` : `${label}: ${message}`;
}

/** How a thrown error ends the run, or undefined when it is not one of ours (a bug). */
export function describeFailure(e: unknown): Failure | undefined {
  if (e instanceof UsageError) return { code: "USAGE", message: e.message, exitCode: EXIT_USAGE };
  if (!isLibraryError(e)) return undefined;
  const say = (m: string): string => `sandlock: ${m}`;
  switch (e.code) {
    case "POLICY_INVALID":
    case "POLICY_UNSUPPORTED":
      return { code: e.code, message: say(e.field !== undefined ? flagMessage(e.field, e.message) : e.message), exitCode: EXIT_USAGE };
    case "CONFINEMENT_STEP_FAILED":
    case "CONFINEMENT_UNAVAILABLE": {
      // ENOENT of a file the host has outside the grants (the kernel view) is not granted: 126.
      const notFound = e.step?.startsWith("execve") === true && e.errno === "ENOENT" && e.notGranted !== true;
      return { code: e.code, message: say(e.message), exitCode: notFound ? EXIT_NOT_FOUND : EXIT_CONFINEMENT };
    }
    case "OUTPUT_LIMIT":
      // Only --json keeps output (the library's default maxBuffer); the run was SIGKILLed.
      return {
        code: e.code,
        message: say(`--json: the command wrote more than ${sizeText(e.maxBuffer ?? 0)} to ${e.stream}, so the sandbox was killed (--json keeps the output in memory; without --json it streams)`),
        exitCode: 128 + 9,
      };
    case "SUPERVISOR_FAILED":
    case "SANDBOX_STATE":
    case "BRANCH_FAILED":
      return { code: e.code, message: say(e.message), exitCode: EXIT_USAGE };
    default:
      return undefined;
  }
}

/** 67108864 -> "64 MiB": the largest binary unit that divides the size exactly. */
export function sizeText(bytes: number): string {
  for (const [unit, size] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** The line that names the limit which killed a process of the sandbox, e.g.
 * "sandlock: killed: memory limit 64 MiB exceeded (maxMemory)". */
export function limitMessage(limit: LimitExceeded): string {
  const cap = limit.kind === "memory" ? sizeText(limit.cap) : `${limit.cap}%`;
  if (limit.reason !== undefined) return `sandlock: killed: ${limit.kind} limit ${cap} could not be enforced (${limit.field}): ${limit.reason}`;
  return `sandlock: killed: ${limit.kind} limit ${cap} exceeded (${limit.field})`;
}

/** The line that says a policy value was applied differently, e.g. "sandlock:
 * --max-open-files 5000 applied as 4096: above this process's hard RLIMIT_NOFILE (4096)". */
export function adjustmentMessage(a: Adjustment): string {
  // A switch left off, not a number lowered: its reason says it whole.
  if (a.field === "protectedFiles") return `sandlock: ${a.reason}`;
  return `sandlock: ${FLAG_OF_FIELD.get(a.field) ?? a.field} ${a.requested} applied as ${a.applied}: ${a.reason}`;
}
