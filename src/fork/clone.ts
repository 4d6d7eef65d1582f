// A clone of a fork group, as a Sandbox handle: its pid, its own stdout and stderr, and
// wait/pause/resume/kill. It is a child of the zygote, which reports its exit status;
// signals go through a pidfd (and to its process group, which holds what it started).

import { closeSync } from "node:fs";
import type { Readable } from "node:stream";
import { OutputLimitError, SandboxError } from "../errors.js";
import { signalName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { capturePipe } from "../confine/stdio.js";
import type { Enforcement } from "../plan/features.js";
import type { Policy } from "../policy/policy.js";
import { RunResult, type LimitExceeded, type RunStatus } from "../result.js";
import { monotonicMs, Sandbox, type SandboxState } from "../sandbox.js";
import { processState } from "../supervise/members.js";

const SIGKILL = 9;
const SIGSTOP = 19;
const SIGCONT = 18;

export interface CloneStart {
  id: number;
  pid: number;
  pidfd: number;
  stdoutFd: number;
  stderrFd: number;
  enforcement: Enforcement;
  /** When fork() was called, on the monotonic clock (ms). */
  startedAt: number;
  /** Bytes of stdout and of stderr kept, each (see forkMaxBuffer). */
  maxBuffer: number;
  /** Called when the handle settles without the zygote's report (see kill): the fork
   * group stops waiting for one. */
  forget?: () => void;
}

/** How long kill() waits for the zygote's exit report once the pidfd shows the clone
 * gone, before it settles the result itself. */
const REPORT_GRACE_MS = 2000;

export class Clone extends Sandbox {
  /** CLONE_ID of this clone: its index in the array fork() returned. */
  readonly cloneId: number;
  readonly #pid: number;
  #pidfd: number;
  #state: SandboxState = "running";
  #killed = false;
  #exit: { code: number | null; signal: number | null } | undefined;
  readonly #result: Promise<RunResult>;
  #settle!: () => void;
  /** The output streams, made on first use. */
  readonly #stdout: () => Readable;
  readonly #stderr: () => Readable;
  /** Set when a stream went past maxBuffer: the clone was killed for it. */
  #overflow: "stdout" | "stderr" | undefined;
  /** The first limit that killed a process of the clone (the supervisor says, limitHit). */
  #limit: LimitExceeded | undefined;
  readonly #maxBuffer: number;
  /** Reads what the output pipes hold and ends both captures (see exited). */
  readonly #finish: () => void;
  readonly #forget: () => void;
  /** kill()'s watch of the pidfd and its grace timer (see kill). */
  #watch: object | undefined;
  #grace: NodeJS.Timeout | undefined;

  constructor(policy: Policy, start: CloneStart) {
    super(policy);
    this.cloneId = start.id;
    this.#forget = start.forget ?? (() => undefined);
    this.#pid = start.pid;
    this.#pidfd = start.pidfd;
    // Each stream kept up to maxBuffer (forkMaxBuffer): past it the clone is killed and
    // wait() rejects with OutputLimitError naming the stream.
    this.#maxBuffer = start.maxBuffer;
    const limit = (stream: "stdout" | "stderr") => ({
      maxBuffer: start.maxBuffer,
      onOverflow: () => {
        if (this.#overflow !== undefined) return;
        this.#overflow = stream;
        this.#killed = true;
        if (this.#state !== "stopped") this.#signal("kill", SIGKILL);
      },
    });
    // (a poll handle per pipe, not a socket and a stream: see capturePipe)
    const out = capturePipe(start.stdoutFd, limit("stdout"));
    const err = capturePipe(start.stderrFd, limit("stderr"));
    this.#stdout = out.stream;
    this.#stderr = err.stream;
    this.#finish = () => {
      out.finish();
      err.finish();
    };
    const exited = new Promise<void>((resolve) => (this.#settle = resolve));
    this.#result = Promise.all([exited, out.captured, err.captured]).then(([, stdout, stderr]) => {
      const exit = this.#exit!;
      let status: RunStatus = exit.signal !== null ? "signaled" : "exited";
      if (this.#killed && exit.signal !== null) status = "killed";
      return new RunResult({
        status,
        exitCode: exit.code,
        signal: exit.signal !== null ? signalName(exit.signal) : null,
        stdout,
        stderr,
        durationMs: monotonicMs() - start.startedAt,
        enforcement: start.enforcement,
        pid: this.#pid,
        limit: this.#limit ?? null,
      });
    });
  }

  /**
   * Called by the fork group when the zygote reaped this clone (code, or signal). The
   * result settles now, with what the clone wrote (it is in the pipes: a clone's writes
   * are done before it exits): a process the clone left holding its stdout or stderr (in
   * another session, out of its kill's reach) no longer keeps wait() and a reduce over it
   * pending until the whole group ends. The zygote reaps before it reports, so the pidfd
   * names a reaped process; one still there means the report was not true (the zygote
   * runs the sandbox's code): that process is killed, and the result says so.
   */
  exited(code: number | null, signal: number | null): void {
    if (this.#exit !== undefined) return;
    if (this.#pidfd >= 0 && native().pidfdSendSignal(this.#pidfd, SIGKILL) === 0) {
      this.#killed = true;
      [code, signal] = [null, SIGKILL];
    }
    this.#exit = { code, signal };
    this.#state = "stopped";
    if (this.#watch !== undefined) native().pollClose(this.#watch);
    this.#watch = undefined;
    clearTimeout(this.#grace);
    if (this.#pidfd >= 0) closeSync(this.#pidfd);
    this.#pidfd = -1;
    this.#finish();
    this.#settle();
  }

  /** A limit killed a process of this clone (maxMemory: the clone's own charge passed the
   * cap): its result says which, as a sandbox's does. */
  limitHit(hit: LimitExceeded): void {
    this.#limit ??= hit;
    this.#killed = true;
  }

  /** The whole sandbox went down (its teardown SIGKILLs every process) before a report came. */
  lost(): void {
    this.#killed = true;
    this.exited(null, SIGKILL);
  }

  override get state(): SandboxState {
    return this.#state;
  }

  override get pid(): number {
    return this.#pid;
  }

  override get stdin(): null {
    return null;
  }

  override get stdout(): Readable | null {
    return this.#stdout();
  }

  override get stderr(): Readable | null {
    return this.#stderr();
  }

  override spawn(): Promise<void> {
    return Promise.reject(new SandboxError("spawn: a clone is already running (fork started it)"));
  }

  override fork(): Promise<Sandbox[]> {
    return Promise.reject(new SandboxError("fork: a clone cannot fork; call fork on the sandbox made by Sandbox.newWithFns"));
  }

  override checkpoint(): Promise<never> {
    return Promise.reject(new SandboxError("checkpoint: a clone is not checkpointed alone; checkpoint the sandbox made by Sandbox.newWithFns (its zygote and every clone)"));
  }

  override reduce(): Promise<RunResult> {
    return Promise.reject(new SandboxError("reduce: call reduce on the sandbox made by Sandbox.newWithFns, or on a sandbox with the reducer's policy"));
  }

  override wait(): Promise<RunResult> {
    return this.#result.then((r) => {
      if (this.#overflow !== undefined) throw new OutputLimitError(this.#overflow, this.#maxBuffer, r, "raise it with fork(n, { maxBuffer })");
      return r;
    });
  }

  /** Signals the clone and its process group (what it started and kept in its group). */
  #signal(what: string, sig: number): void {
    if (this.#state === "stopped") throw new SandboxError(`${what}: not running (the clone has exited)`);
    // pid 0 and no pidfd: the reported pid named no unreaped child of the zygote when the
    // parent opened it (fork/adopt.ts); nothing is signalled by that number.
    if (this.#pidfd >= 0) native().pidfdSendSignal(this.#pidfd, sig);
    if (this.#pid <= 1) return;
    try {
      process.kill(-this.#pid, sig);
    } catch {
      // the group is empty or gone: the pidfd covered the clone itself
    }
  }

  override async pause(): Promise<void> {
    this.#signal("pause", SIGSTOP);
    // Resolve once the clone is really stopped (or gone).
    for (let i = 0; i < 1000; i++) {
      const s = processState(this.#pid);
      if (s === undefined || s === "T" || s === "Z" || this.#exit) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    if (this.#state === "running") this.#state = "paused";
  }

  override async resume(): Promise<void> {
    this.#signal("resume", SIGCONT);
    if (this.#state === "paused") this.#state = "running";
  }

  /**
   * SIGKILL, then the result. The exit status comes from the zygote's report; a zygote
   * that withholds it (it runs the sandbox's code) or cannot send it (a paused group) kept
   * kill() pending until the whole group ended. So the pidfd is watched: once it shows the
   * clone gone, the report has REPORT_GRACE_MS to come, and then the result settles as
   * killed without it.
   */
  override async kill(): Promise<void> {
    this.#killed = true;
    this.#signal("kill", SIGKILL);
    if (this.#pidfd >= 0 && this.#watch === undefined && this.#exit === undefined) {
      const n = native();
      this.#watch = n.pollFd(this.#pidfd, () => {
        if (this.#watch === undefined) return;
        n.pollClose(this.#watch);
        this.#watch = undefined;
        this.#grace = setTimeout(() => {
          if (this.#exit !== undefined) return;
          this.exited(null, SIGKILL);
          this.#forget();
        }, REPORT_GRACE_MS);
      });
    }
    await this.#result;
  }

  override async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state !== "stopped") await this.kill();
  }
}
