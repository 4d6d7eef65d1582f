// Pipelines (SPEC 2.5): stages, each in a sandbox of its own under its own policy, wired
// stdout to stdin by kernel pipes. This process holds no write end once the stages run, so
// a stage that dies gives its reader EOF as in a shell pipeline. It keeps each pipe's read
// end while the reading stage runs, to see whether the writing stage's end is still held
// once that stage has ended (by a process outside the pipeline it handed it to); the read
// end is closed when the reading stage ends, so a writer that outlives its reader gets
// EPIPE/SIGPIPE then. Nothing is ever read through it.

import { closeSync } from "node:fs";
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
    const stop = new AbortController();
    const signals = [stop.signal, ...(opts.signal ? [opts.signal] : []), ...(opts.timeout !== undefined ? [AbortSignal.timeout(opts.timeout)] : [])];
    const signal = AbortSignal.any(signals);
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
    } finally {
      // (Or none will run: this process keeps none.)
      closeAll();
    }
    const held = watchHeld(sandboxes, readEnds);
    const results = Promise.all(sandboxes.map((sb) => sb.wait()));
    return {
      sandboxes,
      wait: async () => {
        const all = await results;
        const result = all[last]!.withStages(all);
        const stage = await held;
        if (stage !== undefined) throw new PipeHeldError(stage, result);
        return result;
      },
      kill: async () => {
        stop.abort();
        await results.catch(() => undefined);
      },
    };
  }
}

/** After a stage has ended, how many times (10 ms apart) its stdout is found still held
 * before the next stage is killed: the stage's own processes are gone by then, so only a
 * holder outside the pipeline remains (the looks allow for the kernel's release of its
 * files). */
const HELD_LOOKS = 5;

/**
 * Watches each pipe (`readEnds[i]`, this process's copy of the read end of stage i's
 * stdout): when stage i has ended and the pipe still has a writer, a process outside the
 * pipeline holds stage i's stdout (handed to it over a unix socket: the thirteenth review's
 * sandbox X wrote 5 GB into the next stage in 2 s and kept the pipeline pending while it
 * ran), and stage i+1 is killed. Each read end is closed once stage i+1 has ended (or the
 * look found no writer). Resolves, once every stage has ended, with the first stage whose
 * stdout was held, or undefined.
 */
async function watchHeld(sandboxes: readonly Sandbox[], readEnds: (number | undefined)[]): Promise<number | undefined> {
  const n = native();
  const release = (i: number): void => {
    const fd = readEnds[i];
    readEnds[i] = undefined;
    if (fd !== undefined) closeSync(fd);
  };
  let first: number | undefined;
  const watch = async (i: number): Promise<void> => {
    await sandboxes[i]!.wait().catch(() => undefined);
    for (let look = 0; readEnds[i] !== undefined; look++) {
      if (n.pipeHasWriter(readEnds[i]!) !== 1) return release(i);
      if (look === HELD_LOOKS) {
        release(i);
        // (Refused when stage i+1 has ended meanwhile, on its own: nothing to report.)
        const killed = await sandboxes[i + 1]!.kill().then(
          () => true,
          () => false,
        );
        if (killed) first = first === undefined ? i : Math.min(first, i);
        return;
      }
      await new Promise((wake) => setTimeout(wake, 10));
    }
  };
  await Promise.all(
    readEnds.map((_, i) => {
      // The reading stage ended: nothing is to read this pipe any more.
      void sandboxes[i + 1]!.wait().then(
        () => release(i),
        () => release(i),
      );
      return watch(i);
    }),
  );
  return first;
}
