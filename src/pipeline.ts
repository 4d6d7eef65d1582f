// Pipelines (SPEC 2.5): stages, each in a sandbox of its own under its own policy, wired
// stdout to stdin by kernel pipes. This process holds no write end once the stages run, so
// a stage that dies gives its reader EOF as in a shell pipeline. It keeps each pipe's read
// end while the reading stage runs (never reading it), and an O_PATH file of the pipe, to
// see whether a stage's end is still held once the stage has ended, by a process outside
// the pipeline it handed it to (watchHeld); the read end is closed when the reading stage
// ends, so a writer that outlives its reader gets EPIPE/SIGPIPE then.

import { closeSync, openSync } from "node:fs";
import { PipeHeldError, SandboxError } from "./errors.js";
import { native } from "./confine/native.js";
import { Policy } from "./policy/policy.js";
import type { PolicyInput } from "./policy/types.js";
import type { RunResult } from "./result.js";
import { Sandbox } from "./sandbox.js";

/** One command of a pipeline and the policy of its sandbox. */
export class Stage {
  /** The policy of this stage's own sandbox. */
  readonly policy: Policy;
  /** The command this stage runs (argv[0] looked up in PATH like Sandbox.spawn). */
  readonly argv: readonly string[];

  constructor(policy: Policy | PolicyInput, argv: readonly string[]) {
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string")) {
      throw new SandboxError("Stage: argv must be a non-empty array of strings");
    }
    this.policy = Policy.from(policy);
    this.argv = Object.freeze([...argv]);
  }

  /** This stage's stdout into next's stdin. */
  pipe(next: Stage | Pipeline): Pipeline {
    return Pipeline.of(this, next);
  }
}

/** Options of Pipeline.run() and Pipeline.spawn(). */
export interface PipelineOptions {
  /** The first stage's stdin: "inherit", "ignore" (default) or a descriptor of this process. */
  stdin?: "inherit" | "ignore" | number;
  /** Data written to the first stage's stdin, then closed (instead of `stdin`). */
  input?: string | Uint8Array;
  /** Milliseconds for the whole pipeline: then every stage is killed, status "timeout". */
  timeout?: number;
  /** Aborting kills every stage. */
  signal?: AbortSignal;
}

/** Stages started by Pipeline.spawn. */
export interface RunningPipeline {
  /** One sandbox per stage, in order. */
  readonly sandboxes: readonly Sandbox[];
  /** The last stage's result; its `stages` holds every stage's, in order. */
  wait(): Promise<RunResult>;
  /** Kills every stage. */
  kill(): Promise<void>;
}

/**
 * Stages wired stdout to stdin by kernel pipes, each in a sandbox of its own (SPEC 2.5):
 * `stage.pipe(next)`, `Pipeline.of(a, b, c)`, then `run()` or `spawn()`.
 */
export class Pipeline {
  /** The stages, in order (at least two). */
  readonly stages: readonly Stage[];

  private constructor(stages: readonly Stage[]) {
    this.stages = Object.freeze([...stages]);
  }

  /** Stages (and pipelines, flattened) in order; at least two. */
  static of(...parts: readonly (Stage | Pipeline)[]): Pipeline {
    const stages: Stage[] = [];
    parts.forEach((p, i) => {
      if (p instanceof Stage) stages.push(p);
      else if (p instanceof Pipeline) stages.push(...p.stages);
      else throw new SandboxError(`Pipeline.of: argument ${i} is not a Stage or a Pipeline`);
    });
    if (stages.length < 2) throw new SandboxError(`Pipeline.of: a pipeline needs at least two stages (got ${stages.length})`);
    return new Pipeline(stages);
  }

  /** This pipeline's last stage's stdout into next's stdin: a longer pipeline. */
  pipe(next: Stage | Pipeline): Pipeline {
    return Pipeline.of(this, next);
  }

  /** Runs every stage at once and resolves with the last one's result (stdout and stderr
   * captured; each stage's stderr is captured in its own result). */
  async run(opts: PipelineOptions = {}): Promise<RunResult> {
    return (await this.spawn(opts)).wait();
  }

  /** Starts every stage; resolves once all have exec'd. If one cannot start, the others
   * are killed and the error is thrown. */
  async spawn(opts: PipelineOptions = {}): Promise<RunningPipeline> {
    if (opts.timeout !== undefined && (!Number.isFinite(opts.timeout) || opts.timeout <= 0)) {
      throw new SandboxError(`timeout: ${JSON.stringify(opts.timeout)} must be a positive number of milliseconds`);
    }
    if (opts.signal?.aborted) throw new SandboxError("Pipeline: the AbortSignal is already aborted");
    // One controller every stage listens to; the timeout and the caller's signal abort it.
    // (Not AbortSignal.any over AbortSignal.timeout: Node 20 may collect the timeout signal
    // inside the composite before it fires, and the pipeline then runs on past its timeout,
    // about one run in 50 here; nodejs/node#57736.) The timer and the listener hold `stop`
    // strongly and are dropped once every stage has ended.
    const stop = new AbortController();
    const signal = stop.signal;
    const timer = opts.timeout === undefined ? undefined : setTimeout(() => stop.abort(new DOMException("the pipeline's timeout expired", "TimeoutError")), opts.timeout);
    const outer = opts.signal;
    const onOuterAbort = (): void => stop.abort(outer?.reason);
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    const disarm = (): void => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuterAbort);
    };
    const n = native();
    const last = this.stages.length - 1;
    // Close-on-exec: each launcher gets only the ends it is given as its stdio.
    const pipes: [number, number][] = [];
    const closeAll = (): void => {
      for (const fd of pipes.flat()) closeSync(fd);
      pipes.length = 0;
    };
    const readEnds: (number | undefined)[] = [];
    const sandboxes = this.stages.map((s) => new Sandbox(s.policy));
    try {
      for (let i = 0; i < last; i++) pipes.push(n.pipe());
      const started = await Promise.allSettled(
        sandboxes.map((sb, i) =>
          sb.spawn(this.stages[i]!.argv, {
            ...(i === 0 ? (opts.input !== undefined ? { input: opts.input } : { stdin: opts.stdin ?? "ignore" }) : { stdin: pipes[i - 1]![0] }),
            stdout: i === last ? "pipe" : pipes[i]![1],
            stderr: "pipe",
            signal,
          }),
        ),
      );
      const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) {
        stop.abort();
        await Promise.all(sandboxes.map((sb) => sb.wait().catch(() => undefined)));
        throw failed.reason;
      }
      // The launchers hold their ends now: this process keeps the read ends (watchHeld).
      for (const [r] of pipes) readEnds.push(r);
      for (const [, w] of pipes) closeSync(w);
      pipes.length = 0;
    } catch (err) {
      disarm();
      throw err;
    } finally {
      // (Or none will run: this process keeps none.)
      closeAll();
    }
    const held = watchHeld(sandboxes, readEnds);
    held.catch(() => undefined); // (wait() reports it; a caller who never waits is not crashed)
    const waits = sandboxes.map((sb) => sb.wait());
    const results = Promise.all(waits);
    void Promise.allSettled(waits).then(disarm);
    return {
      sandboxes,
      wait: async () => {
        const all = await results;
        const result = all[last]!.withStages(all);
        const end = await held;
        if (end !== undefined) throw new PipeHeldError(end.stage, end.end, result);
        return result;
      },
      kill: async () => {
        stop.abort();
        await results.catch(() => undefined);
      },
    };
  }
}

/** After a stage has ended, its end of a pipe is looked at once, and once more this long
 * later, before the stage at the other end is killed: the stage's own processes are gone by
 * then (its wait() settles once every one is reaped, and a process's files are released
 * before it can be), so only a holder outside the pipeline remains; the second look is
 * margin. Every millisecond counts: `yes` fed an outside reader 5 MB of it. */
const SECOND_LOOK_MS = 5;

const O_WRONLY = 0o1;
const O_NONBLOCK = 0o4000;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

/** Which end of which stage a process outside the pipeline held once the stage had ended. */
export interface HeldEnd {
  readonly stage: number;
  readonly end: "stdout" | "stdin";
}

/**
 * Watches each pipe (`readEnds[i]`, this process's copy of the read end of stage i's
 * stdout, never read): a stage that ends while a process outside the pipeline still holds
 * its end of a pipe (it handed it away over a unix socket) must not keep the stage at the
 * other end going. Stage i ended and the pipe still has a writer: stage i+1 would read that
 * holder for as long as it liked (the thirteenth review's sandbox X wrote 5 GB into it in
 * 2 s and kept the pipeline pending): stage i+1 is killed. Stage i+1 ended and the pipe still
 * has a reader other than this process's copy: stage i would feed that holder (the
 * fourteenth review's X read 4.4-5.0 GB of `yes` in 2 s): stage i is killed. The reader is
 * looked for once this process's read end is closed, through a write end opened (without
 * blocking) from an O_PATH file of the pipe: poll's POLLERR on it says no reader is left
 * (an anonymous pipe's open never fails with ENXIO as a FIFO's does); it is closed at once,
 * nothing written, and only while stage i still runs (so it never ends a reader's input).
 * Resolves, once every stage has ended, with the first stage (by position) whose end was
 * held, or undefined.
 */
async function watchHeld(sandboxes: readonly Sandbox[], readEnds: (number | undefined)[]): Promise<HeldEnd | undefined> {
  const n = native();
  // O_PATH files of the pipes (neither reader nor writer), for the look at readers.
  const paths = readEnds.map((fd) => {
    try {
      return openSync(`/proc/self/fd/${fd!}`, O_PATH | O_CLOEXEC);
    } catch {
      return undefined; // no /proc: the readers are not looked for
    }
  });
  const release = (i: number): void => {
    const fd = readEnds[i];
    readEnds[i] = undefined;
    if (fd !== undefined) closeSync(fd);
  };
  const held: HeldEnd[] = [];
  /** Kills the stage at the other end when `holds()` is true at both looks. */
  const lookThenKill = async (holds: () => boolean, other: number, end: HeldEnd): Promise<void> => {
    if (!holds()) return;
    await new Promise((wake) => setTimeout(wake, SECOND_LOOK_MS));
    if (!holds()) return;
    // (Refused when the other stage has ended meanwhile, on its own: nothing to report.)
    if (await sandboxes[other]!.kill().then(() => true, () => false)) held.push(end);
  };
  const writerHeld = (i: number): boolean => readEnds[i] !== undefined && n.pipeHasPeer(readEnds[i]!) === 1;
  const readerHeld = (i: number): boolean => {
    if (paths[i] === undefined) return false;
    let fd: number;
    try {
      fd = openSync(`/proc/self/fd/${paths[i]}`, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    } catch {
      return false;
    }
    try {
      return n.pipeHasPeer(fd) === 1;
    } finally {
      closeSync(fd);
    }
  };
  await Promise.all(
    readEnds.map(async (_, i) => {
      const writing = sandboxes[i]!.wait().catch(() => undefined);
      const reading = sandboxes[i + 1]!.wait().catch(() => undefined);
      await Promise.all([
        writing.then(async () => {
          await lookThenKill(() => writerHeld(i), i + 1, { stage: i, end: "stdout" });
          release(i);
        }),
        reading.then(async () => {
          // Nothing of the pipeline is to read this pipe any more.
          release(i);
          // (A reader outside matters only while stage i still writes.)
          await lookThenKill(() => sandboxes[i]!.state !== "stopped" && readerHeld(i), i, { stage: i + 1, end: "stdin" });
        }),
      ]);
      if (paths[i] !== undefined) closeSync(paths[i]);
    }),
  );
  return held.sort((a, b) => a.stage - b.stage)[0];
}
