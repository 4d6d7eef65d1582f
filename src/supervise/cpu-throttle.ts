// maxCpu: holds the whole sandbox to a share of one core by stopping and continuing it
// (SIGSTOP/SIGCONT through the launcher), from the CPU time its processes actually used.

import { Cmd } from "../plan/protocol.js";

/** What the throttler needs of its sandbox. */
export interface Throttled {
  command(cmd: typeof Cmd.STOP | typeof Cmd.CONT | typeof Cmd.CPU): Promise<number>;
  /** The user paused the sandbox: the throttler must neither stop nor continue it. */
  readonly userPaused: boolean;
}

const PERIOD_MS = 100;
const MS_PER_TICK = 10; // /proc reports CPU time in USER_HZ (100 Hz) ticks

/**
 * Every period the launcher reports the CPU time used so far. The sandbox earns
 * share x wall time; what it used beyond that is debt, paid by staying stopped for
 * debt / share. Credit is capped at one period so an idle sandbox cannot save up a burst.
 */
export class CpuThrottle {
  private readonly share: number;
  private lastTicks = 0;
  private lastAt = 0;
  private debtMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private closed = false;

  constructor(percent: number, private readonly target: Throttled) {
    this.share = percent / 100;
  }

  start(): void {
    this.lastAt = Date.now();
    this.schedule(PERIOD_MS);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const ticks = await this.target.command(Cmd.CPU);
      const now = Date.now();
      const usedMs = Math.max(0, ticks - this.lastTicks) * MS_PER_TICK;
      this.debtMs += usedMs - this.share * (now - this.lastAt);
      this.debtMs = Math.max(this.debtMs, -this.share * PERIOD_MS);
      this.lastTicks = ticks;
      this.lastAt = now;
      if (this.debtMs > 0 && !this.target.userPaused) {
        const stopMs = Math.min(this.debtMs / this.share, 10_000);
        await this.target.command(Cmd.STOP);
        this.stopped = true;
        this.timer = setTimeout(() => void this.resume(), stopMs);
        this.timer.unref();
        return;
      }
    } catch {
      return; // the sandbox is gone
    }
    this.schedule(PERIOD_MS);
  }

  private async resume(): Promise<void> {
    this.stopped = false;
    if (this.closed) return;
    try {
      if (!this.target.userPaused) await this.target.command(Cmd.CONT);
    } catch {
      return;
    }
    this.schedule(PERIOD_MS);
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
