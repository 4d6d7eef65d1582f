/* sandlock-launcher: the small init of one sandbox. It reads the plan TypeScript computed,
 * forks the command's process (which applies the plan and execs), then stays outside the
 * confinement as a child subreaper: it reaps, answers stop/continue/kill, and when the
 * command exits, or TypeScript's end of the control pipe closes, kills what is left. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"

int sl_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
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

__attribute__((noreturn)) static void fatal(int step, int err) {
  send_msg(SL_MSG_FATAL, step, err, 0);
  _exit(125);
}

static uint8_t *read_plan(size_t *len_out) {
  struct stat st;
  if (fstat(SL_FD_PLAN, &st) < 0) return NULL;
  if (st.st_size < (off_t)sizeof(struct sl_plan_header) || st.st_size > SL_PLAN_MAX_BYTES) {
    errno = EMSGSIZE;
    return NULL;
  }
  size_t len = (size_t)st.st_size;
  /* 8-byte alignment of every payload relies on an aligned base. */
  uint8_t *buf = aligned_alloc(8, (len + 7) & ~(size_t)7);
  if (buf == NULL) return NULL;
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(SL_FD_PLAN, buf + got, len - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(buf);
      errno = n == 0 ? EMSGSIZE : errno;
      return NULL;
    }
    got += (size_t)n;
  }
  *len_out = len;
  return buf;
}

/* Checks the framing only; the meaning of each step is the plan author's business. */
static int parse_plan(const uint8_t *buf, size_t len, struct sl_plan *plan) {
  struct sl_plan_header h;
  memcpy(&h, buf, sizeof h);
  if (h.magic != SL_PLAN_MAGIC || h.version != SL_PLAN_VERSION || h.total_len != len) return -1;
  if (h.nsteps == 0 || h.nsteps > 1u << 20) return -1;
  plan->steps = calloc(h.nsteps, sizeof *plan->steps);
  if (plan->steps == NULL) return -1;
  size_t off = sizeof h;
  for (uint32_t i = 0; i < h.nsteps; i++) {
    struct sl_step_header sh;
    if (len - off < sizeof sh) return -1;
    memcpy(&sh, buf + off, sizeof sh);
    off += sizeof sh;
    if (sh.op == 0 || sh.op > SL_STEP_MAX || sh.len > len - off) return -1;
    plan->steps[i] = (struct sl_step){sh.op, sh.len, buf + off};
    size_t padded = ((size_t)sh.len + 7) & ~(size_t)7;
    if (padded > len - off) return -1;
    off += padded;
  }
  if (off != len) return -1;
  plan->nsteps = h.nsteps;
  return 0;
}

/* Waits for the command's exec: EOF on the close-on-exec report pipe means it happened. */
static int await_exec(int report_rd, pid_t child) {
  struct sl_msg m;
  ssize_t n;
  do {
    n = read(report_rd, &m, sizeof m);
  } while (n < 0 && errno == EINTR);
  close(report_rd);
  if (n == 0) {
    send_msg(SL_MSG_STARTED, child, 0, 0);
    return 0;
  }
  if (n != (ssize_t)sizeof m) m = (struct sl_msg){SL_MSG_SETUP_FAILED, -1, n < 0 ? errno : EIO, 0};
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  send_msg(SL_MSG_SETUP_FAILED, m.a, m.b, m.c);
  return -1;
}

__attribute__((noreturn)) static void teardown_and_exit(pid_t root, int root_status, int root_reaped) {
  int killed = sl_tree_kill(root, &root_status, &root_reaped);
  int code = -1, sig = 0;
  if (root_reaped && WIFEXITED(root_status)) code = WEXITSTATUS(root_status);
  if (root_reaped && WIFSIGNALED(root_status)) sig = WTERMSIG(root_status);
  send_msg(SL_MSG_EXIT, code, sig, killed);
  _exit(0);
}

int main(void) {
  /* The launcher's own descriptors must never reach the command. */
  for (int fd = SL_FD_PLAN; fd < SL_FD_FIRST_FREE; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);

  size_t len = 0;
  uint8_t *buf = read_plan(&len);
  if (buf == NULL) fatal(SL_FATAL_PLAN_READ, errno);
  close(SL_FD_PLAN);
  struct sl_plan plan = {0};
  if (parse_plan(buf, len, &plan) < 0) fatal(SL_FATAL_PLAN_FORMAT, EINVAL);

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) fatal(SL_FATAL_SUBREAPER, errno);

  /* Terminal signals are for the command; the launcher only listens for child exits and
   * for requests to tear down. The command gets default dispositions back. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t watched;
  sigemptyset(&watched);
  sigaddset(&watched, SIGCHLD);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &watched, NULL) < 0) fatal(SL_FATAL_SIGNALS, errno);
  int sfd = signalfd(-1, &watched, SFD_CLOEXEC);
  if (sfd < 0) fatal(SL_FATAL_SIGNALS, errno);

  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) fatal(SL_FATAL_FORK, errno);
  pid_t root = fork();
  if (root < 0) fatal(SL_FATAL_FORK, errno);
  if (root == 0) {
    close(report[0]);
    close(sfd);
    close(SL_FD_STATUS);
    close(SL_FD_CONTROL);
    sl_child_run(&plan, report[1]);
  }
  close(report[1]);
  if (await_exec(report[0], root) < 0) _exit(0);
  free(plan.steps);
  free(buf);

  int root_status = 0, root_reaped = 0;
  for (;;) {
    struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {SL_FD_CONTROL, POLLIN, 0}};
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      teardown_and_exit(root, root_status, root_reaped);
    }
    if (pfd[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP) teardown_and_exit(root, root_status, root_reaped);
        if (si.ssi_signo != SIGCHLD) continue;
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0) {
          if (pid == root) {
            root_status = status;
            root_reaped = 1;
          }
        }
        /* The sandbox lives as long as its root process: what it leaves behind dies. */
        if (root_reaped) teardown_and_exit(root, root_status, root_reaped);
        break;
      }
    }
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      char cmd;
      ssize_t n = read(SL_FD_CONTROL, &cmd, 1);
      if (n < 0 && errno == EINTR) continue;
      /* EOF: the supervising Node process is gone, and its sandboxes go with it. */
      if (n <= 0) teardown_and_exit(root, root_status, root_reaped);
      switch (cmd) {
        case SL_CMD_STOP: {
          int count = sl_tree_stop();
          send_msg(SL_MSG_ACK, cmd, count < 0 ? 0 : count, count < 0 ? errno : 0);
          break;
        }
        case SL_CMD_CONT: {
          int count = sl_tree_signal(SIGCONT);
          send_msg(SL_MSG_ACK, cmd, count < 0 ? 0 : count, count < 0 ? errno : 0);
          break;
        }
        case SL_CMD_KILL:
          teardown_and_exit(root, root_status, root_reaped);
        default:
          send_msg(SL_MSG_ACK, cmd, 0, EINVAL);
      }
    }
  }
}
