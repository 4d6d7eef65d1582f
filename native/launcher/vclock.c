/* The exec stop of timeStart and policyFn (SPEC 2.1, 6): the launcher traces the command's
 * processes with PTRACE_SEIZE. At each exec stop, before the new program runs a single
 * instruction, it rewrites the program's vDSO clock functions (vdso.c: the wall clocks
 * become CLOCK_MONOTONIC plus the sandbox's offset) for timeStart, and holds the program
 * until TypeScript has checked that it is what policyFn approved. Being the tracer, it also
 * holds every thread still when TypeScript asks (SL_CMD_HOLD: the epoll count, which the
 * supervisor cannot freeze itself here). */
#include "launcher.h"

#define NR_ptrace 101
#define NR_clock_gettime 228
#define PTRACE_CONT 7
#define PTRACE_GETREGS 12
#define PTRACE_SETREGS 13
#define PTRACE_O_TRACESECCOMP 0x80
#define PTRACE_EVENT_SECCOMP 7
#define NR_process_vm_readv 310
#define NR_process_vm_writev 311
#define FUTEX_CLOCK_REALTIME 256
#define PTRACE_GETEVENTMSG 0x4201
#define PTRACE_SEIZE 0x4206
#define PTRACE_LISTEN 0x4208
#define PTRACE_INTERRUPT 0x4207
#define PTRACE_O_TRACEFORK 0x02
#define PTRACE_O_TRACEVFORK 0x04
#define PTRACE_O_TRACECLONE 0x08
#define PTRACE_O_TRACEEXEC 0x10
#define PTRACE_O_TRACEVFORKDONE 0x20
#define PTRACE_O_EXITKILL 0x100000
#define PTRACE_EVENT_VFORK 2
#define PTRACE_EVENT_EXEC 4
#define PTRACE_EVENT_VFORK_DONE 5
#define PTRACE_EVENT_STOP 128
#define CLOCK_MONOTONIC 1
#define NSEC 1000000000LL

static int active = 0; /* traced at all */
/* Programs stopped at their exec for TypeScript's verdict: a verdict resumes only one of
 * these, never a process stopped for another reason. Beyond the table: killed. */
#define PENDING_MAX 256
static pid_t pending[PENDING_MAX];
static int clock_on = 0, execs_on = 0;
static int64_t off_sec = 0, off_nsec = 0;

/* The hold (SL_CMD_HOLD): every thread of the sandbox interrupted and kept stopped as it
 * stops, until SL_CMD_RELEASE. An entry is a thread the hold waits for (stopped 0) or keeps
 * (stopped 1), with how to let it go: as the stop it reported would have been. Beyond
 * the table the hold fails (E2BIG) and lets go of what it held. */
#define HELD_MAX 16384
enum { GO_CONT = 0, GO_LISTEN = 1, GO_VERDICT = 2 };
static struct {
  pid_t tid;
  uint8_t stopped, go, sig;
} held[HELD_MAX];
static int nheld = 0, holding = 0, overflow = 0;

/* Threads waiting in vfork for a child to exec or exit: between their PTRACE_EVENT_VFORK
 * stop and their PTRACE_EVENT_VFORK_DONE stop, an interrupt cannot stop them, and they run
 * none of their own code (nor does anything change their descriptor table) until they
 * reach the second stop, which the hold keeps. So the hold takes them as held: their
 * child, a thread like any other, is held itself, and one that execs or exits meanwhile
 * lets its parent go only as far as that stop. Beyond the table (64 threads in vfork at
 * once) a vfork is not noted, and a hold waits for its parent, which does not stop: it
 * fails at TypeScript's timeout (the count is not made: ENOSPC). */
#define VFORK_MAX 64
static pid_t in_vfork[VFORK_MAX];

static int vfork_find(pid_t tid) {
  for (int i = 0; i < VFORK_MAX; i++)
    if (in_vfork[i] == tid) return i;
  return -1;
}

static void vfork_note(pid_t tid) {
  if (vfork_find(tid) >= 0) return;
  int i = vfork_find(0);
  if (i >= 0) in_vfork[i] = tid;
}

static void vfork_done(pid_t tid) {
  int i = vfork_find(tid);
  if (i >= 0) in_vfork[i] = 0;
}

static int held_find(pid_t tid) {
  for (int i = 0; i < nheld; i++)
    if (held[i].tid == tid) return i;
  return -1;
}

/* The entry of tid, made (waiting for its stop) if there is none. */
static int held_entry(pid_t tid) {
  int i = held_find(tid);
  if (i >= 0) return i;
  if (nheld == HELD_MAX) {
    overflow = 1;
    return -1;
  }
  held[nheld].tid = tid;
  held[nheld].stopped = 0;
  held[nheld].go = GO_CONT;
  held[nheld].sig = 0;
  return nheld++;
}

static void held_drop(pid_t tid) {
  int i = held_find(tid);
  if (i >= 0) held[i] = held[--nheld];
}

/* A thread stopped while the hold lasts: kept, to be let go as `go` says. */
static void keep(pid_t tid, int go, int sig) {
  int i = held_entry(tid);
  if (i < 0) {
    /* No room to keep it: it goes on now (the hold has failed anyway). */
    if (go == GO_LISTEN) SC4(NR_ptrace, PTRACE_LISTEN, tid, 0, 0);
    else if (go == GO_CONT) SC4(NR_ptrace, PTRACE_CONT, tid, 0, sig);
    return;
  }
  held[i].stopped = 1;
  held[i].go = (uint8_t)go;
  held[i].sig = (uint8_t)sig;
}

static int is_pending(pid_t pid) {
  for (int k = 0; k < PENDING_MAX; k++)
    if (pending[k] == pid) return 1;
  return 0;
}

static void interrupt_one(pid_t tid, void *arg) {
  (void)arg;
  int i = held_entry(tid);
  if (i < 0 || held[i].stopped) return;
  /* A program stopped at its exec for a verdict is stopped already, and the interrupt
   * would be reported only once it goes on. */
  if (is_pending(tid)) {
    held[i].stopped = 1;
    held[i].go = GO_VERDICT;
    return;
  }
  /* ESRCH: gone, or not traced (the kernel view's init): not waited for. */
  if (SC4(NR_ptrace, PTRACE_INTERRUPT, tid, 0, 0) < 0) held_drop(tid);
}

/* SL_CMD_HOLD: the threads interrupted (or -errno: not traced, already holding, the list
 * not made). Their stops come through sl_vclock_stopped; sl_vclock_held says when all are
 * in (a thread waiting in vfork counts as held: in_vfork). A thread that never stops (an
 * uninterruptible wait) keeps the hold from completing: TypeScript bounds its wait and
 * releases. */
long sl_vclock_hold(void) {
  if (!active) return -EOPNOTSUPP;
  if (holding) return -EBUSY;
  holding = 1;
  overflow = 0;
  nheld = 0;
  int n = sl_tree_threads(interrupt_one, NULL);
  if (n < 0 || overflow) {
    sl_vclock_release();
    return n < 0 ? n : -E2BIG;
  }
  return nheld;
}

/* The threads held once every one the hold waits for is stopped; 0 while one is not (or
 * no hold runs), -1 once the table overflowed. */
int sl_vclock_held(void) {
  if (!holding) return 0;
  if (overflow) return -1;
  for (int i = 0; i < nheld; i++)
    if (!held[i].stopped && vfork_find(held[i].tid) < 0) return 0;
  return nheld > 0 ? nheld : 1;
}

/* SL_CMD_RELEASE: every thread kept goes on as its stop would have had it; one still
 * awaited goes on by itself once it stops (its interrupt stop is continued as usual). */
int sl_vclock_release(void) {
  int count = 0;
  for (int i = 0; i < nheld; i++) {
    if (!held[i].stopped) continue;
    pid_t tid = held[i].tid;
    if (held[i].go == GO_LISTEN) {
      /* A SIGCONT meanwhile ended the group stop: then it simply goes on. */
      if (SC4(NR_ptrace, PTRACE_LISTEN, tid, 0, 0) < 0) SC4(NR_ptrace, PTRACE_CONT, tid, 0, 0);
    } else if (held[i].go == GO_CONT) {
      SC4(NR_ptrace, PTRACE_CONT, tid, 0, held[i].sig);
    }
    count++;
  }
  nheld = 0;
  holding = 0;
  overflow = 0;
  return count;
}

int sl_vclock_active(void) { return active; }

/* The plan's SL_STEP_TRACE payload: u32 flags, u32 pad, i64 seconds, u32 nanoseconds of
 * timeStart. The offset is taken now, just before the command's process is traced: the
 * virtual clock starts at timeStart at this moment and then runs with CLOCK_MONOTONIC. */
long sl_vclock_init(const uint8_t *p, uint32_t len, int64_t *sec_out, int64_t *nsec_out) {
  if (len < 20) return -EINVAL;
  uint32_t flags, nsec;
  int64_t sec;
  memcpy(&flags, p, 4);
  memcpy(&sec, p + 8, 8);
  memcpy(&nsec, p + 16, 4);
  if (nsec >= NSEC || (flags & ~(uint32_t)(SL_TRACE_CLOCK | SL_TRACE_EXECS)) != 0 || flags == 0) return -EINVAL;
  clock_on = (flags & SL_TRACE_CLOCK) != 0;
  execs_on = (flags & SL_TRACE_EXECS) != 0;
  if (clock_on) {
    struct { int64_t sec, nsec; } now;
    long rc = SC2(NR_clock_gettime, CLOCK_MONOTONIC, &now);
    if (rc < 0) return rc;
    off_sec = sec - now.sec;
    off_nsec = (int64_t)nsec - now.nsec;
    if (off_nsec < 0) {
      off_nsec += NSEC;
      off_sec--;
    }
  }
  active = 1;
  *sec_out = off_sec;
  *nsec_out = off_nsec;
  return 0;
}

/* Every process and thread the command starts is traced too (fork, vfork, clone): an exec
 * anywhere in the sandbox stops. EXITKILL: the launcher's death kills them all. The
 * sandbox cannot detach or trace anything itself: its filter blocks ptrace. */
long sl_vclock_seize(pid_t pid) {
  long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
  /* timeStart: the filter hands absolute wall-clock futex waits to the tracer. */
  if (clock_on) opts |= PTRACE_O_TRACESECCOMP;
  return SC4(NR_ptrace, PTRACE_SEIZE, pid, 0, opts);
}

/* x86-64 struct user_regs_struct: 27 words; the ones used here. */
#define REGS_WORDS 27
#define REG_R10 7
#define REG_RSI 13
#define REG_RSP 19

/* Reads or writes the tracee's memory as the tracee could itself: process_vm_readv and
 * process_vm_writev honour its page protections (unlike /proc/<pid>/mem's forced write). */
static long mem_rw(pid_t pid, void *buf, size_t len, uint64_t at, int write) {
  struct { void *base; size_t len; } local = {buf, len}, remote = {(void *)at, len};
  long got = SC5(write ? NR_process_vm_writev : NR_process_vm_readv, pid, &local, 1, &remote, 1); /* flags 0 */
  return got == (long)len ? 0 : got < 0 ? got : -EIO;
}

/* A futex wait with an absolute deadline on CLOCK_REALTIME (FUTEX_WAIT_BITSET or
 * FUTEX_WAIT_REQUEUE_PI with FUTEX_CLOCK_REALTIME: glibc's pthread_cond_timedwait,
 * sem_timedwait, pthread_mutex_timedlock), stopped at its entry by the filter: the deadline
 * is on the sandbox's clock, so the wait is turned into one on CLOCK_MONOTONIC (the flag
 * cleared) with the deadline minus the offset, written below the thread's stack red zone,
 * where the kernel reads it once (a restarted wait keeps its deadline in the kernel). The
 * caller's own timespec is not touched. Anything unreadable or invalid is left for the
 * kernel to refuse. This is no decision: the filter passes the changed call. */
static void futex_to_monotonic(pid_t pid) {
  uint64_t regs[REGS_WORDS];
  if (SC4(NR_ptrace, PTRACE_GETREGS, pid, 0, regs) < 0) return;
  struct { int64_t sec, nsec; } t;
  if (mem_rw(pid, &t, sizeof t, regs[REG_R10], 0) < 0 || t.sec < 0 || t.nsec < 0 || t.nsec >= NSEC) return;
  int64_t sec = t.sec - off_sec, nsec = t.nsec - off_nsec;
  if (nsec < 0) {
    nsec += NSEC;
    sec--;
  }
  if (sec < 0) sec = nsec = 0; /* long past on the monotonic clock too */
  t.sec = sec;
  t.nsec = nsec;
  uint64_t scratch = (regs[REG_RSP] - 128 - 64) & ~(uint64_t)15;
  if (mem_rw(pid, &t, sizeof t, scratch, 1) < 0) return;
  regs[REG_R10] = scratch;
  regs[REG_RSI] &= ~(uint64_t)FUTEX_CLOCK_REALTIME;
  SC4(NR_ptrace, PTRACE_SETREGS, pid, 0, regs);
}

/* Lets a stopped thread go on as `go` says, or keeps it while a hold lasts. */
static void go_on(pid_t pid, int go, int sig) {
  if (holding) keep(pid, go, sig);
  else if (go == GO_LISTEN) SC4(NR_ptrace, PTRACE_LISTEN, pid, 0, 0);
  else SC4(NR_ptrace, PTRACE_CONT, pid, 0, sig);
}

/* One ptrace stop of a traced process (status from wait4): resumes it as the kernel alone
 * would have, after patching the vDSO at an exec stop. A process whose vDSO cannot be
 * patched is killed: it would read the host's clock while the policy says otherwise.
 * Returns 1 for an exec stop left stopped for TypeScript's verdict (policyFn), with the id
 * of the thread that called execve in *tid (after the exec the process has its leader's). */
int sl_vclock_stopped(pid_t pid, int status, int32_t *tid) {
  int sig = (status >> 8) & 0xff;
  int event = (status >> 16) & 0xff;
  if (event == PTRACE_EVENT_EXEC) {
    unsigned long former = 0;
    /* A thread other than the leader that called execve took the leader's id: the hold no
     * longer waits for its old one. */
    if (SC4(NR_ptrace, PTRACE_GETEVENTMSG, pid, 0, &former) < 0) {
      SC2(NR_kill, pid, SIGKILL);
      return 0;
    }
    if (holding && (pid_t)former != pid) held_drop((pid_t)former);
    if (clock_on && sl_vdso_patch(pid, off_sec, off_nsec) < 0) {
      SC2(NR_kill, pid, SIGKILL);
      return 0;
    }
    if (execs_on) {
      int k = 0;
      while (k < PENDING_MAX && pending[k] != 0) k++;
      if (k == PENDING_MAX) {
        SC2(NR_kill, pid, SIGKILL);
        return 0;
      }
      pending[k] = pid;
      *tid = (int32_t)former;
      if (holding) keep(pid, GO_VERDICT, 0);
      return 1;
    }
    go_on(pid, GO_CONT, 0);
  } else if (event == PTRACE_EVENT_SECCOMP) {
    if (clock_on) futex_to_monotonic(pid);
    go_on(pid, GO_CONT, 0);
  } else if (event == PTRACE_EVENT_STOP) {
    /* A group stop reports its stop signal: the process stays stopped until SIGCONT
     * (PTRACE_LISTEN). A new process's first stop, an interrupt's, or a stop ended by
     * SIGCONT, reports SIGTRAP: it goes on. */
    if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) go_on(pid, GO_LISTEN, 0);
    else go_on(pid, GO_CONT, 0);
  } else if (event == PTRACE_EVENT_VFORK_DONE) {
    vfork_done(pid);
    go_on(pid, GO_CONT, 0);
  } else if (event != 0) {
    /* fork, vfork, clone: while a hold lasts the new thread or process is waited for too
     * (its first stop may have been reported already). A vfork's parent waits for its
     * child once let go. */
    if (event == PTRACE_EVENT_VFORK) vfork_note(pid);
    if (holding) {
      unsigned long child = 0;
      if (SC4(NR_ptrace, PTRACE_GETEVENTMSG, pid, 0, &child) == 0 && child > 0) held_entry((pid_t)child);
    }
    go_on(pid, GO_CONT, 0);
  } else {
    go_on(pid, GO_CONT, sig); /* a signal on its way: delivered unchanged */
  }
  return 0;
}

/* TypeScript's verdict on an exec SL_MSG_EXEC reported: the program runs, or dies before
 * its first instruction. Only a pid reported and not yet answered is acted on. */
void sl_vclock_verdict(pid_t pid, int go) {
  if (pid <= 0) return;
  int k = 0;
  while (k < PENDING_MAX && pending[k] != pid) k++;
  if (k == PENDING_MAX) return;
  pending[k] = 0;
  if (go != 1) {
    SC2(NR_kill, pid, SIGKILL);
    return;
  }
  /* Approved while a hold lasts: it goes on at the release. */
  int i = holding ? held_find(pid) : -1;
  if (i >= 0 && held[i].stopped) held[i].go = GO_CONT;
  else SC4(NR_ptrace, PTRACE_CONT, pid, 0, 0);
}

/* A traced process or thread has ended (wait4 reported it gone, not stopped): a program it
 * left stopped at its exec is no longer waiting for a verdict. Its slot is freed now, or a
 * verdict arriving later would resume whichever process was given the same pid meanwhile
 * (a program nobody verified). The window is one synchronous round trip (TypeScript
 * answers SL_MSG_EXEC as it reads it: policyFn itself decided at the execve notification,
 * before the stop), so this is not raced in a test; it closes the gap by construction. */
void sl_vclock_gone(pid_t pid) {
  for (int k = 0; k < PENDING_MAX; k++)
    if (pending[k] == pid) pending[k] = 0;
  vfork_done(pid);
  if (holding) held_drop(pid);
}

/* The command's process, at its SL_STEP_TRACE step: asks the launcher to trace it and
 * waits for the answer (0 or an errno), as the listener's hand-over does. write and read
 * are never trapped calls. */
long sl_vclock_request(int report, int ack) {
  struct sl_msg m = {SL_MSG_TRACE, 0, 0, 0};
  long rc = sl_write_all(report, &m, sizeof m);
  if (rc < 0) return rc;
  int32_t answer = 0;
  long n = SL_RETRY(SC3(NR_read, ack, &answer, sizeof answer));
  if (n != (long)sizeof answer) return n < 0 ? n : -EIO;
  return answer == 0 ? 0 : -answer;
}
