// timeStart's filter rules (SPEC 2.1): the calls that read or wait for the wall clock go to
// the supervisor, which answers with the sandbox's clock; every other clock stays the
// kernel's. Each decision rests on register values alone (clock ids, flags, whether a
// pointer is NULL), so the calls not routed run in the kernel untouched.

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";

/** The clocks that read the wall clock: REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI. */
export const WALL_CLOCKS = [0, 5, 8, 11] as const;
export const TIMER_ABSTIME = 1;

type Emit = (b: BpfAssembler, p: string) => void;

/** jeq chains to `${p}wall` for a wall clock in the low half of argument i. */
function wallClock(b: BpfAssembler, p: string, arg: number): void {
  b.load(SeccompData.argLow(arg));
  for (const id of WALL_CLOCKS) b.jeq(id, `${p}wall`, 0);
  b.ret(Ret.ALLOW);
}

/** The filter of each routed syscall. clockid_t is an int: the kernel reads the low half. */
export function clockFilters(): [string, Emit][] {
  return [
    // The vDSO of every program is rewritten to read CLOCK_MONOTONIC (launcher/vclock.c);
    // these are the programs that make the system call themselves.
    ["clock_gettime", (b, p) => {
      wallClock(b, p, 0);
      b.label(`${p}wall`).ret(Ret.USER_NOTIF);
    }],
    // gettimeofday(NULL, tz) reads only the time zone, which is the kernel's.
    ["gettimeofday", (b, p) => {
      b.load(SeccompData.argLow(0)).jeq(0, 0, `${p}wall`).load(SeccompData.argHigh(0)).jeq(0, 0, `${p}wall`).ret(Ret.ALLOW);
      b.label(`${p}wall`).ret(Ret.USER_NOTIF);
    }],
    ["time", (b) => b.ret(Ret.USER_NOTIF)],
    // A sleep until an absolute wall-clock time: the supervisor holds it until that time
    // comes on the sandbox's clock. Relative sleeps need nothing.
    // An absolute timerfd deadline: the supervisor sets it on its duplicate of the timerfd,
    // shifted onto the host's clock when the timer counts the wall clock.
    ["timerfd_settime", (b, p) => {
      b.load(SeccompData.argLow(1)).jset(TIMER_ABSTIME, 0, `${p}allow`).ret(Ret.USER_NOTIF);
      b.label(`${p}allow`).ret(Ret.ALLOW);
    }],
    ["clock_nanosleep", (b, p) => {
      b.load(SeccompData.argLow(1)).jset(TIMER_ABSTIME, 0, `${p}allow`);
      wallClock(b, p, 0);
      b.label(`${p}wall`).ret(Ret.USER_NOTIF);
      b.label(`${p}allow`).ret(Ret.ALLOW);
    }],
  ];
}
