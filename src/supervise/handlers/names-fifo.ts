// A FIFO opened without O_NONBLOCK waits for its other end: the supervisor (which must
// never block) holds the call and looks again, after 20 ms at first and then less and less
// often (every 250 ms at most), within the sandbox's hold budget (hold-budget.ts), so a
// flood of such opens can take neither the host's descriptors nor its event loop.

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { SYSCALLS } from "../../kernel/syscalls.js";
import { deny, type Action } from "../action.js";
import { HoldBudget } from "../hold-budget.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O } from "../paths.js";
import type { ChildMemory } from "../child-memory.js";

const NR = SYSCALLS as Readonly<Record<string, number>>;
const F_SETFL = 4;
const FIONREAD = 0x541b;
const ENXIO = 6;
const EAGAIN = 11;
const EPERM = 1;
/** The supervisor's share is spent (as hold-budget.ts answers a flood): "too many open
 * files in the system" is what open(2) says when descriptors run out. */
export const ENFILE = 23;
/** When a held open looks again: FIFO_POLL_MS after it was held, then twice as long after
 * each look, up to FIFO_POLL_MAX_MS. At a fixed 20 ms, a sandbox's 64 held opens (its
 * budget) made the supervisor try 3,200 opens a second for as long as they waited, at no
 * cost to the sandbox, whose threads slept: 9% of a core per sandbox here, a whole core
 * for about a dozen sandboxes of one process (seventh review). Now a long wait costs four
 * looks a second; a reader that comes within 20 ms is still seen within 20 ms, and a late
 * one at most 250 ms late. */
export const FIFO_POLL_MS = 20;
export const FIFO_POLL_MAX_MS = 250;

/** The pause before the look after one of `ms`. */
export function nextPoll(ms: number): number {
  return Math.min(FIFO_POLL_MAX_MS, ms * 2);
}

/** Calls look() after FIFO_POLL_MS, then at growing pauses (nextPoll) until it returns an
 * action, which the promise resolves with. */
function pollUntil(look: () => Action | undefined): Promise<Action> {
  return new Promise<Action>((resolve) => {
    const tick = (ms: number): void => {
      setTimeout(() => {
        const got = look();
        if (got === undefined) tick(nextPoll(ms));
        else resolve(got);
      }, ms);
    };
    tick(FIFO_POLL_MS);
  });
}
/** Descriptors a held open keeps in the supervisor: its own pin of the FIFO, the call's pin
 * of it and the caller's root (names.ts withCall keeps them until the answer). */
const HELD_FDS = 3;

/** Not an action: the budget had no room; the caller closes what it holds, waits
 * (FifoWaits.room) and makes the call again from the start. */
export const NO_ROOM: Action = Object.freeze({ kind: "errno", errno: ENFILE });

/** One sandbox's held FIFO opens. */
export class FifoWaits {
  private readonly budget = new HoldBudget();

  constructor(private readonly memory: ChildMemory, private readonly openHow: (dirfd: number, path: Buffer, flags: number, mode: number, caps: bigint) => number, onClose: (fn: () => void) => void) {
    onClose(() => this.budget.close());
  }

  /**
   * n's open of what is pinned as `fd`, which the caller wants blocking: opened without
   * blocking (then given the caller's flags), and, while that would wait, held and tried
   * again at growing pauses (pollUntil) until it would not (or the caller is gone): a FIFO opened for
   * writing until a reader comes (ENXIO), a file under a lease until the lease is broken
   * (EWOULDBLOCK: the first try started the break). NO_ROOM when the sandbox's budget has
   * no room for one more held call: nothing was taken.
   */
  hold(n: Notification, caps: bigint, fd: number, want: number, inject: (fd: number) => Action): Action | Promise<Action> {
    const via = (pin: number): Buffer => Buffer.from(`/proc/self/fd/${pin}`);
    const attempt = (pin: number): Action | undefined => {
      const got = this.openHow(AT_FDCWD, via(pin), want | O.NONBLOCK, 0, caps);
      if (got === -ENXIO || got === -EAGAIN) return undefined; // no reader yet; a lease breaking
      if (got < 0) return deny(-got);
      native().nameSyscallAs(NR.fcntl!, null, got, F_SETFL, want);
      return inject(got);
    };
    const now = attempt(fd);
    if (now !== undefined) return now;
    if (!this.budget.take(n, HELD_FDS)) return NO_ROOM;
    // Held: a pin of its own, as the call's are closed when this returns.
    const pin = this.openHow(AT_FDCWD, via(fd), O.PATH | O.CLOEXEC, 0, caps);
    if (pin < 0) {
      this.budget.release(HELD_FDS);
      return deny(-pin);
    }
    return pollUntil(() => {
      const got = this.memory.stillValid(n) ? attempt(pin) : deny(EPERM);
      if (got !== undefined) closeSync(pin);
      return got;
    }).finally(() => this.budget.release(HELD_FDS));
  }

  /**
   * n's open of the FIFO pinned as `fd` for reading, without O_NONBLOCK: the kernel would
   * block it until a writer comes, and so would the supervisor's own open (the whole event
   * loop: the host application froze). It is opened without blocking (a reader open never
   * fails), which lets writers in, and held until data is there (FIONREAD) or the caller
   * is gone, then given the caller's flags and injected. Unlike the kernel's, the open
   * returns at a writer's first write, not at its open (a writer that opens and closes
   * without writing leaves it waiting for the next). NO_ROOM as for hold().
   */
  holdReader(n: Notification, caps: bigint, fd: number, want: number, inject: (fd: number) => Action): Action | Promise<Action> {
    const reader = this.openHow(AT_FDCWD, Buffer.from(`/proc/self/fd/${fd}`), want | O.NONBLOCK, 0, caps);
    if (reader < 0) return deny(-reader);
    const ready = (): boolean => {
      const count = Buffer.alloc(4);
      return native().syscallAs(NR.ioctl!, null, reader, FIONREAD, count) === 0 && count.readInt32LE(0) > 0;
    };
    const give = (): Action => {
      native().nameSyscallAs(NR.fcntl!, null, reader, F_SETFL, want);
      return inject(reader);
    };
    if (ready()) return give();
    if (!this.budget.take(n, HELD_FDS)) {
      closeSync(reader);
      return NO_ROOM;
    }
    return pollUntil(() => {
      const gone = !this.memory.stillValid(n);
      if (!gone && !ready()) return undefined;
      if (gone) closeSync(reader);
      return gone ? deny(EPERM) : give();
    }).finally(() => this.budget.release(HELD_FDS));
  }

  /** Waits for room for n's held open (true: make the call again, then drop(n)); false
   * when the sandbox already has too many waiting or is gone. */
  room(n: Notification): Promise<boolean> {
    return this.budget.wait(n);
  }

  /** Gives back room reserved for n that its new attempt did not take. */
  drop(n: Notification): void {
    this.budget.drop(n);
  }
}
