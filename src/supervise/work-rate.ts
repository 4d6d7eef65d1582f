// A token bucket: how much work a sandbox may make its supervisor do per second on its
// behalf where one cheap call of the sandbox buys much work (a netlink dump request).
// Credit may go negative: a batch is done whole, and the next waits until it is paid back.

import { monotonicMs } from "../kernel/clock.js";

export class WorkRate {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => monotonicMs(),
  ) {
    this.tokens = burst;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) * this.perSecond) / 1000);
    this.at = t;
  }

  /** Whether work may be done now. */
  get ready(): boolean {
    this.refill();
    return this.tokens > 0;
  }

  /** Records `units` of work done. */
  spend(units: number): void {
    this.refill();
    this.tokens -= units;
  }

  /** Milliseconds until work may be done again (0 when it may now). */
  delayMs(): number {
    this.refill();
    return this.tokens > 0 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }
}
