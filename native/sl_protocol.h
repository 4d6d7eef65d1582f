/* The wire contract between TypeScript and the native launcher: plan framing, step codes,
 * launcher fd layout and status messages. src/plan/protocol.ts mirrors every number here,
 * and a unit test reads this header to check that the two agree. */
#ifndef SL_PROTOCOL_H
#define SL_PROTOCOL_H

#include <stdint.h>

/* Plan blob: header, then steps. Every integer is little-endian (x86_64 native). */
#define SL_PLAN_MAGIC 0x314c5053u /* "SPL1" */
#define SL_PLAN_VERSION 1u
#define SL_PLAN_MAX_BYTES (64u << 20)

struct sl_plan_header {
  uint32_t magic;
  uint32_t version;
  uint32_t total_len; /* header included */
  uint32_t nsteps;
};

/* Each step: header then payload padded to 8 bytes. */
struct sl_step_header {
  uint32_t op;
  uint32_t len; /* payload bytes, without padding */
};

/* Step codes, executed in the order the plan lists them (TypeScript chooses the order). */
#define SL_STEP_PDEATHSIG 1          /* i32 signal */
#define SL_STEP_SETPGID 2            /* no payload */
#define SL_STEP_RLIMIT 3             /* u32 resource, u32 pad, u64 cur, u64 max */
#define SL_STEP_AFFINITY 4           /* cpu_set bytes */
#define SL_STEP_PERSONALITY 5        /* u64 persona */
#define SL_STEP_THP_DISABLE 6        /* no payload */
#define SL_STEP_NO_NEW_PRIVS 7       /* no payload */
#define SL_STEP_CHDIR 8              /* NUL-terminated path */
#define SL_STEP_LANDLOCK_CREATE 9    /* u64 handled_fs, u64 handled_net, u64 scoped */
#define SL_STEP_LANDLOCK_PATH 10     /* u64 allowed_access, NUL-terminated path */
#define SL_STEP_LANDLOCK_PORT 11     /* u64 allowed_access, u64 port */
#define SL_STEP_LANDLOCK_RESTRICT 12 /* u32 flags */
#define SL_STEP_SECCOMP 13           /* u32 flags, u32 pad, struct sock_filter[] */
#define SL_STEP_CLOSE_FDS 14         /* u32 first fd: every fd >= it is closed at exec */
#define SL_STEP_EXEC 15              /* u32 argc, u32 envc, path\0, argv\0..., envp\0... */
#define SL_STEP_DUMPABLE 16          /* u32 value */
#define SL_STEP_LISTENER 17          /* no payload: hand the seccomp listener to the launcher */
#define SL_STEP_DROP_CAPS 18         /* u32 securebits: empty every capability set, lock securebits */
/* Run by the launcher itself, before it forks (the command's process skips it). */
#define SL_STEP_CPU_COUNTER 19       /* no payload: count the CPU time of every process */
#define SL_STEP_NICE 20              /* u32 increment: lower the command's priority by it */
/* Prototype (plan option): read by the launcher before it forks (the clone flags of new
 * user/mount/pid/net/uts/ipc namespaces), then run by the command's process: native/launcher/ns.c. */
#define SL_STEP_NS_VIEW 21           /* u32 map mode, u32 uid, u32 gid, u32 pad, staging\0, ops */
/* The copy-on-write workdir (native/launcher/cow.c): run by the command's process. */
#define SL_STEP_COW 22               /* u32 reserved, u32 uid, u32 gid, u32 pad, u64 maxDisk, workdir\0, stage\0 */
#define SL_STEP_USERNS 23           /* u32 uid, u32 gid, u32 outer uid, u32 outer gid: user */
/* timeStart and policyFn (native/launcher/vclock.c): the launcher traces the command's
 * processes; at every exec it patches the vDSO clock (SL_TRACE_CLOCK) and/or holds the new
 * program until TypeScript's verdict (SL_TRACE_EXECS, SL_MSG_EXEC / SL_CMD_EXEC). */
#define SL_STEP_TRACE 24             /* u32 SL_TRACE_* flags, u32 pad, i64 seconds, u32 nanoseconds of timeStart */
#define SL_TRACE_CLOCK 1
#define SL_TRACE_EXECS 2
/* fsDenied (native/launcher/deny.c): run by the launcher before it forks. */
#define SL_STEP_DENY 25              /* u32 uid, u32 gid, u32 kind (0 file, 1 directory, 2 read-only, 3 pin), u32 pad, path\0 */
/* chroot and fsMount (native/launcher/chroot.c): built by the launcher before it forks, joined
 * by the command's process (setns) before chdir. */
#define SL_STEP_CHROOT 26            /* u32 uid, u32 gid, u32 flags (1 /proc, 2 /dev), u32 pad, dir\0, ("r"|"w"\0 virtual\0 host\0)..., "\0" */
#define SL_STEP_RESTORE 27          /* u64 address of two free pages: a checkpoint restore's stop instead of exec (restore.c) */
/* The kernel view's init (init.c): the filter the init loads at the SECCOMP step instead of
 * the command's program; the step itself does nothing where the plan lists it. */
#define SL_STEP_INIT_FILTER 28      /* u32 flags (0), u32 pad, struct sock_filter[] */
#define SL_STEP_MAX 28

/* Sub-call of a failed step, reported as op | sub << 8. */
#define SL_SUB_MAIN 0      /* the step's own system call */
#define SL_SUB_OPEN 1      /* the open that precedes it (Landlock path rules) */
#define SL_SUB_MALFORMED 2 /* a payload the executor could not parse */

/* Launcher file descriptors, as the launcher process receives them. */
#define SL_FD_PLAN 3    /* memfd holding the plan; for a standby launcher, a socket (standby.c) */
#define SL_FD_STATUS 4  /* launcher -> TypeScript: struct sl_msg records */
#define SL_FD_CONTROL 5 /* TypeScript -> launcher: one command byte each */
#define SL_FD_FIRST_FREE 6

/* Status messages, launcher -> TypeScript. Fixed size, so every write is atomic. */
struct sl_msg {
  uint32_t type;
  int32_t a;
  int32_t b;
  int32_t c;
};

#define SL_MSG_STARTED 1      /* a = pid of the command, after its exec succeeded; b = SL_LAUNCHER_* flags */
#define SL_MSG_SETUP_FAILED 2 /* a = step index (-1: no report; -2: the launcher's signal-scope layer), b = errno, c = step op */
#define SL_MSG_EXIT 3         /* a = exit code or -1, b = signal or 0, c = processes killed at teardown */
#define SL_MSG_ACK 4          /* a = command byte, b = processes affected, c = errno or 0 */
#define SL_MSG_FATAL 5        /* a = launcher step, b = errno: the launcher itself failed */
#define SL_MSG_LISTENER 6     /* a = fd number of the seccomp listener in the launcher */
#define SL_MSG_VCLOCK 7       /* a, b = low, high 32 bits of the offset's seconds, c = its nanoseconds: virtual wall clock = CLOCK_MONOTONIC + offset */
#define SL_MSG_TRACE 8        /* command's process -> launcher (report pipe): trace me (SL_STEP_TRACE) */
#define SL_MSG_STAGE 10       /* a = fd number of the copy-on-write stage's tmpfs (maxDisk) in the launcher; SL_CMD_STAGE_TAKEN answers */
#define SL_MSG_EXEC 9         /* a = pid stopped right after its exec, b = the thread id that called execve; SL_CMD_EXEC answers */
#define SL_MSG_HELD 11        /* a = threads held: every thread of a traced sandbox is stopped (SL_CMD_HOLD) */

/* What the launcher has in force, reported with SL_MSG_STARTED. */
#define SL_LAUNCHER_SCOPED 1      /* it is in a Landlock domain scoping signals: teardown is kill(-1) */
#define SL_LAUNCHER_CPU_COUNTER 2 /* CPU time comes from a counter every process inherits */
#define SL_LAUNCHER_INIT 4        /* the kernel-native view's init is pid 1: process counts include it */

/* Launcher-internal failures reported with SL_MSG_FATAL. */
#define SL_FATAL_PLAN_READ 1
#define SL_FATAL_PLAN_FORMAT 2
#define SL_FATAL_SIGNALS 3
#define SL_FATAL_FORK 4
#define SL_FATAL_SUBREAPER 5
#define SL_FATAL_STANDBY 6 /* a standby launcher was given a plan that needs work before its fork */

/* Control commands, TypeScript -> launcher. */
#define SL_CMD_STOP 'S' /* SIGSTOP every process of the sandbox, ack when all are stopped */
#define SL_CMD_CONT 'C' /* SIGCONT every process of the sandbox */
#define SL_CMD_KILL 'K' /* SIGKILL every process of the sandbox; SL_MSG_EXIT follows */
#define SL_CMD_COUNT 'N' /* count the live processes of the sandbox, ack with the number */
#define SL_CMD_LISTENER_TAKEN 'L' /* TypeScript holds its copy of the listener (no ack) */
#define SL_CMD_STAGE_TAKEN 'D' /* TypeScript holds its copy of the stage's tmpfs (no ack) */
/* SL_CMD_CPU's ack: b = milliseconds; or errno EPERM and b = a process whose time cannot be counted. */
#define SL_CMD_CPU 'T' /* CPU time used by the sandbox so far (ack) */
/* Followed by one byte, a signal number (1-64): sent to every process of the sandbox, ack
 * with b = 1 when some process got it. From then on the root's exit no longer ends the
 * sandbox at once: the others get until they have all exited, or until SL_CMD_KILL. */
#define SL_CMD_SIGNAL 'G'
/* Followed by a 32-bit pid (little-endian) and one byte, 1: resume the program SL_MSG_EXEC
 * reported, 0: kill it. No ack. */
#define SL_CMD_EXEC 'E'
/* Where the launcher traces (SL_STEP_TRACE): interrupts every thread of the sandbox
 * (PTRACE_INTERRUPT) and keeps each stopped as it stops, new ones included; ack with b =
 * threads interrupted once the interrupts are sent, then SL_MSG_HELD once all are stopped.
 * SL_CMD_RELEASE lets them go as they were (a group stop stays, a signal goes on); ack. */
#define SL_CMD_HOLD 'H'
#define SL_CMD_RELEASE 'R'

#endif
