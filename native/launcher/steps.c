/* The step executor: runs in the freshly forked command process, applies each plan step in
 * the order TypeScript wrote them, and execs. It decides nothing; a failing step is
 * reported as {index, errno, op} on a close-on-exec pipe and the process exits. */
#include "launcher.h"

/* Landlock ABI structures (the ruleset's is in launcher.h). */
struct sl_landlock_path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
struct sl_landlock_net_port_attr {
  uint64_t allowed_access;
  uint64_t port;
};
#define SL_LANDLOCK_RULE_PATH_BENEATH 1
#define SL_LANDLOCK_RULE_NET_PORT 2
#define SL_BPF_MAXINSNS 4096

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* A string payload must hold its terminating NUL inside the payload. */
static const char *payload_string(const uint8_t *p, uint32_t len) {
  if (len == 0 || sl_memchr(p, '\0', len) == NULL) return NULL;
  return (const char *)p;
}

struct exec_args {
  const char *path;
  char **argv;
  char **envp;
};

/* Splits "argc envc path\0argv...\0envp...\0" into the vectors execve wants. Done before
 * any step runs: once the seccomp filter is in place, an allocation (mmap) could be a
 * trapped call. */
static long parse_exec(const uint8_t *p, uint32_t len, struct exec_args *out) {
  if (len < 8) return -EINVAL;
  uint32_t argc = rd32(p), envc = rd32(p + 4);
  if (argc == 0 || argc > len || envc > len) return -EINVAL;
  size_t bytes = ((size_t)argc + envc + 2) * sizeof(char *);
  char **vec = sl_alloc(bytes);
  if (vec == NULL) return -ENOMEM;
  const char *cur = (const char *)p + 8, *end = (const char *)p + len;
  for (uint32_t i = 0; i < 1 + argc + envc; i++) {
    const char *nul = sl_memchr(cur, '\0', (size_t)(end - cur));
    if (nul == NULL) return -EINVAL;
    if (i == 0) {
      out->path = cur;
    } else if (i <= argc) {
      vec[i - 1] = (char *)cur;
    } else {
      vec[argc + 1 + (i - 1 - argc)] = (char *)cur;
    }
    cur = nul + 1;
  }
  /* vec[argc] and the final slot stay NULL: sl_alloc returns zeroed pages. */
  out->argv = vec;
  out->envp = vec + argc + 1;
  return 0;
}

/* seccomp(2)'s filter flags the init leaves out (include/uapi/linux/seccomp.h). */
#define SL_SECCOMP_FLAG_NEW_LISTENER (1u << 3)
#define SL_SECCOMP_FLAG_WAIT_KILLABLE_RECV (1u << 5)

struct exec_state {
  long ruleset;
  long listener;
  pid_t launcher;
  struct sl_child_fds fds;
  struct exec_args exec; /* path NULL when the plan's exec step is malformed */
  int ns_init;           /* the kernel-native view: the SECCOMP step forks the init (init.c) */
  int forked;            /* ns_init: sl_init_fork ran */
  pid_t cmd;             /* after it: the command's pid in the init, 0 in the command's process */
  int ex_rd;             /* the init's end of the exec pipe */
  int own_group;         /* the plan's SETPGID step: the command's group is its own */
  const struct sl_step *init_filter; /* the plan's INIT_FILTER step: the init's own program */
  const struct sl_plan *plan;
};

/* A SECCOMP or INIT_FILTER payload as a program: u32 flags, u32 pad, sock_filter[]. */
static int filter_of(const uint8_t *p, uint32_t len, struct sl_sock_fprog *prog, uint32_t *flags) {
  size_t n = (len - 8) / sizeof(struct sl_sock_filter);
  if (len < 8 + sizeof(struct sl_sock_filter) || (len - 8) % sizeof(struct sl_sock_filter) != 0) return -1;
  if (n > SL_BPF_MAXINSNS) return -1;
  /* Payloads are 8-byte aligned in a page-aligned buffer. */
  prog->len = (unsigned short)n;
  prog->filter = (struct sl_sock_filter *)(uintptr_t)(p + 8);
  *flags = rd32(p);
  return 0;
}

/* Hands the seccomp listener over: the launcher duplicates it out of this process with
 * pidfd_getfd, then says go; only then is this copy closed. The command must never hold
 * its own listener (it could answer its own notifications). Nothing here is a trapped
 * call: write, read and close are never routed to the supervisor. */
static long hand_over_listener(struct exec_state *es) {
  if (es->listener < 0) return -EINVAL;
  struct sl_msg m = {SL_MSG_LISTENER, (int32_t)es->listener, 0, 0};
  long rc = sl_write_all(es->fds.report, &m, sizeof m);
  if (rc < 0) return rc;
  int32_t answer = 0;
  long n = SL_RETRY(SC3(NR_read, es->fds.ack, &answer, sizeof answer));
  if (n != (long)sizeof answer) return n < 0 ? n : -EIO;
  SC1(NR_close, es->listener);
  /* The init holds its own copy of the ack pipe (forked before the filter, init.c). */
  SC1(NR_close, es->fds.ack);
  es->listener = -1;
  return answer == 0 ? 0 : -answer; /* the launcher's errno from pidfd_getfd */
}

#define SL_CAP_SETPCAP 8
#define SL_CAP_MAX 64 /* PR_CAPBSET_DROP answers EINVAL past the kernel's last capability */

/* Leaves the process with no capability at all, so root inside the sandbox is an ordinary
 * user that happens to have uid 0 (it can no longer reconfigure interfaces, freeze file
 * systems, make device nodes, use real-time scheduling or reach other users' processes).
 *
 * With CAP_SETPCAP (root): every capability leaves the bounding set, then the securebits
 * TypeScript chose are set and locked (SECBIT_NOROOT: exec as uid 0 grants nothing;
 * NO_SETUID_FIXUP, KEEP_CAPS off, NO_CAP_AMBIENT_RAISE; each with its lock), then the
 * ambient, inheritable, permitted and effective sets are emptied.
 *
 * Without CAP_SETPCAP (an unprivileged caller, or root in a container that took it away)
 * the bounding set and the securebits cannot be changed; the step skips those two and
 * still empties the other sets, which needs no privilege. That is enough: with empty
 * permitted, inheritable and ambient sets and NO_NEW_PRIVS (the next step), no execve can
 * grant a capability (file capabilities and setuid bits are capped at the old permitted
 * set, which is empty), and no call made later can add one; the bounding set and the
 * securebits only limit gains that can no longer happen. Failing the run instead would
 * make every unprivileged sandbox impossible. */
static long drop_capabilities(uint32_t securebits) {
  struct sl_cap_header hdr = {SL_CAP_VERSION_3, 0};
  struct sl_cap_data data[2];
  long rc = SC2(NR_capget, &hdr, data);
  if (rc < 0) return rc;
  if (data[0].effective & (1u << SL_CAP_SETPCAP)) {
    for (int cap = 0; cap < SL_CAP_MAX; cap++) {
      rc = SC2(NR_prctl, PR_CAPBSET_DROP, cap);
      if (rc == -EINVAL) break; /* past the last capability this kernel knows */
      if (rc < 0) return rc;
    }
    rc = SC2(NR_prctl, PR_SET_SECUREBITS, securebits);
    if (rc < 0) return rc;
  }
  rc = SC5(NR_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (rc < 0) return rc;
  memset(data, 0, sizeof data);
  rc = SC2(NR_capset, &hdr, data);
  if (rc < 0) return rc;
  /* Read back: a capability still held is a failure, never a silent success. */
  rc = SC2(NR_capget, &hdr, data);
  if (rc < 0) return rc;
  for (int i = 0; i < 2; i++) {
    if (data[i].effective | data[i].permitted | data[i].inheritable) return -EPERM;
  }
  return 0;
}

/* Runs one step. Returns >= 0, or -errno with *sub naming the failing sub-call. */
static long run_step(const struct sl_step *st, struct exec_state *es, int *sub) {
  const uint8_t *p = st->payload;
  uint32_t len = st->len;
  long rc;
  *sub = 0;
  switch (st->op) {
    case SL_STEP_PDEATHSIG:
      if (len < 4) break;
      rc = SC2(NR_prctl, PR_SET_PDEATHSIG, rd32(p));
      /* The launcher may have died before the death signal was armed. In a new pid
       * namespace the parent is outside it and getppid() is 0 either way: the report
       * pipe's write end then says it (POLLERR: no reader left). */
      if (rc == 0 && SC0(NR_getppid) != es->launcher) {
        struct sl_pollfd pfd = {es->fds.report, 0, 0};
        struct sl_timespec now = {0, 0};
        if (SC0(NR_getppid) != 0 || SC5(NR_ppoll, &pfd, 1, &now, NULL, 8) != 0) sl_exit_group(127);
      }
      return rc;
    case SL_STEP_SETPGID:
      return SC2(NR_setpgid, 0, 0);
    case SL_STEP_RLIMIT:
      if (len < 24) break;
      return SC4(NR_prlimit64, 0, rd32(p), p + 8, NULL); /* {cur, max} as two u64 */
    case SL_STEP_AFFINITY:
      if (len == 0) break;
      return SC3(NR_sched_setaffinity, 0, len, p);
    case SL_STEP_PERSONALITY:
      if (len < 8) break;
      return SC1(NR_personality, rd64(p));
    case SL_STEP_THP_DISABLE:
      return SC2(NR_prctl, PR_SET_THP_DISABLE, 1);
    case SL_STEP_NICE: {
      /* The raw getpriority returns 20 - nice (1..40); lowering one's own priority needs
       * no privilege. */
      if (len < 4) break;
      rc = SC2(NR_getpriority, PRIO_PROCESS_, 0);
      if (rc < 0) return rc;
      long nice = 20 - rc + (long)rd32(p);
      return SC3(NR_setpriority, PRIO_PROCESS_, 0, nice > 19 ? 19 : nice);
    }
    case SL_STEP_NO_NEW_PRIVS:
      return SC2(NR_prctl, PR_SET_NO_NEW_PRIVS, 1);
    case SL_STEP_DUMPABLE:
      if (len < 4) break;
      return SC2(NR_prctl, PR_SET_DUMPABLE, rd32(p));
    case SL_STEP_CHDIR: {
      const char *path = payload_string(p, len);
      if (path == NULL) break;
      return SC1(NR_chdir, path);
    }
    case SL_STEP_LANDLOCK_CREATE: {
      if (len < 24) break;
      struct sl_landlock_ruleset_attr attr = {rd64(p), rd64(p + 8), rd64(p + 16)};
      rc = SC3(NR_landlock_create_ruleset, &attr, sizeof attr, 0);
      if (rc >= 0) es->ruleset = rc;
      return rc;
    }
    case SL_STEP_LANDLOCK_PATH: {
      if (len < 9 || es->ruleset < 0) break;
      const char *path = payload_string(p + 8, len - 8);
      if (path == NULL) break;
      /* The plan names the real path planning resolved (plan.ts), so no component is a
       * link: one that is now was swapped in since (by another process that can write the
       * parent) and would move the rule to wherever it points, past what planning decided
       * (the /proc view, the device filter): ELOOP fails the start instead. */
      struct sl_open_how how = {.flags = O_PATH | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
      long fd = SC4(NR_openat2, AT_FDCWD, path, &how, sizeof how);
      /* Gone since planning (an entry of a split directory, a process that exited, a
       * node unplugged): it needs no rule, and were it created again it would have none.
       * Start-up must not depend on other processes' timing. */
      if (fd == -ENOENT) return 0;
      if (fd < 0) {
        *sub = SL_SUB_OPEN;
        return fd;
      }
      struct sl_landlock_path_beneath_attr attr = {.allowed_access = rd64(p), .parent_fd = (int32_t)fd};
      rc = SC4(NR_landlock_add_rule, es->ruleset, SL_LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
      SC1(NR_close, fd);
      return rc;
    }
    case SL_STEP_LANDLOCK_PORT: {
      if (len < 16 || es->ruleset < 0) break;
      struct sl_landlock_net_port_attr attr = {.allowed_access = rd64(p), .port = rd64(p + 8)};
      return SC4(NR_landlock_add_rule, es->ruleset, SL_LANDLOCK_RULE_NET_PORT, &attr, 0);
    }
    case SL_STEP_LANDLOCK_RESTRICT:
      if (len < 4 || es->ruleset < 0) break;
      rc = SC2(NR_landlock_restrict_self, es->ruleset, rd32(p));
      SC1(NR_close, es->ruleset);
      es->ruleset = -1;
      return rc;
    case SL_STEP_SECCOMP: {
      struct sl_sock_fprog prog;
      uint32_t flags;
      if (filter_of(p, len, &prog, &flags) < 0) break;
      /* The kernel-native view's init is forked here, before the filter (init.c says why);
       * it loads its own small program (INIT_FILTER) without a listener, or, in a plan
       * without one, the command's program without a listener (KILLABLE_RECV needs one). */
      if (es->ns_init && !es->forked) {
        rc = sl_init_fork(&es->ex_rd, es->fds);
        if (rc < 0) return rc;
        es->forked = 1;
        es->cmd = (pid_t)rc;
        if (es->cmd != 0) flags &= ~(uint32_t)(SL_SECCOMP_FLAG_NEW_LISTENER | SL_SECCOMP_FLAG_WAIT_KILLABLE_RECV);
      }
      if (es->forked && es->cmd != 0 && es->init_filter != NULL) {
        uint32_t ignored;
        if (filter_of(es->init_filter->payload, es->init_filter->len, &prog, &ignored) < 0) break;
        flags = 0;
      }
      rc = SC3(NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
      if (rc > 0) es->listener = rc; /* SECCOMP_FILTER_FLAG_NEW_LISTENER returns an fd */
      return rc;
    }
    case SL_STEP_CLOSE_FDS:
      if (len < 4) break;
      /* Marked close-on-exec rather than closed: the report pipe must live until exec. */
      return SC3(NR_close_range, rd32(p), ~0U, CLOSE_RANGE_CLOEXEC);
    case SL_STEP_LISTENER:
      /* The init loaded the filter without one (above): nothing to hand over. */
      if (es->forked && es->cmd != 0) return 0;
      return hand_over_listener(es);
    case SL_STEP_TRACE:
      return sl_vclock_request(es->fds.report, es->fds.ack);
    case SL_STEP_DROP_CAPS:
      if (len < 4) break;
      return drop_capabilities(rd32(p));
    case SL_STEP_NS_VIEW:
      /* The root built, the signal scope the launcher left out (scope.c says why). */
      rc = sl_ns_view(p, len, es->fds.ack);
      return rc < 0 ? rc : sl_scope_view(es->plan);
    case SL_STEP_INIT_FILTER:
      return 0; /* loaded by the init at the SECCOMP step, above */
    case SL_STEP_COW:
      return 0; /* the launcher's own step, done before the fork (main.c) */
    case SL_STEP_DENY:
      return 0; /* the launcher's own step, done before the fork (main.c, deny.c) */
    case SL_STEP_CPU_COUNTER:
      return 0; /* the launcher's own step, done before the fork */
    case SL_STEP_USERNS:
      return sl_userns(p, len);
    case SL_STEP_CHROOT:
      return sl_chroot_enter(); /* the launcher built the namespace before the fork (chroot.c) */
    case SL_STEP_RESTORE:
      /* Under the kernel view the init forked at the SECCOMP step runs the steps too: it
       * goes to its loop here (the command's stop closes the exec pipe, the init's "exec"),
       * and only the command's process stops for the rebuild. */
      if (es->ns_init && !es->forked) {
        rc = sl_init_fork(&es->ex_rd, es->fds);
        if (rc < 0) return rc;
        es->forked = 1;
        es->cmd = (pid_t)rc;
      }
      if (es->ns_init && es->cmd != 0) return sl_init_exec(NULL, NULL, NULL, es->fds, es->own_group, es->cmd, es->ex_rd);
      return sl_restore_stop(p, len);
    case SL_STEP_EXEC:
      if (es->exec.path == NULL) break;
      if (es->ns_init && !es->forked) {
        /* A plan without a SECCOMP step (none has one under this view): fork here. */
        rc = sl_init_fork(&es->ex_rd, es->fds);
        if (rc < 0) return rc;
        es->forked = 1;
        es->cmd = (pid_t)rc;
      }
      if (es->ns_init) return sl_init_exec(es->exec.path, es->exec.argv, es->exec.envp, es->fds, es->own_group, es->cmd, es->ex_rd);
      return SC3(NR_execve, es->exec.path, es->exec.argv, es->exec.envp);
    default:
      break;
  }
  *sub = SL_SUB_MALFORMED; /* a bug in the plan encoder */
  return -EINVAL;
}

void sl_child_run(const struct sl_plan *plan, struct sl_child_fds fds, pid_t launcher, int scoped) {
  /* The launcher's own signal setup must not leak into the command: the dispositions it
   * changed (every other one is the default spawnLauncher set; one call per signal for
   * all 64 was 58 system calls more on the command's way to exec) and its mask. */
  struct sl_sigaction dfl = {.handler = SIG_DFL};
  static const int ignored[] = SL_LAUNCHER_IGNORED, spawn_ignored[] = SL_SPAWN_IGNORED;
  for (size_t k = 0; k < sizeof ignored / sizeof ignored[0]; k++) SC4(NR_rt_sigaction, ignored[k], &dfl, NULL, 8);
  for (size_t k = 0; k < sizeof spawn_ignored / sizeof spawn_ignored[0]; k++) SC4(NR_rt_sigaction, spawn_ignored[k], &dfl, NULL, 8);
  uint64_t none = 0;
  SC4(NR_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);

  /* Before any step: from here on nothing of the sandbox can signal the launcher. */
  if (scoped) {
    long rc = sl_scope_child(plan);
    if (rc < 0) {
      struct sl_msg m = {SL_MSG_SETUP_FAILED, -2, (int32_t)-rc, 0};
      sl_write_all(fds.report, &m, sizeof m);
      sl_exit_group(127);
    }
  }

  struct exec_state es = {.ruleset = -1, .listener = -1, .ex_rd = -1, .launcher = launcher, .fds = fds, .plan = plan};
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    const struct sl_step *st = &plan->steps[i];
    if (st->op == SL_STEP_EXEC && parse_exec(st->payload, st->len, &es.exec) < 0) es.exec.path = NULL;
    if (st->op == SL_STEP_NS_VIEW) es.ns_init = 1;
    if (st->op == SL_STEP_INIT_FILTER) es.init_filter = st;
    if (st->op == SL_STEP_SETPGID) es.own_group = 1;
  }
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    int sub = 0;
    long rc = run_step(&plan->steps[i], &es, &sub);
    if (rc < 0) {
      struct sl_msg m = {SL_MSG_SETUP_FAILED, (int32_t)i, (int32_t)-rc, (int32_t)(plan->steps[i].op | ((uint32_t)sub << 8))};
      sl_write_all(fds.report, &m, sizeof m);
      sl_exit_group(127);
    }
  }
  /* A plan without an exec step is malformed. */
  struct sl_msg m = {SL_MSG_SETUP_FAILED, (int32_t)plan->nsteps, EINVAL, 0};
  sl_write_all(fds.report, &m, sizeof m);
  sl_exit_group(127);
}
