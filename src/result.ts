// RunResult: how a sandboxed command ended, its captured output, and which protections
// were really in force.

import { CommandFailedError } from "./errors.js";
import type { Adjustment, Enforcement } from "./plan/features.js";
import type { Change } from "./cow/changes.js";
import type { PortMapping } from "./supervise/handlers/port-remap.js";
import type { NetworkReport } from "./proxy/report.js";

/** How a run ended: see {@link RunEnding} for what each status says about exitCode and signal. */
export type RunStatus = "exited" | "signaled" | "killed" | "timeout";

/**
 * A limit of the policy that killed a process of the sandbox (a timeout is a status of
 * its own). One shape for every limit: `kind` says which, `field` the policy field that
 * set it, `cap` and `used` are in that field's unit.
 */
export interface LimitExceeded {
  /** "memory": maxMemory (bytes). "cpu": maxCpu (percent of one core). */
  readonly kind: "memory" | "cpu";
  /** The policy field that set the limit. */
  readonly field: "maxMemory" | "maxCpu";
  /** The limit, in the field's unit. */
  readonly cap: number;
  /** What the supervisor measured when it acted, when it measured anything. */
  readonly used?: number;
  /** Why, where the measure alone does not say: a limit that could not be enforced
   * (maxCpu's throttle lost its measure), or memory that could not be measured (maxMemory:
   * descriptors kept queued to the sandbox's sockets). */
  readonly reason?: string;
}

/** What became of a copy-on-write workdir's changes (policy.onExit / onError). */
export interface WorkdirOutcome {
  /** "committed" into the real directory, "aborted" (thrown away), or "kept" as a branch. */
  readonly action: "committed" | "aborted" | "kept";
  /** The branch id (`sandlock branch show ID`); a kept branch is still listed. */
  readonly branch: string;
  /** What the run changed, against the real directory. */
  readonly changes: readonly Change[];
  /** protectedFiles: the changes to protected files a commit held back; they stay in the
   * branch (kept, listed: `sandlock branch show|apply|drop`). Absent when none. */
  readonly heldBack?: readonly Change[];
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
  /** How many times the sandbox made this call and was refused. */
  readonly count: number;
}

/** What a RunResult is made of (the constructor's argument). */
export interface RunResultFields {
  /** See RunResultBase.status. */
  status: RunStatus;
  /** See RunResultBase.exitCode. */
  exitCode: number | null;
  /** See RunResultBase.signal. */
  signal: string | null;
  /** See RunResultBase.stdout. */
  stdout: Buffer | null;
  /** See RunResultBase.stderr. */
  stderr: Buffer | null;
  /** See RunResultBase.durationMs. */
  durationMs: number;
  /** See RunResultBase.enforcement. */
  enforcement: Enforcement;
  /** See RunResultBase.pid. */
  pid: number | undefined;
  /** See RunResultBase.procView. */
  procView?: "kernel" | "supervised" | null;
  /** The limit that killed a process of the sandbox, if one did (the first one). */
  limit?: LimitExceeded | null;
  /** Calls the supervisor refused (the first 50 kinds). */
  refused?: readonly Refusal[];
  /** portRemap: the ports the sandbox was given elsewhere on the host. */
  ports?: readonly PortMapping[];
  /** Domain rules: the filtering proxy's report. */
  network?: NetworkReport | null;
  /** Policy values applied differently from what was asked (e.g. maxOpenFiles above the
   * caller's hard limit), and why. */
  adjustments?: readonly Adjustment[];
  /** Why maxCpu's throttle ended the run (it could not measure or hold the sandbox). */
  cpuThrottleFailure?: string | null;
  /** A pipeline's last stage: every stage's result, in order. */
  stages?: readonly RunResult[];
  /** See RunResultBase.workdir. */
  workdir?: WorkdirOutcome | null;
}

/** How the run ended, by status: `status === "exited"` narrows `exitCode` to a number. */
export type RunEnding = ExitedEnding | SignaledEnding | KilledEnding | TimeoutEnding;

/** The command exited by itself. */
export interface ExitedEnding {
  /** "exited" */
  readonly status: "exited";
  /** The command's exit code. */
  readonly exitCode: number;
  /** null: no signal ended it. */
  readonly signal: null;
}

/** A signal the sandbox did not send ended the command. */
export interface SignaledEnding {
  /** "signaled" */
  readonly status: "signaled";
  /** null: the command did not exit by itself. */
  readonly exitCode: null;
  /** The signal's name, e.g. "SIGSEGV". */
  readonly signal: string;
}

/** kill(), an AbortSignal, a limit or maxBuffer ended the run. */
export interface KilledEnding {
  /** "killed" */
  readonly status: "killed";
  /** null: the command did not exit by itself. */
  readonly exitCode: null;
  /** The signal it died of (SIGKILL, or the killSignal). */
  readonly signal: string;
}

/** The timeout expired; the command may still have exited by itself (timeout(1) exits 124). */
export interface TimeoutEnding {
  /** "timeout" */
  readonly status: "timeout";
  /** The exit code, if the command exited by itself. */
  readonly exitCode: number | null;
  /** The signal's name, if one ended it. */
  readonly signal: string | null;
}

/**
 * How a sandboxed command ended: a {@link RunResultBase} narrowed by `status`
 * (`if (r.status === "exited") r.exitCode` is a number there).
 */
export type RunResult = RunResultBase & RunEnding;

/** A RunResult whose command exited with code 0 (what {@link RunResultBase.check} returns). */
export type SucceededRunResult = RunResultBase & SucceededEnding;

/** An ExitedEnding with exit code 0. */
export interface SucceededEnding extends ExitedEnding {
  /** 0 */
  readonly exitCode: 0;
}

/** The class behind {@link RunResult} (use the RunResult type: it narrows by status). */
export class RunResultBase implements RunResultFields {
  /** "exited", "signaled", "killed" (kill(), abort, a limit, maxBuffer) or "timeout". */
  readonly status: RunStatus;
  /** The command's exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  /** Name of the signal that ended the command ("SIGKILL"), or null. */
  readonly signal: string | null;
  /** Captured stdout (stdout "pipe" with buffer true, the default of run()), else null. */
  readonly stdout: Buffer | null;
  /** Captured stderr (stderr "pipe" with buffer true, the default of run()), else null. */
  readonly stderr: Buffer | null;
  /** Milliseconds from the launch to the end of the last process. */
  readonly durationMs: number;
  /** Which protections were really in force, each "active", "degraded" or "disabled". */
  readonly enforcement: Enforcement;
  /** The root process id (undefined when the command never started). */
  readonly pid: number | undefined;
  /** The view the run had (Sandbox.procView): "kernel" (its own namespaces: a path outside
   * the grants does not exist, the command is pid 2 inside, `pid` is this process's view
   * of it) or "supervised"; null when not known (a result built by hand). */
  readonly procView: "kernel" | "supervised" | null;
  /** The limit that killed a process of the sandbox (the first one), or null. A run
   * ended by maxMemory says so here: its status alone is "signaled" with SIGKILL. */
  readonly limit: LimitExceeded | null;
  /**
   * Calls the supervisor refused during the run, one entry per kind (syscall, target,
   * rule) with a count; the first 50 kinds are kept. Refusals Landlock makes on its own
   * (a file outside the grants) happen in the kernel without a notification and are not
   * listed: `sandlock learn` finds those. A call the supervisor failed to decide (a
   * handler's error: it fails closed with EPERM) is listed too, its `why` beginning "the
   * supervisor failed to decide" and naming the error.
   */
  readonly refused: readonly Refusal[];
  /** portRemap: each TCP port the sandbox bound that was busy on the host, and the host
   * port it got instead; [] without portRemap or when every port was free. */
  readonly ports: readonly PortMapping[];
  /**
   * With domain rules in netAllow (docs/agents.md): the filtering proxy's address and what
   * it refused (no SNI, Encrypted Client Hello, a name outside the rules, an address that
   * is not the name's), one entry per kind with a count; null without domain rules.
   */
  readonly network: NetworkReport | null;
  /** Policy values applied differently from what was asked, and why ([] when none). */
  readonly adjustments: readonly Adjustment[];
  /** Set when maxCpu's throttle ended the run because it could not measure or hold the
   * sandbox (status "killed"): the reason, in one sentence; null otherwise. */
  readonly cpuThrottleFailure: string | null;
  /** For the result of a pipeline (Pipeline.run): every stage's result in order, this one
   * last; [] for a single sandbox. */
  readonly stages: readonly RunResult[];
  /** With a workdir: what happened to the staged changes (committed, aborted or kept as a
   * branch) and the change list; null without a workdir. */
  readonly workdir: WorkdirOutcome | null;

  constructor(f: RunResultFields) {
    this.status = f.status;
    this.exitCode = f.exitCode;
    this.signal = f.signal;
    this.stdout = f.stdout;
    this.stderr = f.stderr;
    this.durationMs = f.durationMs;
    this.enforcement = f.enforcement;
    this.pid = f.pid;
    this.procView = f.procView ?? null;
    this.limit = f.limit ? Object.freeze({ ...f.limit }) : null;
    this.refused = Object.freeze((f.refused ?? []).map((r) => Object.freeze({ ...r })));
    this.ports = Object.freeze((f.ports ?? []).map((p) => Object.freeze({ ...p })));
    this.network = f.network ? Object.freeze({ proxy: f.network.proxy, refused: Object.freeze(f.network.refused.map((r) => Object.freeze({ ...r }))) }) : null;
    this.adjustments = Object.freeze((f.adjustments ?? []).map((a) => Object.freeze({ ...a })));
    this.cpuThrottleFailure = f.cpuThrottleFailure ?? null;
    this.workdir = f.workdir ? Object.freeze({ ...f.workdir, changes: Object.freeze(f.workdir.changes.map((c) => Object.freeze({ ...c }))), ...(f.workdir.heldBack !== undefined ? { heldBack: Object.freeze(f.workdir.heldBack.map((c) => Object.freeze({ ...c }))) } : {}) }) : null;
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

  /**
   * This result when the command exited with code 0; otherwise throws a
   * {@link CommandFailedError} that carries it (`(await Sandbox.run(...)).check()`).
   */
  check(): SucceededRunResult {
    if (this.status === "exited" && this.exitCode === 0) return this as unknown as SucceededRunResult;
    throw new CommandFailedError(this as unknown as RunResult);
  }

  /** Captured stdout as trimmed UTF-8 ("" when not captured). */
  get stdoutText(): string {
    return this.stdout?.toString("utf8").trim() ?? "";
  }

  /** Captured stderr as trimmed UTF-8 ("" when not captured). */
  get stderrText(): string {
    return this.stderr?.toString("utf8").trim() ?? "";
  }

  /** The plain form printed by `sandlock run --json` (output decoded as UTF-8). */
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
      procView: this.procView,
      limit: this.limit,
      refused: this.refused,
      ...(this.ports.length > 0 ? { ports: this.ports } : {}),
      ...(this.network !== null ? { network: this.network } : {}),
      adjustments: this.adjustments,
      cpuThrottleFailure: this.cpuThrottleFailure,
      ...(this.stages.length > 0 ? { stages: this.stages.map((s) => s.toJSON()) } : {}),
      ...(this.workdir !== null ? { workdir: this.workdir } : {}),
    };
  }
}

/** The constructor of RunResult: `new RunResult(fields)`, `r instanceof RunResult`. */
export interface RunResultConstructor {
  /** Builds a RunResult (the caller guarantees that status, exitCode and signal agree). */
  new (f: RunResultFields): RunResult;
  /** The class's prototype (RunResultBase's). */
  readonly prototype: RunResultBase;
}

/** Builds a RunResult (the caller guarantees that status, exitCode and signal agree). */
export const RunResult = RunResultBase as unknown as RunResultConstructor;
