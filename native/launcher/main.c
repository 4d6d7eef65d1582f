/* sandlock-launcher: the small init of one sandbox. It reads the plan TypeScript computed,
 * scopes its own signals (scope.c), forks the command's process (which applies the plan
 * and execs), then stays outside the confinement as a child subreaper: it reaps, answers
 * stop/continue/kill/count/CPU, and when the command exits, or TypeScript's end of the
 * control pipe closes, kills what is left (teardown.c). */
#include "launcher.h"

#define F_SETFL_ 4
#define O_NONBLOCK_ 04000
#define EAGAIN_ 11

long sl_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    long n = SL_RETRY(SC3(NR_write, fd, p, len));
    if (n < 0) return n;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void send_msg(uint32_t type, int32_t a, int32_t b, int32_t c) {
  struct sl_msg m = {type, a, b, c};
  /* EPIPE when TypeScript is gone; teardown goes on regardless. */
  (void)sl_write_all(SL_FD_STATUS, &m, sizeof m);
}

/* The launcher's copy of the seccomp listener until TypeScript has duplicated it. */
static long listener_fd = -1;

/* What the launcher has in force (SL_LAUNCHER_* flags). */
static int32_t launcher_flags = 0;

/* Set once a graceful stop began (SL_CMD_SIGNAL): every process got the signal and may be
 * cleaning up, so the root's exit waits for the others (or for SL_CMD_KILL). */
static int stopping = 0;

/* The kernel-native view (ns.c, init.c): the root is the init, pid 1 of the sandbox's own
 * pid namespace, and the command is its child, pid 2. The init tells the command's wait
 * status on the report pipe, which the launcher then keeps open. The command "is reaped"
 * when that status arrives; the sandbox is empty when the init is reaped. */
static int ns_root = 0;
static long init_report = -1;
static int cmd_status = 0, cmd_done = 0, cmd_alone = 0;

/* Exits, but never while TypeScript may still be duplicating the listener out of this
 * process: it reads the listener's number from the status pipe and then calls
 * pidfd_getfd on the launcher, which must still exist. It says so with 'L' on the control
 * pipe (or disappears: EOF). */
__attribute__((noreturn)) static void launcher_exit(int code) {
  /* The same for the stage's tmpfs (maxDisk): it holds the run's staged writes, and
   * TypeScript's duplicate is the only reference that outlives this mount namespace. */
  while (listener_fd >= 0 || sl_cow_stage_fd >= 0) {
    char cmd;
    long n = SL_RETRY(SC3(NR_read, SL_FD_CONTROL, &cmd, 1));
    if (n <= 0) break;
    if (cmd == SL_CMD_LISTENER_TAKEN) listener_fd = -1;
    if (cmd == SL_CMD_STAGE_TAKEN) sl_cow_stage_fd = -1;
  }
  sl_exit_group(code);
}

__attribute__((noreturn)) static void fatal(int step, long err) {
  send_msg(SL_MSG_FATAL, step, (int32_t)-err, 0);
  sl_exit_group(125);
}

/* Reads and frames the plan held by the memfd `fd`. Returns 0, or the SL_FATAL_* code that
 * names what failed, with the errno in *err. Checks the framing only; the meaning of each
 * step is the plan author's business. */
int sl_plan_load(int fd, struct sl_plan *plan, long *err) {
  struct sl_stat st;
  long rc = SC2(NR_fstat, fd, &st);
  *err = rc;
  if (rc < 0) return SL_FATAL_PLAN_READ;
  *err = -EMSGSIZE;
  if (st.size < (long)sizeof(struct sl_plan_header) || st.size > (long)SL_PLAN_MAX_BYTES) return SL_FATAL_PLAN_READ;
  size_t len = (size_t)st.size;
  uint8_t *buf = sl_alloc(len); /* page-aligned, so every 8-byte aligned payload is too */
  *err = -ENOMEM;
  if (buf == NULL) return SL_FATAL_PLAN_READ;
  size_t got = 0;
  while (got < len) {
    long n = SL_RETRY(SC4(NR_pread64, fd, buf + got, len - got, got));
    *err = n < 0 ? n : -EMSGSIZE;
    if (n <= 0) return SL_FATAL_PLAN_READ;
    got += (size_t)n;
  }
  *err = -EINVAL;
  struct sl_plan_header h;
  memcpy(&h, buf, sizeof h);
  if (h.magic != SL_PLAN_MAGIC || h.version != SL_PLAN_VERSION || h.total_len != len) return SL_FATAL_PLAN_FORMAT;
  if (h.nsteps == 0 || h.nsteps > 1u << 20) return SL_FATAL_PLAN_FORMAT;
  plan->steps = sl_alloc((size_t)h.nsteps * sizeof *plan->steps);
  if (plan->steps == NULL) return SL_FATAL_PLAN_FORMAT;
  size_t off = sizeof h;
  for (uint32_t i = 0; i < h.nsteps; i++) {
    struct sl_step_header sh;
    if (len - off < sizeof sh) return SL_FATAL_PLAN_FORMAT;
    memcpy(&sh, buf + off, sizeof sh);
    off += sizeof sh;
    if (sh.op == 0 || sh.op > SL_STEP_MAX || sh.len > len - off) return SL_FATAL_PLAN_FORMAT;
    plan->steps[i] = (struct sl_step){sh.op, sh.len, buf + off};
    size_t padded = ((size_t)sh.len + 7) & ~(size_t)7;
    if (padded > len - off) return SL_FATAL_PLAN_FORMAT;
    off += padded;
  }
  if (off != len) return SL_FATAL_PLAN_FORMAT;
  plan->nsteps = h.nsteps;
  *err = 0;
  return 0;
}

/* Takes the seccomp listener out of the command's process and passes its number on to
 * TypeScript, which duplicates it out of the launcher the same way. The launcher keeps its
 * copy: it is trusted, and it dies with the sandbox. Returns the child's go-ahead (0 or an
 * errno). */
static int32_t take_listener(int child_pidfd, int32_t child_fd) {
  long fd = SC3(NR_pidfd_getfd, child_pidfd, child_fd, 0);
  if (fd < 0) return (int32_t)-fd;
  listener_fd = fd;
  send_msg(SL_MSG_LISTENER, (int32_t)fd, 0, 0);
  return 0;
}

/* The kernel-native view: the listener is the command's (the init forked before the
 * filter, init.c), read from the init's only child. That pid cannot be reused meanwhile:
 * the command's process waits for this answer, and the init reaps nothing before its own
 * answer after the exec (init_started). */
static int32_t take_command_listener(pid_t init, int32_t child_fd) {
  long cmd = sl_init_command_pid(init);
  if (cmd < 0) return (int32_t)-cmd;
  long pidfd = SC2(NR_pidfd_open, cmd, 0);
  if (pidfd < 0) return (int32_t)-pidfd;
  int32_t answer = take_listener((int)pidfd, child_fd);
  SC1(NR_close, pidfd);
  return answer;
}

/* Waits for the command's exec: EOF on the close-on-exec report pipe means it happened.
 * Before that the command may hand over its seccomp listener. */
/* The plan's SL_STEP_TRACE payload (timeStart, policyFn), or NULL. */
static const struct sl_step *vclock_step = NULL;

/* SL_MSG_TRACE: take the clock's offset now and trace the command's process (vclock.c);
 * TypeScript learns the offset before the command runs. Returns 0 or an errno. */
static int32_t trace_command(pid_t child) {
  int64_t sec = 0, nsec = 0;
  long rc = vclock_step == NULL ? -EINVAL : sl_vclock_init(vclock_step->payload, vclock_step->len, &sec, &nsec);
  if (rc == 0) rc = sl_vclock_seize(child);
  if (rc < 0) return (int32_t)-rc;
  send_msg(SL_MSG_VCLOCK, (int32_t)(uint32_t)((uint64_t)sec & 0xffffffffu), (int32_t)(uint32_t)((uint64_t)sec >> 32), (int32_t)nsec);
  return 0;
}

/* SL_MSG_INIT_EXEC: the command (pid 2) has exec'd, and the init reaps nothing until it
 * reads the answer, so the command's host pid can be read from the init's children. */
static long init_started(pid_t init, int ack_wr) {
  long cmd = sl_init_command_pid(init);
  int32_t answer = cmd < 0 ? (int32_t)-cmd : 0;
  sl_write_all(ack_wr, &answer, sizeof answer);
  return cmd;
}

static int await_exec(int report_rd, int ack_wr, int child_pidfd, pid_t child) {
  struct sl_msg m;
  long n;
  for (;;) {
    n = SL_RETRY(SC3(NR_read, report_rd, &m, sizeof m));
    if (n == (long)sizeof m && m.type == SL_MSG_INIT_EXEC && ns_root) {
      long cmd = init_started(child, ack_wr);
      SC1(NR_close, ack_wr);
      if (cmd < 0) {
        /* Cannot name the command to TypeScript: nothing of the sandbox may run on. */
        SC2(NR_kill, child, SIGKILL);
        int status;
        SL_RETRY(SC4(NR_wait4, child, &status, WALL, 0));
        send_msg(SL_MSG_SETUP_FAILED, -1, (int32_t)-cmd, 0);
        SC1(NR_close, report_rd);
        return -1;
      }
      /* The report pipe stays open for the command's wait status, read without blocking. */
      init_report = report_rd;
      SC3(NR_fcntl, report_rd, F_SETFL_, O_NONBLOCK_);
      send_msg(SL_MSG_STARTED, (int32_t)cmd, launcher_flags | SL_LAUNCHER_INIT, 0);
      return 0;
    }
    if (n != (long)sizeof m || (m.type != SL_MSG_LISTENER && m.type != SL_MSG_TRACE)) break;
    int32_t answer = m.type == SL_MSG_TRACE ? trace_command(child) : ns_root ? take_command_listener(child, m.a) : take_listener(child_pidfd, m.a);
    sl_write_all(ack_wr, &answer, sizeof answer);
  }
  SC1(NR_close, report_rd);
  SC1(NR_close, ack_wr);
  if (n == 0) {
    send_msg(SL_MSG_STARTED, child, launcher_flags, 0);
    return 0;
  }
  if (n != (long)sizeof m) m = (struct sl_msg){SL_MSG_SETUP_FAILED, -1, n < 0 ? (int32_t)-n : EIO, 0};
  int status;
  SL_RETRY(SC4(NR_wait4, child, &status, 0, 0));
  send_msg(SL_MSG_SETUP_FAILED, m.a, m.b, m.c);
  return -1;
}

/* Reads what the init reported (the first wait status counts), without blocking; closes
 * the pipe at its end. */
static void read_init_report(void) {
  struct sl_msg m;
  long n;
  while (init_report >= 0 && (n = SL_RETRY(SC3(NR_read, init_report, &m, sizeof m))) != -EAGAIN_) {
    if (n != (long)sizeof m) {
      SC1(NR_close, init_report);
      init_report = -1;
      return;
    }
    if (m.type == SL_MSG_INIT_STATUS && !cmd_done) {
      cmd_status = m.a;
      cmd_done = 1;
      cmd_alone = m.b == 1;
    }
  }
}

/* The kernel-native view's teardown: killing the init kills the namespace, and the launcher
 * reaps only the init. The count of the others is taken before, from /proc, unless the
 * init said nothing else was left (a forged "alone" from inside only lowers that count). A
 * command that had not exited dies of the teardown's SIGKILL. */
__attribute__((noreturn)) static void ns_teardown_and_exit(pid_t init, int init_reaped) {
  read_init_report();
  int killed = 0;
  if (!init_reaped) {
    if (!(cmd_done && cmd_alone)) {
      int live = sl_tree_signal(0);
      killed = live - 1 - (cmd_done ? 0 : 1);
      if (killed < 0) killed = 0;
    }
    /* The init's death makes the kernel SIGKILL every process of its pid namespace: no
     * descriptor needed (a launcher starved of them from outside, RLIMIT_NOFILE 0, could
     * not list /proc, and the unscoped teardown below waited for that list forever). */
    SC2(NR_kill, init, SIGKILL);
    int status = 0, reaped = 0;
    sl_teardown(init, &status, &reaped, (launcher_flags & SL_LAUNCHER_SCOPED) != 0);
  }
  int code = -1, sig = SIGKILL;
  if (cmd_done) {
    sig = SL_WIFSIGNALED(cmd_status) ? SL_WTERMSIG(cmd_status) : 0;
    if (SL_WIFEXITED(cmd_status)) code = SL_WEXITSTATUS(cmd_status);
  }
  send_msg(SL_MSG_EXIT, code, sig, killed);
  launcher_exit(0);
}

__attribute__((noreturn)) static void teardown_and_exit(pid_t root, int root_status, int root_reaped) {
  if (ns_root) ns_teardown_and_exit(root, root_reaped);
  /* Fast path: every process of the sandbox descends from the launcher, so once the root
   * is reaped and no child is left, nothing is left at all and /proc need not be read. */
  int killed = 0;
  if (!(root_reaped && SC4(NR_wait4, -1, NULL, WALL | WNOHANG, 0) == -ECHILD)) {
    killed = sl_teardown(root, &root_status, &root_reaped, (launcher_flags & SL_LAUNCHER_SCOPED) != 0);
  }
  int code = -1, sig = 0;
  if (root_reaped && SL_WIFEXITED(root_status)) code = SL_WEXITSTATUS(root_status);
  if (root_reaped && SL_WIFSIGNALED(root_status)) sig = SL_WTERMSIG(root_status);
  send_msg(SL_MSG_EXIT, code, sig, killed < 0 ? 0 : killed);
  launcher_exit(0);
}

static void set_ignored(int sig) {
  struct sl_sigaction sa = {.handler = SIG_IGN};
  SC4(NR_rt_sigaction, sig, &sa, NULL, 8);
}

/* SL_CMD_HOLD's second answer, once: every thread is stopped. */
static int held_reported = 0;
static void report_held(void) {
  int n = sl_vclock_held();
  if (n > 0 && !held_reported) {
    held_reported = 1;
    send_msg(SL_MSG_HELD, n, 0, 0);
  }
}

/* Returns 1 when no child is left at all. */
static int reap_children(pid_t root, int *root_status, int *root_reaped) {
  int status;
  long pid;
  while ((pid = SC4(NR_wait4, -1, &status, WALL | WNOHANG, 0)) > 0) {
    if (SL_WIFSTOPPED(status)) {
      /* Only traced processes report stops. An exec that policyFn must see stays stopped
       * until TypeScript's SL_CMD_EXEC. */
      int32_t tid = 0;
      if (sl_vclock_stopped((pid_t)pid, status, &tid)) send_msg(SL_MSG_EXEC, (int32_t)pid, tid, 0);
      continue;
    }
    sl_vclock_gone((pid_t)pid);
    if (pid == root) {
      *root_status = status;
      *root_reaped = 1;
    }
  }
  return pid == -ECHILD;
}

/* SL_CMD_SIGNAL: the signal number follows in the same write (two bytes, atomic on a
 * pipe). With the launcher's signal scope kill(-1) reaches exactly the sandbox, whatever
 * /proc shows (a nested launcher may not see /proc at all); without it, the /proc tree. */
static int signal_all(void) {
  unsigned char sig = 0;
  long n = SL_RETRY(SC3(NR_read, SL_FD_CONTROL, &sig, 1));
  if (n != 1 || sig == 0 || sig > 64) return -EINVAL;
  stopping = 1;
  if (launcher_flags & SL_LAUNCHER_SCOPED) return SC2(NR_kill, -1, sig) == 0 ? 1 : 0;
  return sl_tree_signal(sig);
}

static void handle_command(char cmd, pid_t root, int *root_status, int *root_reaped) {
  int count;
  switch (cmd) {
    case SL_CMD_STOP:
      count = sl_tree_stop();
      break;
    case SL_CMD_CONT:
      /* Traced (timeStart): a SIGSTOP still waiting for the launcher to pass it on must go
       * first, or it would stop the process after this SIGCONT. */
      if (sl_vclock_active()) reap_children(root, root_status, root_reaped);
      count = sl_tree_signal(SIGCONT);
      break;
    case SL_CMD_COUNT:
      count = sl_tree_count(); /* the processes holding a pid, unreaped children included */
      break;
    case SL_CMD_SIGNAL:
      /* With the init, the command is pid 2 and gets it like any process; the init, pid 1
       * without a handler, ignores it. */
      count = signal_all();
      break;
    case SL_CMD_CPU: {
      int32_t pid = 0;
      long ms = sl_cpu_ms(&pid);
      /* EPERM names the process whose time escapes the count. */
      send_msg(SL_MSG_ACK, cmd, ms == -EPERM ? pid : ms < 0 ? 0 : (int32_t)ms, ms < 0 ? (int32_t)-ms : 0);
      return;
    }
    case SL_CMD_KILL:
      teardown_and_exit(root, *root_status, *root_reaped);
    case SL_CMD_EXEC: {
      struct {
        int32_t pid;
        uint8_t go;
      } __attribute__((packed)) v;
      long n = SL_RETRY(SC3(NR_read, SL_FD_CONTROL, &v, sizeof v));
      if (n == (long)sizeof v) sl_vclock_verdict(v.pid, v.go);
      return;
    }
    case SL_CMD_LISTENER_TAKEN:
      SC1(NR_close, listener_fd);
      listener_fd = -1;
      return;
    case SL_CMD_STAGE_TAKEN:
      if (sl_cow_stage_fd >= 0) SC1(NR_close, sl_cow_stage_fd);
      sl_cow_stage_fd = -1;
      return;
    case SL_CMD_HOLD: {
      long n = sl_vclock_hold();
      send_msg(SL_MSG_ACK, cmd, n < 0 ? 0 : (int32_t)n, n < 0 ? (int32_t)-n : 0);
      /* Stops already waiting are taken in now; every thread may be stopped already. */
      reap_children(root, root_status, root_reaped);
      report_held();
      return;
    }
    case SL_CMD_RELEASE:
      count = sl_vclock_release();
      held_reported = 0;
      break;
    default:
      count = -EINVAL;
  }
  send_msg(SL_MSG_ACK, cmd, count < 0 ? 0 : count, count < 0 ? -count : 0);
}

/* Kills the standby's child (blocked waiting for its plan, or gone) and exits: nobody took
 * this launcher over, or it could not be. */
__attribute__((noreturn)) static void standby_abandon(pid_t child, int step, long err) {
  SC2(NR_kill, child, SIGKILL);
  SL_RETRY(SC4(NR_wait4, child, NULL, WALL, 0));
  if (step != 0) fatal(step, err);
  sl_exit_group(0);
}

/* A standby launcher's wait (standby.c): its child is in its namespaces, its id maps
 * written. A sandbox takes it over by sending the plan's memfd and the command's stdin,
 * stdout and stderr on SL_FD_PLAN; the plan is checked, and the four are passed on to the
 * child, which applies the plan as any command's process does. EOF on the control pipe (the
 * Node process is gone or dropped it), on the socket, a SIGTERM or SIGHUP, or the child's
 * death end it. */
static void standby_wait(pid_t child, int handoff, int sfd, struct sl_plan *plan) {
  for (;;) {
    struct sl_pollfd pfd[3] = {{SL_FD_PLAN, POLLIN, 0}, {SL_FD_CONTROL, POLLIN, 0}, {sfd, POLLIN, 0}};
    long rc = SC5(NR_ppoll, pfd, 3, NULL, NULL, 8);
    if (rc == -EINTR) continue;
    if (rc < 0) standby_abandon(child, 0, 0);
    /* First: a command may follow the take-over at once, for the main loop to read. */
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) break;
    if (pfd[2].revents & POLLIN) {
      struct sl_signalfd_siginfo si;
      if (SC3(NR_read, sfd, &si, sizeof si) == (long)sizeof si && si.signo != SIGCHLD) standby_abandon(child, 0, 0);
      if (SC4(NR_wait4, child, NULL, WALL | WNOHANG, 0) != 0) sl_exit_group(0);
    }
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      char cmd;
      long n = SC3(NR_read, SL_FD_CONTROL, &cmd, 1);
      if (n != -EINTR && n != -EAGAIN_) standby_abandon(child, 0, 0); /* nothing is sent before the take-over */
    }
  }
  int got[4];
  long rc = sl_fds_recv(SL_FD_PLAN, got, 4);
  if (rc < 0) standby_abandon(child, 0, 0);
  SC1(NR_close, SL_FD_PLAN);
  long err = 0;
  int failed = sl_plan_load(got[0], plan, &err);
  if (failed) standby_abandon(child, failed, err);
  if (!sl_standby_fits(plan)) standby_abandon(child, SL_FATAL_STANDBY, -EINVAL);
  rc = sl_fds_send(handoff, got, 4);
  if (rc < 0) standby_abandon(child, SL_FATAL_FORK, rc);
  for (int i = 0; i < 4; i++) SC1(NR_close, got[i]);
  SC1(NR_close, handoff);
}

int main(void) {
  /* Started as the inotify broker of a supervised-view sandbox (broker.c), not a launcher. */
  if (sl_strlen(sl_argv0) == sizeof SL_INOTIFY_BROKER_NAME - 1 && memcmp(sl_argv0, SL_INOTIFY_BROKER_NAME, sizeof SL_INOTIFY_BROKER_NAME - 1) == 0) return sl_inotify_broker();
  /* Started as the sender of a supervising process's sends with descriptors (sender.c). */
  if (sl_strlen(sl_argv0) == sizeof SL_SENDER_NAME - 1 && memcmp(sl_argv0, SL_SENDER_NAME, sizeof SL_SENDER_NAME - 1) == 0) return sl_sender();
  /* The launcher's own descriptors must never reach the command. */
  for (int fd = SL_FD_PLAN; fd < SL_FD_FIRST_FREE; fd++) SC3(NR_fcntl, fd, F_SETFD, FD_CLOEXEC);

  /* A standby launcher (standby.c) gets a socket where the plan's memfd would be, and the
   * plan only once a sandbox takes it over. */
  int standby = sl_standby_is();
  struct sl_plan plan = {0};
  if (!standby) {
    long err = 0;
    int failed = sl_plan_load(SL_FD_PLAN, &plan, &err);
    if (failed) fatal(failed, err);
    SC1(NR_close, SL_FD_PLAN);
  }

  long rc = SC5(NR_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (rc < 0) fatal(SL_FATAL_SUBREAPER, rc);

  /* Terminal signals are for the command; the launcher only listens for child exits and
   * for requests to tear down. The command gets default dispositions back. */
  static const int ignored[] = SL_LAUNCHER_IGNORED;
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) set_ignored(ignored[i]);
  uint64_t watched = (1ULL << (SIGCHLD - 1)) | (1ULL << (SIGTERM - 1)) | (1ULL << (SIGHUP - 1));
  rc = SC4(NR_rt_sigprocmask, SIG_BLOCK, &watched, NULL, 8);
  if (rc < 0) fatal(SL_FATAL_SIGNALS, rc);
  long sfd = SC4(NR_signalfd4, -1, &watched, 8, SFD_CLOEXEC);
  if (sfd < 0) fatal(SL_FATAL_SIGNALS, sfd);

  /* The copy-on-write workdir (cow.c): the launcher enters the overlay's namespaces itself,
   * before its signal scope, whose Landlock layer then handles refer and so forbids
   * mounts (scope.c); the command's process inherits them at the fork. */
  for (uint32_t i = 0; i < plan.nsteps; i++) {
    if (plan.steps[i].op != SL_STEP_COW) continue;
    rc = sl_cow_mount(plan.steps[i].payload, plan.steps[i].len);
    if (rc < 0) {
      send_msg(SL_MSG_SETUP_FAILED, (int32_t)i, (int32_t)-rc, SL_STEP_COW);
      sl_exit_group(0);
    }
    if (sl_cow_stage_fd >= 0) send_msg(SL_MSG_STAGE, (int32_t)sl_cow_stage_fd, 0, 0);
    sl_deny_namespace_ready();
  }
  /* fsDenied (deny.c): the denied paths covered in the same way, after the overlay (a
   * denied path inside the workdir is covered on the overlay), before the scope. */
  uint32_t last_deny = 0;
  for (uint32_t i = 0; i < plan.nsteps; i++) {
    if (plan.steps[i].op != SL_STEP_DENY) continue;
    last_deny = i;
    rc = sl_deny_mount(plan.steps[i].payload, plan.steps[i].len);
    if (rc < 0) {
      send_msg(SL_MSG_SETUP_FAILED, (int32_t)i, (int32_t)-rc, SL_STEP_DENY);
      sl_exit_group(0);
    }
  }
  rc = sl_deny_finish();
  if (rc < 0) {
    send_msg(SL_MSG_SETUP_FAILED, (int32_t)last_deny, (int32_t)-rc, SL_STEP_DENY);
    sl_exit_group(0);
  }

  /* chroot (chroot.c): the sandbox's root built in a namespace of its own, after the overlay
   * and the covers (its clone carries them), before the scope. */
  for (uint32_t i = 0; i < plan.nsteps; i++) {
    if (plan.steps[i].op != SL_STEP_CHROOT) continue;
    rc = sl_chroot_prepare(plan.steps[i].payload, plan.steps[i].len, sl_chroot_namespace_made(&plan));
    if (rc < 0) {
      send_msg(SL_MSG_SETUP_FAILED, (int32_t)i, (int32_t)-rc, SL_STEP_CHROOT);
      sl_exit_group(0);
    }
  }

  /* Before the fork, so that the command's process and everything it starts inherit them. */
  sl_tree_init();
  /* Standby: only the kernel-native view, whose launcher enters no scope (scope.c) but sets
   * no_new_privs as sl_scope_self does; the plan must then need nothing more before the
   * fork (sl_standby_fits). */
  if (standby) {
    SC2(NR_prctl, PR_SET_NO_NEW_PRIVS, 1);
  } else if (sl_scope_self(&plan)) {
    launcher_flags |= SL_LAUNCHER_SCOPED;
  }
  for (uint32_t i = 0; i < plan.nsteps; i++) {
    if (plan.steps[i].op == SL_STEP_CPU_COUNTER && sl_cpu_counter_open()) launcher_flags |= SL_LAUNCHER_CPU_COUNTER;
  }

  /* Standby: the first message says what the child enters its namespaces with ahead (the
   * head of an NS_VIEW payload: the caller's ids, the staging directory). */
  static uint8_t entered[16 + 256];
  if (standby) {
    long n = SL_RETRY(SC3(NR_read, SL_FD_PLAN, entered, sizeof entered));
    if (n < 18 || entered[n - 1] != 0 || sl_memchr(entered + 16, 0, (size_t)n - 16) != entered + n - 1) fatal(SL_FATAL_PLAN_FORMAT, n < 0 ? n : -EINVAL);
  }

  pid_t self = (pid_t)SC0(NR_getpid);
  int report[2], ack[2], handoff[2] = {-1, -1};
  rc = SC2(NR_pipe2, report, O_CLOEXEC);
  if (rc == 0) rc = SC2(NR_pipe2, ack, O_CLOEXEC);
  if (rc == 0 && standby) rc = SC4(NR_socketpair, AF_UNIX_, SOCK_SEQPACKET_ | SOCK_CLOEXEC_, 0, handoff);
  if (rc < 0) fatal(SL_FATAL_FORK, rc);
  int root_pidfd = -1;
  /* fork; with the kernel-native view (ns.c), into new namespaces */
  unsigned long ns_flags = standby ? sl_ns_view_flags() : sl_ns_clone_flags(&plan);
  long root = SC5(NR_clone, SIGCHLD | CLONE_PIDFD | ns_flags, 0, &root_pidfd, 0, 0);
  if (root < 0) fatal(SL_FATAL_FORK, root);
  if (root == 0) {
    SC1(NR_close, report[0]);
    SC1(NR_close, ack[1]);
    SC1(NR_close, sfd);
    if (sl_cow_stage_fd >= 0) SC1(NR_close, sl_cow_stage_fd);
    SC1(NR_close, SL_FD_STATUS);
    SC1(NR_close, SL_FD_CONTROL);
    struct sl_child_fds fds = {.report = report[1], .ack = ack[0]};
    if (standby) {
      SC1(NR_close, SL_FD_PLAN);
      SC1(NR_close, handoff[0]);
      sl_standby_child(handoff[1], fds, self, entered);
    }
    sl_child_run(&plan, fds, self, (launcher_flags & SL_LAUNCHER_SCOPED) != 0);
  }
  SC1(NR_close, report[1]);
  SC1(NR_close, ack[0]);
  sl_chroot_forked();
  /* The kernel-native view: the child waits in its NS_VIEW step for these id maps. */
  ns_root = ns_flags != 0;
  if (ns_root) sl_ns_map_child((pid_t)root, ack[1]);
  if (standby) {
    SC1(NR_close, handoff[1]);
    standby_wait((pid_t)root, handoff[0], (int)sfd, &plan);
  }
  for (uint32_t i = 0; i < plan.nsteps; i++) {
    if (plan.steps[i].op == SL_STEP_TRACE) vclock_step = &plan.steps[i];
  }
  if (await_exec(report[0], ack[1], root_pidfd, (pid_t)root) < 0) launcher_exit(0);

  int root_status = 0, root_reaped = 0;
  for (;;) {
    struct sl_pollfd pfd[3] = {{(int)sfd, POLLIN, 0}, {SL_FD_CONTROL, POLLIN, 0}, {(int)init_report, POLLIN, 0}};
    rc = SC5(NR_ppoll, pfd, init_report >= 0 ? 3 : 2, NULL, NULL, 8);
    if (rc == -EINTR) continue;
    if (rc < 0) teardown_and_exit((pid_t)root, root_status, root_reaped);
    if (pfd[0].revents & POLLIN) {
      struct sl_signalfd_siginfo si;
      if (SC3(NR_read, sfd, &si, sizeof si) == (long)sizeof si) {
        if (si.signo == SIGTERM || si.signo == SIGHUP) teardown_and_exit((pid_t)root, root_status, root_reaped);
        /* SIGCHLD (or several merged into one): reap everything that has exited. */
        int none_left = reap_children((pid_t)root, &root_status, &root_reaped);
        report_held();
        /* The init gone, the whole namespace is. */
        if (ns_root && root_reaped) teardown_and_exit((pid_t)root, root_status, root_reaped);
        /* The sandbox lives as long as its root process: what it leaves behind dies. During
         * a graceful stop the others had the signal too and get their grace period. */
        if (!ns_root && root_reaped && (!stopping || none_left)) teardown_and_exit((pid_t)root, root_status, root_reaped);
      }
    }
    if (init_report >= 0 && (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      read_init_report();
      /* The command exited: as above, what it leaves dies unless a graceful stop runs. When
       * nothing is left the init exits on its own, and its reaping ends the sandbox. */
      if (cmd_done && !stopping && !cmd_alone) teardown_and_exit((pid_t)root, root_status, root_reaped);
    }
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      char cmd;
      long n = SC3(NR_read, SL_FD_CONTROL, &cmd, 1);
      if (n == -EINTR) continue;
      /* EOF: the supervising Node process is gone, and its sandboxes go with it. */
      if (n <= 0) teardown_and_exit((pid_t)root, root_status, root_reaped);
      handle_command(cmd, (pid_t)root, &root_status, &root_reaped);
    }
  }
}
