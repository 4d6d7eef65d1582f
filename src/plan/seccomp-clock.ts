// timeStart's filter rules (SPEC 2.1): the calls that read or wait for the wall clock go to
// the supervisor, which answers with the sandbox's clock; every other clock stays the
// kernel's. Each decision rests on register values alone (clock ids, flags, whether a
// pointer is NULL), so the calls not routed run in the kernel untouched.

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";

/** The clocks that read the wall clock: REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI. */
export const WALL_CLOCKS = [0, 5, 8, 11] as const;
export const TIMER_ABSTIME = 1;
/** SECCOMP_RET_TRACE: the launcher, which traces every process under timeStart, gets it. */
const RET_TRACE = 0x7ff00000;
const FUTEX_CMD_MASK = 127;
const FUTEX_WAIT_BITSET = 9;
const FUTEX_WAIT_REQUEUE_PI = 11;
const FUTEX_CLOCK_REALTIME = 256;

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
    // A futex wait with an absolute deadline on the wall clock (the two commands whose
    // timeout is absolute, with FUTEX_CLOCK_REALTIME, and a timeout): the launcher turns it
    // into one on CLOCK_MONOTONIC at its ptrace stop (native/launcher/vclock.c), and the
    // changed call passes here.
    ["futex", (b, p) => {
      b.load(SeccompData.argLow(1)).jset(FUTEX_CLOCK_REALTIME, 0, `${p}allow`).and(FUTEX_CMD_MASK)
        .jeq(FUTEX_WAIT_BITSET, `${p}abs`, 0).jeq(FUTEX_WAIT_REQUEUE_PI, `${p}abs`, `${p}allow`);
      b.label(`${p}abs`).load(SeccompData.argLow(3)).jeq(0, 0, `${p}trace`).load(SeccompData.argHigh(3)).jeq(0, `${p}allow`, `${p}trace`);
      b.label(`${p}trace`).ret(RET_TRACE);
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
