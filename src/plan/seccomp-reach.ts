// The argument filters for calls aimed at another process that Landlock has no hook for
// (resource limits, priorities, scheduling, I/O priority, process groups, capget): the
// caller itself passes inline, any other target goes to the supervisor, which checks
// membership.

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";

const EPERM = 1;

/** Calls whose first argument is the target pid, 0 meaning the calling thread. Landlock's
 * ptrace restriction already covers get_robust_list, migrate_pages and move_pages; they
 * are routed too so the rule holds with any Landlock configuration. pidfd_open(0) is EINVAL. */
export const PID_FIRST = [
  "prlimit64",
  "sched_setscheduler",
  "sched_setparam",
  "sched_setattr",
  "sched_setaffinity",
  "sched_getscheduler",
  "sched_getparam",
  "sched_getattr",
  "sched_getaffinity",
  "sched_rr_get_interval",
  "get_robust_list",
  "migrate_pages",
  "move_pages",
  "pidfd_open",
  // Read-only, but they tell the session and process group of any process on the host (a
  // map of its logins and jobs: second review of issue 9); the sandbox's own stay visible.
  "getsid",
  "getpgid",
] as const;

/** setpriority/getpriority's `which`. */
export const PRIO = { PROCESS: 0, PGRP: 1, USER: 2 } as const;
/** ioprio_set/ioprio_get's `which`. */
export const IOPRIO_WHO = { PROCESS: 1, PGRP: 2, USER: 3 } as const;

/** Calls that send a signal; routed only when the kernel cannot scope signals. */
export const SIGNAL_SENDERS = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"] as const;

/** Every syscall these filters route. */
export const REACH_SYSCALLS: readonly string[] = [...PID_FIRST, "setpriority", "getpriority", "ioprio_set", "ioprio_get", "setpgid", "capget"];

type Emit = (b: BpfAssembler, p: string) => void;

/**
 * Every argument tested is a pid_t or int, which the kernel truncates to 32 bits, so the
 * low halves are exactly what it will use; they are registers, so what is tested here is
 * what runs. `listener` false (no supervisor): a foreign target is refused outright.
 */
export function reachFilters(listener: boolean, signals = false): Map<string, Emit> {
  const other = listener ? Ret.USER_NOTIF : Ret.errno(EPERM);
  const out = new Map<string, Emit>();
  // Without Landlock's signal scope (ABI < 6) every signal goes to the supervisor: even
  // the caller's own pid cannot be recognised in a filter.
  if (signals) for (const name of SIGNAL_SENDERS) out.set(name, (b) => b.ret(other));
  const zeroOrAsk = (arg: number): Emit => (b) => {
    b.load(SeccompData.argLow(arg)).jeq(0, 0, 1).ret(Ret.ALLOW).ret(other);
  };
  for (const name of PID_FIRST) out.set(name, zeroOrAsk(0));
  // setpgid(pid, pgid): pgid 0 makes the target (the caller or its child, both of the
  // sandbox) lead a group of its own; joining an existing group needs a look at who is in it.
  out.set("setpgid", zeroOrAsk(1));
  // which/who calls: the caller itself passes; a process or group goes to the supervisor;
  // a whole user never (the supervisor and launcher run as the same user). Unknown
  // `which` values get EINVAL from the kernel.
  const whichWho = (w: { PROCESS: number; PGRP: number; USER: number }): Emit => (b, p) => {
    b.load(SeccompData.argLow(0))
      .jeq(w.PROCESS, 0, `${p}notproc`)
      .load(SeccompData.argLow(1))
      .jeq(0, 0, `${p}ask`)
      .ret(Ret.ALLOW);
    b.label(`${p}notproc`).jeq(w.PGRP, `${p}ask`, 0).jeq(w.USER, 0, `${p}allow`).ret(Ret.errno(EPERM));
    b.label(`${p}allow`).ret(Ret.ALLOW);
    b.label(`${p}ask`).ret(other);
  };
  // capget(header, data): the target pid is in the header, in memory, which a filter
  // cannot read; every call with a header goes to the supervisor, which performs it
  // (handlers/capget.ts). A NULL header gets the kernel's EFAULT. Without a supervisor
  // no capget with a header can be decided, and none is allowed.
  out.set("capget", (b, p) => {
    b.load(SeccompData.argLow(0)).jeq(0, 0, `${p}ask`).load(SeccompData.argHigh(0)).jeq(0, 0, `${p}ask`).ret(Ret.ALLOW);
    b.label(`${p}ask`).ret(other);
  });
  out.set("setpriority", whichWho(PRIO));
  out.set("getpriority", whichWho(PRIO));
  out.set("ioprio_set", whichWho(IOPRIO_WHO));
  out.set("ioprio_get", whichWho(IOPRIO_WHO));
  return out;
}
