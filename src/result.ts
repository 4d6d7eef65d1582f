// RunResult: how a sandboxed command ended, its captured output, and which protections
// were really in force.

import type { Adjustment, Enforcement } from "./plan/features.js";

export type RunStatus = "exited" | "signaled" | "killed" | "timeout";

/**
 * A limit of the policy that killed a process of the sandbox (a timeout is a status of
 * its own). One shape for every limit: `kind` says which, `field` the policy field that
 * set it, `cap` and `used` are in that field's unit.
 */
export interface LimitExceeded {
  /** "memory": maxMemory (bytes). "cpu": maxCpu (percent of one core). */
  readonly kind: "memory" | "cpu";
  readonly field: "maxMemory" | "maxCpu";
  readonly cap: number;
  /** What the supervisor measured when it acted, when it measured anything. */
  readonly used?: number;
  /** For a limit that could not be enforced (maxCpu's throttle lost its measure), why. */
  readonly reason?: string;
}

/** A kind of call the supervisor refused during the run, and how many times. */
export interface Refusal {
  /** "connect", "send", "open"... */
  readonly syscall: string;
  /** The errno the call got, by name ("ECONNREFUSED"). */
  readonly errno: string;
  /** What it named: "93.184.216.34:443 over tcp", "/proc/1/environ". */
  readonly target: string;
  /** Which rule refused it: "not allowed by netAllow". */
  readonly why: string;
  readonly count: number;
}

export interface RunResultFields {
  status: RunStatus;
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer | null;
  stderr: Buffer | null;
  durationMs: number;
  enforcement: Enforcement;
  pid: number | undefined;
  /** The limit that killed a process of the sandbox, if one did (the first one). */
  limit?: LimitExceeded | null;
  /** Calls the supervisor refused (the first 50 kinds). */
  refused?: readonly Refusal[];
  /** Policy values applied differently from what was asked (e.g. maxOpenFiles above the
   * caller's hard limit), and why. */
  adjustments?: readonly Adjustment[];
  /** Why maxCpu's throttle ended the run (it could not measure or hold the sandbox). */
  cpuThrottleFailure?: string | null;
  /** A pipeline's last stage: every stage's result, in order. */
  stages?: readonly RunResult[];
}

export class RunResult implements RunResultFields {
  readonly status: RunStatus;
  /** The command's exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  /** Name of the signal that ended the command ("SIGKILL"), or null. */
  readonly signal: string | null;
  readonly stdout: Buffer | null;
  readonly stderr: Buffer | null;
  readonly durationMs: number;
  readonly enforcement: Enforcement;
  readonly pid: number | undefined;
  /** The limit that killed a process of the sandbox (the first one), or null. A run
   * ended by maxMemory says so here: its status alone is "signaled" with SIGKILL. */
  readonly limit: LimitExceeded | null;
  /**
   * Calls the supervisor refused during the run, one entry per kind (syscall, target,
   * rule) with a count; the first 50 kinds are kept. Refusals Landlock makes on its own
   * (a file outside the grants) happen in the kernel without a notification and are not
   * listed: `sandlock learn` finds those.
   */
  readonly refused: readonly Refusal[];
  /** Policy values applied differently from what was asked, and why ([] when none). */
  readonly adjustments: readonly Adjustment[];
  /** Set when maxCpu's throttle ended the run because it could not measure or hold the
   * sandbox (status "killed"): the reason, in one sentence; null otherwise. */
  readonly cpuThrottleFailure: string | null;
  /** For the result of a pipeline (Pipeline.run): every stage's result in order, this one
   * last; [] for a single sandbox. */
  readonly stages: readonly RunResult[];

  constructor(f: RunResultFields) {
    this.status = f.status;
    this.exitCode = f.exitCode;
    this.signal = f.signal;
    this.stdout = f.stdout;
    this.stderr = f.stderr;
    this.durationMs = f.durationMs;
    this.enforcement = f.enforcement;
    this.pid = f.pid;
    this.limit = f.limit ? Object.freeze({ ...f.limit }) : null;
    this.refused = Object.freeze((f.refused ?? []).map((r) => Object.freeze({ ...r })));
    this.adjustments = Object.freeze((f.adjustments ?? []).map((a) => Object.freeze({ ...a })));
    this.cpuThrottleFailure = f.cpuThrottleFailure ?? null;
    this.stages = Object.freeze([...(f.stages ?? [])]);
    Object.freeze(this);
  }

  /** This result with `stages` set (a pipeline's last stage). */
  withStages(stages: readonly RunResult[]): RunResult {
    return new RunResult({ ...this, stages });
  }

  /** Exit code 0. */
  get success(): boolean {
    return this.exitCode === 0;
  }

  /** Captured stdout as trimmed UTF-8 ("" when not captured). */
  get stdoutText(): string {
    return this.stdout?.toString("utf8").trim() ?? "";
  }

  /** Captured stderr as trimmed UTF-8 ("" when not captured). */
  get stderrText(): string {
    return this.stderr?.toString("utf8").trim() ?? "";
  }

  toJSON(): Record<string, unknown> {
    return {
      status: this.status,
      exitCode: this.exitCode,
      signal: this.signal,
      success: this.success,
      stdout: this.stdout?.toString("utf8") ?? null,
      stderr: this.stderr?.toString("utf8") ?? null,
      durationMs: this.durationMs,
      enforcement: this.enforcement,
      pid: this.pid ?? null,
      limit: this.limit,
      refused: this.refused,
      adjustments: this.adjustments,
      cpuThrottleFailure: this.cpuThrottleFailure,
      ...(this.stages.length > 0 ? { stages: this.stages.map((s) => s.toJSON()) } : {}),
    };
  }
}
