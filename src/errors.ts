import type { RunResult } from "./result.js";

// The one error tree of sandlock. Every error has a stable `code`; callers branch on the
// class or the code, never on the message text.

/** The stable code of every SandlockError: branch on it (or the class), never on the message. */
export type ErrorCode =
  | "POLICY_INVALID"
  | "POLICY_UNSUPPORTED"
  | "CONFINEMENT_UNAVAILABLE"
  | "CONFINEMENT_STEP_FAILED"
  | "SUPERVISOR_FAILED"
  | "BRANCH_FAILED"
  | "SANDBOX_STATE"
  | "CHECKPOINT_FAILED"
  | "CHECKPOINT_INVALID"
  | "CHECKPOINT_REFUSED"
  | "COMMAND_FAILED"
  | "OUTPUT_LIMIT"
  | "PIPE_HELD";

/** The base class of every error sandlock throws. */
export class SandlockError extends Error {
  /** Which kind of error this is (stable across versions). */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The caller asked for something wrong: names the field and the value. */
export class PolicyError extends SandlockError {
  /** The policy field (or CLI flag, option) that is wrong, e.g. "maxMemory". */
  readonly field: string;
  /** The value given for it. */
  readonly value: unknown;
  constructor(field: string, value: unknown, message: string, code: ErrorCode = "POLICY_INVALID") {
    super(code, message);
    this.field = field;
    this.value = value;
  }
}

/** Fields of the policy whose enforcement arrives with a later part of the product. */
export class PolicyUnsupportedError extends PolicyError {
  constructor(field: string, value: unknown, why: string) {
    super(field, value, `${field}: not supported yet (${why})`, "POLICY_UNSUPPORTED");
  }
}

export interface ConfinementDetails {
  /** A protection the host lacks (section 7 name). */
  protection?: string;
  requiredAbi?: number;
  hostAbi?: number;
  /** Child-side setup step that failed, e.g. "landlock_restrict_self". */
  step?: string;
  /** errno name of the failed step, e.g. "EPERM". */
  errno?: string;
  errnoNumber?: number;
  /** The native binary (addon or launcher) that is missing or does not load here. */
  binary?: string;
  /** The exec failed because a file it needs is outside the grants (see ConfinementError). */
  notGranted?: boolean;
  cause?: unknown;
}

/** The host cannot give the confinement asked for, or child-side setup failed before exec. */
export class ConfinementError extends SandlockError {
  /** A protection the host lacks (its name, as in PROTECTIONS), if that is the failure. */
  readonly protection: string | undefined;
  /** The Landlock ABI that protection needs. */
  readonly requiredAbi: number | undefined;
  /** The Landlock ABI of this kernel. */
  readonly hostAbi: number | undefined;
  /** The child-side setup step that failed, e.g. "landlock_restrict_self" or "execve(ls)". */
  readonly step: string | undefined;
  /** errno name of the failed step, e.g. "EPERM". */
  readonly errno: string | undefined;
  /** errno number of the failed step. */
  readonly errnoNumber: number | undefined;
  /** The native binary that is missing or does not load here (then nothing else is set). */
  readonly binary: string | undefined;
  /** The command's exec failed because the program, its interpreter or its loader exists on
   * the host outside the grants: under the kernel view that is ENOENT (no such path in the
   * sandbox's root), under the supervised view EACCES; true only in the ENOENT case, which
   * is then "not granted" rather than "not found". */
  readonly notGranted: boolean;
  constructor(message: string, details: ConfinementDetails) {
    super(details.step ? "CONFINEMENT_STEP_FAILED" : "CONFINEMENT_UNAVAILABLE", message, { cause: details.cause });
    this.protection = details.protection;
    this.requiredAbi = details.requiredAbi;
    this.hostAbi = details.hostAbi;
    this.step = details.step;
    this.errno = details.errno;
    this.errnoNumber = details.errnoNumber;
    this.binary = details.binary;
    this.notGranted = details.notGranted === true;
  }
}

/** The seccomp supervisor failed (the sandbox is killed: nothing runs unsupervised). */
export class SupervisorError extends SandlockError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SUPERVISOR_FAILED", message, options);
  }
}

/** A branch (copy-on-write fork of a sandbox) failed. */
export class BranchError extends SandlockError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BRANCH_FAILED", message, options);
  }
}

/** Lifecycle misuse: pause before spawn, spawning twice... */
export class SandboxError extends SandlockError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SANDBOX_STATE", message, options);
  }
}

export interface CheckpointDetails {
  /** The sandboxed process (or thread) the failure is about. */
  pid?: number;
  /** The failing call, e.g. "ptrace(PTRACE_SEIZE)", and its errno name, e.g. "EPERM". */
  syscall?: string;
  errno?: string;
  /** The file of a checkpoint directory that is missing or corrupt. */
  path?: string;
  /** The descriptor a restore refused (CHECKPOINT_REFUSED). */
  fd?: number;
  cause?: unknown;
}

/**
 * A checkpoint could not be taken or written (CHECKPOINT_FAILED: a process cannot be
 * traced, did not stop, the directory cannot be written), or a saved one cannot be read
 * back (CHECKPOINT_INVALID: missing, truncated, wrong version, bad checksum), or restored
 * (CHECKPOINT_REFUSED: another kernel, a wider policy, a socket, a changed file...; the
 * message names the process and descriptor, and nothing of the image ran).
 */
export class CheckpointError extends SandlockError {
  /** The sandboxed process (or thread) the failure is about. */
  readonly pid: number | undefined;
  /** The failing call, e.g. "ptrace(PTRACE_SEIZE)". */
  readonly syscall: string | undefined;
  /** errno name of the failing call, e.g. "EPERM". */
  readonly errno: string | undefined;
  /** The file of a checkpoint directory that is missing or corrupt. */
  readonly path: string | undefined;
  /** The descriptor a restore refused, when one is the reason. */
  readonly fd: number | undefined;
  constructor(code: "CHECKPOINT_FAILED" | "CHECKPOINT_INVALID" | "CHECKPOINT_REFUSED", message: string, details: CheckpointDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.pid = details.pid;
    this.syscall = details.syscall;
    this.errno = details.errno;
    this.path = details.path;
    this.fd = details.fd;
  }
}

/** Why a command failed, in a few words: "exited with code 3", "was killed by SIGSEGV". */
function ending(r: RunResult): string {
  switch (r.status) {
    case "exited":
      return `exited with code ${r.exitCode}`;
    case "signaled":
      return `was killed by ${r.signal}`;
    case "killed":
      return `was killed (kill(), an AbortSignal or a limit; ${r.signal})`;
    case "timeout":
      return "timed out";
  }
}

/** The last line of captured stderr, at most 300 characters, or "". */
function stderrTail(r: RunResult): string {
  const text = r.stderr?.toString("utf8").trimEnd() ?? "";
  const last = text.slice(text.lastIndexOf("\n") + 1);
  return last.length > 300 ? `${last.slice(0, 297)}...` : last;
}

/**
 * The command did not exit with code 0: thrown by `result.check()`, and by run()/wait()
 * with `reject: true`. Carries the whole {@link RunResult} (status, exit code, output).
 */
export class CommandFailedError extends SandlockError {
  /** The result of the run that failed. */
  readonly result: RunResult;
  constructor(result: RunResult) {
    const tail = stderrTail(result);
    super("COMMAND_FAILED", `the command ${ending(result)}${tail === "" ? "" : `: ${tail}`}`);
    this.result = result;
  }
}

/**
 * The command wrote more than `maxBuffer` bytes to a captured stream: the sandbox was
 * killed and run()/wait() reject with this. `result` holds the first maxBuffer bytes.
 */
export class OutputLimitError extends SandlockError {
  /** "stdout" or "stderr": the stream that went past the limit. */
  readonly stream: "stdout" | "stderr";
  /** The limit in bytes (the maxBuffer option). */
  readonly maxBuffer: number;
  /** The run, ended by the kill (status "killed"), with the output kept up to the limit. */
  readonly result: RunResult;
  /** `how`: what raises the limit, when it is not spawn's maxBuffer option (a fork clone's). */
  constructor(stream: "stdout" | "stderr", maxBuffer: number, result: RunResult, how?: string) {
    super("OUTPUT_LIMIT", `${stream}: the command wrote more than maxBuffer (${maxBuffer} bytes), so the sandbox was killed; ${how ?? `raise maxBuffer, or spawn with buffer: false and read sb.${stream} as a stream`}`);
    this.stream = stream;
    this.maxBuffer = maxBuffer;
    this.result = result;
  }
}

/**
 * A pipeline's stage ended while a process outside the pipeline still held its end of a pipe
 * (the stage had handed it away, over a unix socket): its stdout, through which that process
 * could have kept the next stage reading, its bytes counted as the pipeline's, for as long as
 * it liked; or its stdin, through which it could have kept the previous stage writing to
 * it. The stage at the other end was killed once the stage had ended; `result` is the
 * pipeline's (each stage's in `stages`).
 */
export class PipeHeldError extends SandlockError {
  /** The stage (0-based) whose end was held outside the pipeline. */
  readonly stage: number;
  /** Which of its ends: "stdout" (stage + 1 was killed) or "stdin" (stage - 1 was killed). */
  readonly end: "stdout" | "stdin";
  /** The pipeline's result: the last stage's, with every stage's in `stages`. */
  readonly result: RunResult;
  constructor(stage: number, end: "stdout" | "stdin", result: RunResult) {
    const other = end === "stdout" ? stage + 1 : stage - 1;
    super(
      "PIPE_HELD",
      `pipeline: stage ${stage} ended while a process outside the pipeline still held its ${end} (the pipe ${end === "stdout" ? "into" : "from"} stage ${other}; the stage handed it away), so stage ${other} was killed`,
    );
    this.stage = stage;
    this.end = end;
    this.result = result;
  }
}
