// What one sandbox may make its supervisor hold while calls it performs wait: descriptors
// (duplicates of sockets, of SCM_RIGHTS descriptors, pinned unix paths) and worker threads.
// Beyond its budget a call waits without holding anything, in a bounded queue.

import { readFileSync } from "node:fs";
import type { Notification } from "./notification.js";

/** Calls a sandbox may have running on worker threads at once (native/net.c). */
export const MAX_RUNNING = 64;
/**
 * Calls of a sandbox that may wait for room, holding nothing but their notification.
 * Beyond: a resource error. Small on purpose: the kernel keeps every notification the
 * supervisor received and has not answered in one list per listener, and walks it for
 * every receive, validity check and answer (measured on 6.18: with 2,000 threads held,
 * each notification cost the supervisor 0.3 ms; with 11,000, 1 ms).
 */
export const MAX_WAITING = 256;
/** The most one call can hold: its socket, SCM_MAX_FD (253) passed descriptors, a pinned
 * unix destination, and some slack. A sandbox's budget is never below it, so any single
 * call can always run once nothing else of its sandbox is held. */
export const ONE_CALL_MAX = 260;
/** The most a sandbox may hold, whatever the process's limit: 64 blocked connects with
 * pinned destinations take 128, two blocked sends carrying 253 descriptors each 508. */
const SANDBOX_MAX = 512;

export interface HoldLimits {
  /** Descriptors one sandbox's waiting calls may hold. */
  readonly perSandbox: number;
  /** Descriptors every sandbox of this process together may hold. */
  readonly perProcess: number;
}

/** The soft RLIMIT_NOFILE of this process (Node raises it to the hard limit at start). */
export function openFileLimit(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "latin1");
    } catch {
      return 1024;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m === null) return 1024;
  return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

/**
 * The budgets for a process whose descriptor limit is `nofile`: a sandbox holds at most
 * a sixteenth of it (never more than SANDBOX_MAX, never less than one call's worth), and
 * all sandboxes together at most half, so the host application always keeps half of its
 * descriptors, however many sandboxes flood at once.
 */
export function holdLimits(nofile = openFileLimit()): HoldLimits {
  const perSandbox = Math.min(SANDBOX_MAX, Math.max(ONE_CALL_MAX, Math.floor(nofile / 16)));
  return { perSandbox, perProcess: Math.max(perSandbox, Math.floor(nofile / 2)) };
}

/** Descriptors held by every sandbox of this process, and the budgets with waiters (a
 * release in one sandbox may make room for another's under the process-wide limit). */
const processWide = { held: 0, waiting: new Set<HoldBudget>() };

interface Waiter {
  readonly n: Notification;
  readonly fds: number;
  readonly resume: (granted: boolean) => void;
}

/**
 * A sandbox's budget. take() is asked, synchronously, just before a call would start on a
 * worker thread: the call then holds `fds` descriptors and a thread until release(). When
 * there is no room the caller closes what it took and waits (wait()): the call is made
 * again from scratch once room was reserved for it, which take() then consumes. Waiters
 * are served in order; a call that finds others waiting waits behind them.
 */
export class HoldBudget {
  private held = 0;
  private running = 0;
  private readonly queue: Waiter[] = [];
  private readonly reserved = new Map<Notification, number>();
  /** What a call found no room for, until it waits. */
  private readonly wanted = new Map<Notification, number>();
  private closed = false;

  /** Read at the first call that asks for room, not at start: most sandboxes never ask,
   * and reading /proc/self/limits cost every supervised start about 25 us. */
  private limitsValue: HoldLimits | undefined;

  constructor(limits?: HoldLimits) {
    this.limitsValue = limits;
  }

  private get limits(): HoldLimits {
    return (this.limitsValue ??= holdLimits());
  }

  /** Descriptors this sandbox's calls hold now (reservations included). */
  get holding(): number {
    return this.held;
  }

  /** Calls waiting for room now. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Room for a call of `fds` descriptors (and a thread), with what is held now. */
  private fits(fds: number): boolean {
    if (this.running >= MAX_RUNNING) return false;
    if (this.held > 0 && this.held + fds > this.limits.perSandbox) return false;
    return processWide.held + fds <= this.limits.perProcess || processWide.held === 0;
  }

  private hold(fds: number): void {
    this.held += fds;
    this.running++;
    processWide.held += fds;
  }

  private unhold(fds: number): void {
    this.held -= fds;
    this.running--;
    processWide.held -= fds;
  }

  /** Takes room for n's call of `fds` descriptors: true, or false with nothing taken
   * (then wait(n) waits for that much room). */
  take(n: Notification, fds: number): boolean {
    const mine = this.reserved.get(n);
    if (mine !== undefined) {
      this.reserved.delete(n);
      this.unhold(mine);
    }
    const ok = !this.closed && this.fits(fds) && (mine !== undefined || this.queue.length === 0);
    if (ok) this.hold(fds);
    else this.wanted.set(n, fds);
    // What a reservation held beyond the call's need goes to the next waiters.
    if (mine !== undefined) this.serve();
    return ok;
  }

  /** A call that took room has completed: its descriptors are closed. */
  release(fds: number): void {
    this.unhold(fds);
    this.serve();
    for (const b of processWide.waiting) if (b !== this) b.serve();
  }

  /**
   * Waits for room for n's call, as much as its refused take() asked: resolves true once
   * that room is reserved for it, false when the queue is full or the supervisor closed.
   * The caller holds no descriptor meanwhile, and calls drop(n) after its new attempt.
   */
  wait(n: Notification): Promise<boolean> {
    const fds = Math.min(this.wanted.get(n) ?? ONE_CALL_MAX, ONE_CALL_MAX);
    this.wanted.delete(n);
    if (this.closed || this.queue.length >= MAX_WAITING) return Promise.resolve(false);
    return new Promise((resume) => {
      this.queue.push({ n, fds, resume });
      processWide.waiting.add(this);
      this.serve();
    });
  }

  /** Gives back room reserved for n that its new attempt did not take (it completed
   * without a thread, or failed before). */
  drop(n: Notification): void {
    const mine = this.reserved.get(n);
    if (mine === undefined) return;
    this.reserved.delete(n);
    this.unhold(mine);
    this.serve();
  }

  /** Reserves room for waiters, in order, while there is. */
  private serve(): void {
    while (!this.closed && this.queue.length > 0 && this.fits(this.queue[0]!.fds)) {
      const w = this.queue.shift()!;
      this.hold(w.fds);
      this.reserved.set(w.n, w.fds);
      w.resume(true);
    }
    if (this.queue.length === 0) processWide.waiting.delete(this);
  }

  /** The sandbox is gone: waiters are told no; calls still running release as they end. */
  close(): void {
    this.closed = true;
    for (const n of [...this.reserved.keys()]) this.drop(n);
    for (const w of this.queue.splice(0)) w.resume(false);
    processWide.waiting.delete(this);
  }
}
