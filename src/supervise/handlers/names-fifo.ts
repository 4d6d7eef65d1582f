// A FIFO opened without O_NONBLOCK waits for its other end: the supervisor (which must
// never block) holds the call and looks again every 20 ms, within the sandbox's hold
// budget (hold-budget.ts), so a flood of such opens cannot take the host's descriptors.

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
/** How often a held FIFO open looks for a reader again. */
const FIFO_POLL_MS = 20;
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
   * again every FIFO_POLL_MS until it would not (or the caller is gone): a FIFO opened for
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
    return new Promise<Action>((resolve) => {
      const timer = setInterval(() => {
        const got = this.memory.stillValid(n) ? attempt(pin) : deny(EPERM);
        if (got === undefined) return;
        clearInterval(timer);
        closeSync(pin);
        resolve(got);
      }, FIFO_POLL_MS);
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
    return new Promise<Action>((resolve) => {
      const timer = setInterval(() => {
        const gone = !this.memory.stillValid(n);
        if (!gone && !ready()) return;
        clearInterval(timer);
        if (gone) closeSync(reader);
        resolve(gone ? deny(EPERM) : give());
      }, FIFO_POLL_MS);
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
