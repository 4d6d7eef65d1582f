// timeStart (SPEC 2.1): the sandbox's wall clock is CLOCK_MONOTONIC plus an offset the
// launcher took when the command started, so it starts at timeStart and runs at real
// speed. The vDSO of every program computes it in the program (native/launcher/vclock.c);
// these handlers answer the system calls that read the wall clock, sleep until a time on
// it, or set a timerfd to such a time (plan/seccomp-clock.ts routes only those).

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { fdinfoOfKind } from "../../kernel/proc-text.js";

const EFAULT = 14;
const EINVAL = 22;
const EINTR = 4;
const EPERM = 1;
const CLOCK_REALTIME_ALARM = 8;
const NS = 1_000_000_000n;
/**
 * Absolute sleeps one sandbox may have held at once. Each is a notification the kernel
 * keeps in the listener's list, which it walks for every receive and answer (see
 * hold-budget.ts). Beyond, the sleep ends at once with EINTR, which callers of an
 * absolute sleep retry with the same deadline.
 */
export const MAX_SLEEPING = 256;
/** The longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days). A longer one is
 * set to 1 ms with a TimeoutOverflowWarning on the process's stderr: a sleep until a
 * deadline further away re-armed itself every millisecond, and 200 such sleeps of a
 * sandbox took 2.7 s of the supervising process's CPU in 3 s and wrote 267,000 lines to
 * its stderr (tenth review). A wait longer than this takes several timers. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

/** Seconds and nanoseconds of a signed nanosecond count (nanoseconds in [0, 1e9)). */
function split(ns: bigint): [bigint, bigint] {
  let sec = ns / NS;
  let rem = ns % NS;
  if (rem < 0n) {
    rem += NS;
    sec -= 1n;
  }
  return [sec, rem];
}

export function clockHandlers(ctx: SupervisorContext): HandlerTable {
  const offset = (): bigint => {
    // The launcher reports the offset before it hands over the listener: a notification
    // cannot come first. Without it nothing can be answered truthfully.
    const o = ctx.clockOffsetNs?.();
    if (o === undefined) throw new Error("timeStart: the launcher did not report the clock's offset");
    return o;
  };
  const now = (): bigint => process.hrtime.bigint() + offset();
  const timers = new Set<NodeJS.Timeout>();
  ctx.onClose(() => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  });

  /** Writes the answer into the caller's buffer: the supervisor's bytes into memory the
   * call handed over for its result, nothing of the caller's read. */
  const put = (n: Notification, addr: number, data: Buffer): Action | undefined => {
    if (!ctx.memory.stillValid(n)) return deny(EFAULT);
    return ctx.memory.write(n, addr, data) ? undefined : deny(EFAULT);
  };

  const clock_gettime = (n: Notification): Action => {
    const [sec, nsec] = split(now());
    const ts = Buffer.alloc(16);
    ts.writeBigInt64LE(sec, 0);
    ts.writeBigInt64LE(nsec, 8);
    return put(n, n.argAddr(1), ts) ?? returnValue(0);
  };

  // The filter routes only calls with a timeval to fill. The time zone, when asked for, is
  // the kernel's default one (UTC, no DST): a process that set another (settimeofday needs
  // CAP_SYS_TIME) is outside the sandbox.
  const gettimeofday = (n: Notification): Action => {
    const [sec, nsec] = split(now());
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(sec, 0);
    tv.writeBigInt64LE(nsec / 1000n, 8);
    const bad = put(n, n.argAddr(0), tv);
    if (bad !== undefined) return bad;
    if (n.arg(1) !== 0n && !ctx.memory.write(n, n.argAddr(1), Buffer.alloc(8))) return deny(EFAULT);
    return returnValue(0);
  };

  const time = (n: Notification): Action => {
    const [sec] = split(now());
    if (n.arg(0) !== 0n) {
      const t = Buffer.alloc(8);
      t.writeBigInt64LE(sec, 0);
      const bad = put(n, n.argAddr(0), t);
      if (bad !== undefined) return bad;
    }
    return returnValue(Number(sec));
  };

  // clock_nanosleep(wall clock, TIMER_ABSTIME, req, rem): the deadline is read once, from
  // the supervisor's copy, and the caller is held until the sandbox's clock reaches it
  // (never early: a timer that fires before is set again for what is left). A signal ends
  // the wait in the kernel; a restarted call comes back here with the same deadline.
  let sleeping = 0;
  const clock_nanosleep = (n: Notification): Action | Promise<Action> => {
    // CLOCK_REALTIME_ALARM needs CAP_WAKE_ALARM, which nothing in a sandbox holds.
    if (n.argU32(0) === CLOCK_REALTIME_ALARM) return deny(EPERM);
    const req = ctx.memory.read(n, n.argAddr(2), 16);
    if (req === null || !ctx.memory.stillValid(n)) return deny(EFAULT);
    const sec = req.readBigInt64LE(0);
    const nsec = req.readBigInt64LE(8);
    if (sec < 0n || nsec < 0n || nsec >= NS) return deny(EINVAL);
    const deadline = sec * NS + nsec;
    if (deadline <= now()) return returnValue(0);
    if (sleeping >= MAX_SLEEPING) return deny(EINTR);
    sleeping++;
    return new Promise<Action>((resolve) => {
      const wait = (): void => {
        const left = deadline - now();
        if (left <= 0n) {
          sleeping--;
          resolve(returnValue(0));
          return;
        }
        const t = setTimeout(() => {
          timers.delete(t);
          wait();
        }, Math.min(TIMER_MAX_MS, Number((left + 999_999n) / 1_000_000n)));
        timers.add(t);
      };
      wait();
    });
  };

  // timerfd_settime(fd, TFD_TIMER_ABSTIME, new, old): performed here on a duplicate of the
  // caller's timerfd (the same timer), with the deadline read once from the supervisor's
  // copy; a timer on the wall clock (CLOCK_REALTIME, _ALARM: "clockid" in its fdinfo) gets
  // it moved onto the host's clock. Any other timer is set as asked.
  const timerfd_settime = (n: Notification): Action | Promise<Action> => {
    const value = ctx.memory.read(n, n.argAddr(2), 32);
    if (value === null) return deny(EFAULT);
    const dup = native().threadGetfd(n.pid, n.argI32(0));
    if (dup < 0) return deny(-dup);
    // The timer's clock is in its fdinfo, read only once the descriptor is known to be a
    // timerfd, and off the event loop (fdinfoOfKind; docs/security.md).
    const reading = fdinfoOfKind(dup, "anon_inode:[timerfd]");
    if (reading === undefined) {
      closeSync(dup);
      return deny(EINVAL);
    }
    return reading.then((info) => {
      try {
        // The duplicate and the deadline are the caller's: its call is still pending.
        if (!ctx.memory.stillValid(n)) return deny(EFAULT);
        const clock = info === undefined ? undefined : /^clockid:\s*(\d+)$/m.exec(info)?.[1];
        if (clock === undefined) return deny(EINVAL); // not a timerfd
        const old = Buffer.alloc(32);
        const rc = native().timerfdSettime(dup, n.argI32(1), value, old, clock === "0" || clock === "8", offset());
        if (rc < 0) return deny(-rc);
        if (n.arg(3) !== 0n) {
          const bad = put(n, n.argAddr(3), old); // relative times: nothing to shift
          if (bad !== undefined) return bad;
        }
        return returnValue(0);
      } finally {
        closeSync(dup);
      }
    });
  };

  return { clock_gettime, gettimeofday, time, clock_nanosleep, timerfd_settime };
}
