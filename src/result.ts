// RunResult: how a sandboxed command ended, its captured output, and which protections
// were really in force.

import type { Enforcement } from "./plan/features.js";

export type RunStatus = "exited" | "signaled" | "killed" | "timeout";

export interface RunResultFields {
  status: RunStatus;
  exitCode: number | null;
  signal: string | null;
  stdout: Buffer | null;
  stderr: Buffer | null;
  durationMs: number;
  enforcement: Enforcement;
  pid: number | undefined;
  /** Why maxCpu's throttle ended the run (it could not measure or hold the sandbox). */
  cpuThrottleFailure?: string | null;
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
  /** Set when maxCpu's throttle ended the run because it could not measure or hold the
   * sandbox (status "killed"): the reason, in one sentence; null otherwise. */
  readonly cpuThrottleFailure: string | null;

  constructor(f: RunResultFields) {
    this.status = f.status;
    this.exitCode = f.exitCode;
    this.signal = f.signal;
    this.stdout = f.stdout;
    this.stderr = f.stderr;
    this.durationMs = f.durationMs;
    this.enforcement = f.enforcement;
    this.pid = f.pid;
    this.cpuThrottleFailure = f.cpuThrottleFailure ?? null;
    Object.freeze(this);
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
      cpuThrottleFailure: this.cpuThrottleFailure,
    };
  }
}
