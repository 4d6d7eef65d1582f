// maxCpu: holds the whole sandbox to a share of one core by stopping and continuing it
// (SIGSTOP/SIGCONT through the launcher), from the CPU time its processes actually used.
// It never gives up quietly: when it cannot measure or act, it ends the run and says why.

import { Cmd } from "../plan/protocol.js";

/** What the throttler needs of its sandbox. */
export interface Throttled {
  /** CPU: milliseconds used so far (every process, however it ended); STOP/CONT: count. */
  command(cmd: typeof Cmd.STOP | typeof Cmd.CONT | typeof Cmd.CPU): Promise<number>;
  /** The user paused the sandbox: the throttler must neither stop nor continue it. */
  readonly userPaused: boolean;
  /** The throttle cannot hold the sandbox to its share: end the run, reporting `why`. */
  fail(why: string): void;
  /** Milliseconds the supervisor spent on the sandbox's behalf since the last call (its
   * handlers, the requests it answered): counted as the sandbox's own CPU time. */
  supervisorMs?(): number;
}

const PERIOD_MS = 100;
/** Consecutive failed periods before the run is ended (a reading can fail once while a
 * process is exiting; three in a row, 300 ms, cannot be that). */
export const THROTTLE_ATTEMPTS = 3;

/**
 * Every period the launcher reports the CPU time used so far. The sandbox earns
 * share x wall time; what it used beyond that is debt, paid by staying stopped for
 * debt / share. Credit is capped at one period so an idle sandbox cannot save up a burst.
 */
export class CpuThrottle {
  private readonly share: number;
  private lastMs = 0;
  private lastAt = 0;
  private debtMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closed = false;
  private failures = 0;

  constructor(percent: number, private readonly target: Throttled) {
    this.share = percent / 100;
  }

  start(): void {
    this.lastAt = Date.now();
    this.schedule(PERIOD_MS, () => this.tick());
  }

  private schedule(ms: number, step: () => Promise<void>): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void step(), ms);
    this.timer.unref();
  }

  /** A failed reading or action: try again next period; the third in a row ends the run.
   * Once the sandbox has ended (close() ran), a failure means nothing. */
  private failed(what: string, e: unknown, retry: () => Promise<void>): void {
    if (this.closed) return;
    this.failures++;
    const why = (e as Error)?.message ?? String(e);
    if (this.failures >= THROTTLE_ATTEMPTS) {
      this.closed = true;
      this.target.fail(`maxCpu: the sandbox was killed because its CPU use could not be ${what} ${THROTTLE_ATTEMPTS} times in a row (${why})`);
      return;
    }
    this.schedule(PERIOD_MS, retry);
  }

  private async tick(): Promise<void> {
    let ms: number;
    try {
      ms = await this.target.command(Cmd.CPU);
    } catch (e) {
      this.failed("measured", e, () => this.tick());
      return;
    }
    if (this.closed) return;
    this.failures = 0;
    const now = Date.now();
    // What the sandbox made its supervisor do is its CPU too: a flood of cheap requests
    // that each cost the supervisor much (netlink dumps) is held to the same share.
    const usedMs = Math.max(0, ms - this.lastMs) + (this.target.supervisorMs?.() ?? 0);
    this.debtMs += usedMs - this.share * (now - this.lastAt);
    this.debtMs = Math.max(this.debtMs, -this.share * PERIOD_MS);
    this.lastMs = ms;
    this.lastAt = now;
    if (this.debtMs > 0 && !this.target.userPaused) {
      const stopMs = Math.min(this.debtMs / this.share, 10_000);
      try {
        await this.target.command(Cmd.STOP);
      } catch (e) {
        this.failed("held back", e, () => this.tick());
        return;
      }
      this.stopped = true;
      this.schedule(stopMs, () => this.resume());
      return;
    }
    this.schedule(PERIOD_MS, () => this.tick());
  }

  private async resume(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.target.userPaused) await this.target.command(Cmd.CONT);
    } catch (e) {
      // Still stopped: keep asking, and end the run rather than leave it frozen for good.
      this.failed("released", e, () => this.resume());
      return;
    }
    this.stopped = false;
    this.failures = 0;
    this.schedule(PERIOD_MS, () => this.tick());
  }

  /** Whether the throttler currently holds the sandbox stopped. */
  get holding(): boolean {
    return this.stopped;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
