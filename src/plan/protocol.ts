// The TypeScript side of native/sl_protocol.h: plan framing, step codes, launcher fds and
// status messages. test/unit/protocol.test.ts checks every number against the header.

export const PLAN_MAGIC = 0x314c5053;
export const PLAN_VERSION = 1;
export const PLAN_MAX_BYTES = 64 << 20;

export const Step = {
  PDEATHSIG: 1,
  SETPGID: 2,
  RLIMIT: 3,
  AFFINITY: 4,
  PERSONALITY: 5,
  THP_DISABLE: 6,
  NO_NEW_PRIVS: 7,
  CHDIR: 8,
  LANDLOCK_CREATE: 9,
  LANDLOCK_PATH: 10,
  LANDLOCK_PORT: 11,
  LANDLOCK_RESTRICT: 12,
  SECCOMP: 13,
  CLOSE_FDS: 14,
  EXEC: 15,
  DUMPABLE: 16,
  LISTENER: 17,
  DROP_CAPS: 18,
  /** The launcher's own step, before it forks: count every process's CPU time. */
  CPU_COUNTER: 19,
  /** Lower the command's priority (nice) by the u32 increment: see supervise/priority.ts. */
  NICE: 20,
  NS_VIEW: 21,
  /** The copy-on-write workdir's overlay (native/launcher/cow.c). */
  COW: 22,
  /** `user`: a user namespace where the policy's ids are the command's (launcher/userns.c). */
  USERNS: 23,
  /** timeStart, policyFn: u32 TraceFlag, u32 pad, i64 seconds, u32 nanoseconds; the
   * launcher traces the command (native/launcher/vclock.c). */
  TRACE: 24,
  /** fsDenied: u32 uid, u32 gid, u32 kind (1: directory), u32 pad, path; the launcher
   * covers the path before it forks (native/launcher/deny.c). */
  DENY: 25,
  // chroot and fsMount: the launcher builds the namespace, the command joins it (native/launcher/chroot.c).
  CHROOT: 26,
  /** A checkpoint restore's stop instead of exec: u64 address of two free pages
   * (native/launcher/restore.c, src/checkpoint/restore-run.ts). */
  RESTORE: 27,
  /** The kernel view's init: the small filter it loads at the SECCOMP step instead of the
   * command's program (plan/seccomp-init.ts, native/launcher/init.c). */
  INIT_FILTER: 28,
} as const;
export type StepOp = (typeof Step)[keyof typeof Step];

export const LauncherFd = { PLAN: 3, STATUS: 4, CONTROL: 5, FIRST_FREE: 6 } as const;

export const Msg = { STARTED: 1, SETUP_FAILED: 2, EXIT: 3, ACK: 4, FATAL: 5, LISTENER: 6, VCLOCK: 7, TRACE: 8, EXEC: 9, STAGE: 10, HELD: 11 } as const;

/** SL_STEP_TRACE's flags: patch the vDSO clock, hold every exec for a verdict. */
export const TraceFlag = { CLOCK: 1, EXECS: 2 } as const;
export const MSG_BYTES = 16;

/** What the launcher has in force, reported with STARTED. */
export const LauncherFlag = { SCOPED: 1, CPU_COUNTER: 2, INIT: 4 } as const;

export const Fatal = { PLAN_READ: 1, PLAN_FORMAT: 2, SIGNALS: 3, FORK: 4, SUBREAPER: 5, STANDBY: 6 } as const;

export const Cmd = { STOP: "S", CONT: "C", KILL: "K", COUNT: "N", LISTENER_TAKEN: "L", STAGE_TAKEN: "D", CPU: "T", SIGNAL: "G", EXEC: "E", HOLD: "H", RELEASE: "R" } as const;

/** Sub-call of a step that failed: the reported value is op | sub << 8. */
export const SubCall = { MAIN: 0, OPEN: 1, MALFORMED: 2 } as const;
