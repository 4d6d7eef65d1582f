// A count over the sandbox's descriptor tables made with every thread of it stopped, so no
// table changes while it is read (a program that moved what is counted from descriptors
// not yet read onto ones already read hid it from a count made while it ran: the epoll
// count's finding, handlers/epoll.ts). Who stops the threads: the supervisor, with the
// checkpoint's freeze (ptrace, no signal; forks held); or, where the launcher traces every
// process (timeStart, policyFn: a thread has one tracer), the launcher, its tracer
// (SL_CMD_HOLD; checkpoint/freeze.ts whileHeld). Calls waiting for the count are parked
// meanwhile (handler.ts parkCall): the freeze's interrupt has each entered again once its
// thread is let go. Used by the epoll watches' count (handlers/epoll.ts) and the
// pseudo-terminals' (handlers/dev-ptmx.ts), through StillCount.

import { SandboxError } from "../errors.js";
import { monotonicMs } from "../kernel/clock.js";
import { parkCall, type SupervisorContext } from "./handler.js";
import type { Notification } from "./notification.js";
import { runInSlices, type Step } from "./slices.js";

/** How long the count's freeze waits for a thread to stop (a checkpoint's wait). */
export const FREEZE_STOP_TIMEOUT_MS = 5000;

/** A count starts no sooner than this many times the last one's work after it ended (at
 * least RECOUNT_GAP_MIN_MS): counts take at most a fifth of a thread of Node's pool, and a
 * call at the limit meanwhile is refused. The work is the count's own (its slices on the
 * pool), not its wall time: that also holds the waits for the freeze's turn and, where the
 * launcher traces, for its hold through pauses and policyFn's verdicts, and the gap grew
 * with them (under pauses every 40 ms a program's epoll counts came seconds apart: 3
 * rounds of refills took 286 s, 30 s since, and one was not done in 60 s on a loaded CI
 * run). */
export const RECOUNT_GAP_RATIO = 4;
export const RECOUNT_GAP_MIN_MS = 100;

/**
 * `steps` (a count over these processes, run in slices on the event loop, each slice's
 * and each work's milliseconds told to `spent`) run with the sandbox held still
 * (checkpoint/freeze.ts, loaded when first needed): its value, or undefined when the
 * sandbox could not be held or a table read (`why` says, for a thrown failure).
 * `traced`: the launcher traces the sandbox (timeStart, policyFn) and holds it instead.
 */
export async function countStill<T>(ctx: SupervisorContext, traced: boolean, steps: (pids: Iterable<number>) => Generator<Step, T | undefined>, spent: (ms: number) => void, why: (e: unknown) => void): Promise<T | undefined> {
  try {
    const { whileFrozen, whileHeld } = await import("../checkpoint/freeze.js");
    const count = (pids: Iterable<number>): Promise<T | undefined> => new Promise<T | undefined>((resolve) => runInSlices(steps(pids), resolve, { spent }));
    if (traced) return await whileHeld(ctx.launcherPid, FREEZE_STOP_TIMEOUT_MS, ctx.holdTraced, count);
    const thawFailed = (failures: string[]): Error => new SandboxError(`thawing the sandbox failed: ${failures.join("; ")}`);
    return await whileFrozen(ctx.launcherPid, FREEZE_STOP_TIMEOUT_MS, (frozen) => count(frozen.keys()), thawFailed);
  } catch (e) {
    why(e);
    return undefined;
  }
}

/**
 * One sandbox's count of something it holds, made held still (countStill), one at a time,
 * and no sooner than the gap after the last one (RECOUNT_GAP_RATIO). A call at the limit
 * parks until the count is over (park); `counted` is told each result (undefined: not
 * counted, and the limit stands as reached) before the parked calls go on; `starting`,
 * when given, is called as each count starts.
 */
export class StillCount<T> {
  #running: Promise<void> | undefined;
  #nextAt = 0;

  constructor(
    private readonly ctx: SupervisorContext,
    private readonly traced: boolean,
    private readonly steps: (pids: Iterable<number>) => Generator<Step, T | undefined>,
    private readonly why: (e: unknown) => void,
    private readonly counted: (total: T | undefined) => void,
    private readonly starting?: () => void,
    /** The least gap after a count (RECOUNT_GAP_MIN_MS unless given). */
    private readonly minGapMs = RECOUNT_GAP_MIN_MS,
  ) {}

  /** A count is under way. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Whether a call at the limit waits for a count (one under way, or the gap since the
   * last one over) rather than being refused at once. */
  get due(): boolean {
    return this.#running !== undefined || monotonicMs() >= this.#nextAt;
  }

  /** Parks the caller of n until the count under way, or a new one, is over: true when a
   * freeze interrupted it meanwhile (it enters the call again: answer ERESTARTNOINTR). */
  park(n: Notification): Promise<boolean> {
    return parkCall(this.ctx.launcherPid, n.pid, this.run());
  }

  /** As park, but a count not due yet is waited for (the gap since the last one) rather
   * than refused: for calls whose refusal a program does not expect (pipe2 in a fork
   * group's zygote). */
  parkUntilCounted(n: Notification): Promise<boolean> {
    const wait = Math.max(0, this.#nextAt - monotonicMs());
    const counted = this.#running !== undefined || wait === 0 ? this.run() : new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => this.run());
    return parkCall(this.ctx.launcherPid, n.pid, counted);
  }

  private run(): Promise<void> {
    return (this.#running ??= new Promise<void>((resolve) => {
      this.starting?.();
      let work = 0;
      const spent = (ms: number): void => {
        work += ms;
        this.ctx.chargeCpu(ms);
      };
      void countStill(this.ctx, this.traced, this.steps, spent, this.why).then((total) => {
        this.#nextAt = monotonicMs() + Math.max(this.minGapMs, RECOUNT_GAP_RATIO * work);
        this.#running = undefined;
        this.counted(total);
        resolve();
      });
    }));
  }
}
