// The one error tree of sandlock. Every error has a stable `code`; callers branch on the
// class or the code, never on the message text.

export type ErrorCode =
  | "POLICY_INVALID"
  | "POLICY_UNSUPPORTED"
  | "CONFINEMENT_UNAVAILABLE"
  | "CONFINEMENT_STEP_FAILED"
  | "SUPERVISOR_FAILED"
  | "BRANCH_FAILED"
  | "SANDBOX_STATE";

export class SandlockError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The caller asked for something wrong: names the field and the value. */
export class PolicyError extends SandlockError {
  readonly field: string;
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
}

/** The host cannot give the confinement asked for, or child-side setup failed before exec. */
export class ConfinementError extends SandlockError {
  readonly protection: string | undefined;
  readonly requiredAbi: number | undefined;
  readonly hostAbi: number | undefined;
  readonly step: string | undefined;
  readonly errno: string | undefined;
  readonly errnoNumber: number | undefined;
  constructor(message: string, details: ConfinementDetails) {
    super(details.step ? "CONFINEMENT_STEP_FAILED" : "CONFINEMENT_UNAVAILABLE", message);
    this.protection = details.protection;
    this.requiredAbi = details.requiredAbi;
    this.hostAbi = details.hostAbi;
    this.step = details.step;
    this.errno = details.errno;
    this.errnoNumber = details.errnoNumber;
  }
}

export class SupervisorError extends SandlockError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SUPERVISOR_FAILED", message, options);
  }
}

export class BranchError extends SandlockError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BRANCH_FAILED", message, options);
  }
}

/** Lifecycle misuse: pause before spawn, spawning twice... */
export class SandboxError extends SandlockError {
  constructor(message: string) {
    super("SANDBOX_STATE", message);
  }
}
