/* The step executor: runs in the freshly forked command process, applies each plan step in
 * the order TypeScript wrote them, and execs. It decides nothing; a failing step is
 * reported as {index, errno, op} on a close-on-exec pipe and the process exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41
#endif

/* Landlock ABI structures, declared here so the build does not depend on the host's
 * kernel headers (Debian 12 ships headers older than the running kernel). */
struct sl_landlock_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
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
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

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
  if (len == 0 || memchr(p, '\0', len) == NULL) return NULL;
  return (const char *)p;
}

struct exec_args {
  const char *path;
  char **argv;
  char **envp;
};

/* Splits "path\0argv...\0envp...\0" into the vectors execve wants. */
static int parse_exec(const uint8_t *p, uint32_t len, struct exec_args *out) {
  if (len < 8) return -1;
  uint32_t argc = rd32(p), envc = rd32(p + 4);
  const char *cur = (const char *)p + 8, *end = (const char *)p + len;
  if (argc > len || envc > len) return -1;
  char **vec = calloc((size_t)argc + envc + 2, sizeof(char *));
  if (vec == NULL) return -1;
  for (uint32_t i = 0; i < 1 + argc + envc; i++) {
    const char *nul = memchr(cur, '\0', (size_t)(end - cur));
    if (nul == NULL) {
      free(vec);
      return -1;
    }
    if (i == 0)
      out->path = cur;
    else if (i <= argc)
      vec[i - 1] = (char *)cur;
    else
      vec[argc + 1 + (i - 1 - argc)] = (char *)cur;
    cur = nul + 1;
  }
  out->argv = vec;
  out->envp = vec + argc + 1;
  return 0;
}

/* Runs one step. Returns 0, or -1 with errno set and *sub naming the failing sub-call. */
static int run_step(const struct sl_step *st, int *ruleset, int *sub) {
  const uint8_t *p = st->payload;
  uint32_t len = st->len;
  *sub = 0;
  switch (st->op) {
    case SL_STEP_PDEATHSIG: {
      if (len < 4) goto bad;
      pid_t parent = getppid();
      if (prctl(PR_SET_PDEATHSIG, (unsigned long)rd32(p), 0, 0, 0) < 0) return -1;
      /* The launcher may have died before the death signal was armed. */
      if (getppid() != parent) _exit(127);
      return 0;
    }
    case SL_STEP_SETPGID:
      return setpgid(0, 0);
    case SL_STEP_RLIMIT: {
      if (len < 24) goto bad;
      struct rlimit rl = {.rlim_cur = rd64(p + 8), .rlim_max = rd64(p + 16)};
      return setrlimit((int)rd32(p), &rl);
    }
    case SL_STEP_AFFINITY:
      if (len == 0) goto bad;
      return sched_setaffinity(0, len, (const cpu_set_t *)p);
    case SL_STEP_PERSONALITY:
      if (len < 8) goto bad;
      return personality((unsigned long)rd64(p)) < 0 ? -1 : 0;
    case SL_STEP_THP_DISABLE:
      return prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
    case SL_STEP_NO_NEW_PRIVS:
      return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    case SL_STEP_DUMPABLE:
      if (len < 4) goto bad;
      return prctl(PR_SET_DUMPABLE, (unsigned long)rd32(p), 0, 0, 0);
    case SL_STEP_CHDIR: {
      const char *path = payload_string(p, len);
      if (path == NULL) goto bad;
      return chdir(path);
    }
    case SL_STEP_LANDLOCK_CREATE: {
      if (len < 24) goto bad;
      struct sl_landlock_ruleset_attr attr = {rd64(p), rd64(p + 8), rd64(p + 16)};
      long fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
      if (fd < 0) return -1;
      *ruleset = (int)fd;
      return 0;
    }
    case SL_STEP_LANDLOCK_PATH: {
      if (len < 9 || *ruleset < 0) goto bad;
      const char *path = payload_string(p + 8, len - 8);
      if (path == NULL) goto bad;
      int fd = open(path, O_PATH | O_CLOEXEC);
      if (fd < 0) {
        *sub = 1; /* the open, not the rule */
        return -1;
      }
      struct sl_landlock_path_beneath_attr attr = {.allowed_access = rd64(p), .parent_fd = fd};
      long rc = syscall(SYS_landlock_add_rule, *ruleset, SL_LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
      int saved = errno;
      close(fd);
      errno = saved;
      return rc < 0 ? -1 : 0;
    }
    case SL_STEP_LANDLOCK_PORT: {
      if (len < 16 || *ruleset < 0) goto bad;
      struct sl_landlock_net_port_attr attr = {.allowed_access = rd64(p), .port = rd64(p + 8)};
      return syscall(SYS_landlock_add_rule, *ruleset, SL_LANDLOCK_RULE_NET_PORT, &attr, 0) < 0 ? -1 : 0;
    }
    case SL_STEP_LANDLOCK_RESTRICT: {
      if (len < 4 || *ruleset < 0) goto bad;
      long rc = syscall(SYS_landlock_restrict_self, *ruleset, rd32(p));
      int saved = errno;
      close(*ruleset);
      *ruleset = -1;
      errno = saved;
      return rc < 0 ? -1 : 0;
    }
    case SL_STEP_SECCOMP: {
      if (len < 8 + sizeof(struct sock_filter) || (len - 8) % sizeof(struct sock_filter) != 0) goto bad;
      struct sock_fprog prog = {
          .len = (unsigned short)((len - 8) / sizeof(struct sock_filter)),
          .filter = (struct sock_filter *)(p + 8), /* payloads are 8-byte aligned */
      };
      if ((len - 8) / sizeof(struct sock_filter) > BPF_MAXINSNS) goto bad;
      return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, rd32(p), &prog) < 0 ? -1 : 0;
    }
    case SL_STEP_CLOSE_FDS:
      if (len < 4) goto bad;
      /* Marked close-on-exec rather than closed: the status pipe must live until exec. */
      return syscall(SYS_close_range, rd32(p), ~0U, CLOSE_RANGE_CLOEXEC) < 0 ? -1 : 0;
    case SL_STEP_EXEC: {
      struct exec_args ex = {0};
      if (parse_exec(p, len, &ex) < 0) goto bad;
      execve(ex.path, ex.argv, ex.envp);
      return -1;
    }
    default:
      goto bad;
  }
bad:
  errno = EINVAL;
  *sub = 2; /* malformed payload: a bug in the plan encoder */
  return -1;
}

void sl_child_run(const struct sl_plan *plan, int report_fd) {
  /* The launcher's own signal setup must not leak into the command. */
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  }
  sigprocmask(SIG_SETMASK, &none, NULL);

  int ruleset = -1;
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    int sub = 0;
    if (run_step(&plan->steps[i], &ruleset, &sub) < 0) {
      struct sl_msg m = {SL_MSG_SETUP_FAILED, (int32_t)i, errno, (int32_t)(plan->steps[i].op | ((uint32_t)sub << 8))};
      sl_write_all(report_fd, &m, sizeof m);
      _exit(127);
    }
  }
  /* A plan without an exec step is malformed. */
  struct sl_msg m = {SL_MSG_SETUP_FAILED, (int32_t)plan->nsteps, EINVAL, 0};
  sl_write_all(report_fd, &m, sizeof m);
  _exit(127);
}
