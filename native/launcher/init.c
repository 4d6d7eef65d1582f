/* The kernel-native view's init (ns.c): pid 1 of the sandbox's pid namespace is a small
 * reaper forked just before the seccomp filter, confined at least like the command (same
 * Landlock domain, no capability, a filter of its own that allows only the calls below:
 * plan/seccomp-init.ts), and the command runs as pid 2, so the kernel's rules for a
 * namespace's init (signals without a handler dropped) bind nothing of it. */
#include "launcher.h"

#define NR_setpgid_ 109

/* The command's process (pid 2): joins a group of its own when the plan asked for one (the
 * SETPGID step made the init the leader, and the command's group must be its own, named
 * by its pid), then execs. Returns only on failure, which the caller reports. */
static long run_command(const char *path, char **argv, char **envp, int own_group) {
  if (own_group) {
    long rc = SC2(NR_setpgid_, 0, 0);
    if (rc < 0) return rc;
  }
  return SC3(NR_execve, path, argv, envp);
}

static void report(int fd, uint32_t type, int32_t a, int32_t b) {
  struct sl_msg m = {type, a, b, 0};
  /* EPIPE when the launcher is gone: the namespace dies with it (PDEATHSIG). */
  (void)sl_write_all(fd, &m, sizeof m);
}

/*
 * The init's life. It holds no handler, so the kernel drops every signal the sandbox sends
 * it (SIGKILL and SIGSTOP included); the launcher, in the parent pid namespace, can still
 * stop and kill it. ptrace, process_vm_* and pidfd_getfd are refused by the filter it runs
 * under like everything else, and /proc/1/mem is read-only for the sandbox (Landlock's
 * /proc rule; a writable /proc keeps the supervised view). What it can tell the launcher
 * is the command's wait status, which the command could have chosen by exiting anyway.
 *
 *  1. waits for the command's exec: EOF on a close-on-exec pipe (or the command died; a
 *     failed step was reported by the command itself, before its exit closed the pipe);
 *  2. says so on the report pipe (SL_MSG_INIT_EXEC) and waits for the launcher's answer on
 *     the ack pipe: until then the command is not reaped, so the launcher can read its
 *     host pid from /proc/<init>/task/<init>/children whatever the command does;
 *  3. reaps every process of the namespace (orphans come to it); the command's wait status
 *     goes to the launcher (SL_MSG_INIT_STATUS, b = 1 when nothing else was left);
 *  4. exits when no child is left (when it dies the kernel kills the namespace anyway).
 */
__attribute__((noreturn)) static void init_loop(pid_t cmd, int ex_rd, struct sl_child_fds fds) {
  char c;
  SL_RETRY(SC3(NR_read, ex_rd, &c, 1));
  SC1(NR_close, ex_rd);
  report(fds.report, SL_MSG_INIT_EXEC, 0, 0);
  int32_t answer = 0;
  SL_RETRY(SC3(NR_read, fds.ack, &answer, sizeof answer));
  SC1(NR_close, fds.ack);
  for (;;) {
    int status;
    long pid = SC4(NR_wait4, -1, &status, WALL, 0);
    if (pid == -EINTR) continue;
    if (pid < 0) sl_exit_group(0); /* ECHILD: the namespace is empty but for the init */
    if (pid != cmd) continue;
    long more;
    int other;
    while ((more = SC4(NR_wait4, -1, &other, WALL | WNOHANG, 0)) > 0) continue;
    report(fds.report, SL_MSG_INIT_STATUS, status, more == -ECHILD);
    if (more == -ECHILD) sl_exit_group(0);
  }
}

/* Closes every descriptor but the three the init uses (its pipes to the command and the
 * launcher). Before this the init kept whatever the command's process held at the fork, all
 * of it close-on-exec and so gone from the command at its exec, but the init never execs:
 * the launcher's own /proc (tree.c, the host's procfs) among them, reachable from inside as
 * /proc/1/fd/N, where stat and readlink (which Landlock does not check) listed the host's
 * processes and their owners and gave the sandbox its host pid (seventh review). */
static void keep_only(int a, int b, int c) {
  int keep[3] = {a, b, c};
  for (int i = 0; i < 3; i++) {
    for (int j = i + 1; j < 3; j++) {
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
    }
  }
  unsigned lo = 0;
  for (int i = 0; i < 3; i++) {
    if (keep[i] < 0) continue;
    if ((unsigned)keep[i] > lo) SC3(NR_close_range, lo, (unsigned)keep[i] - 1, 0);
    lo = (unsigned)keep[i] + 1;
  }
  SC3(NR_close_range, lo, ~0U, 0);
}

/*
 * The init's fork, at the SECCOMP step (steps.c): after Landlock, DROP_CAPS, NO_NEW_PRIVS
 * and the signal scope, so the init is confined like the command, but before the filter,
 * so the fork costs no supervisor round trip (it was 43% of the start). Each side then
 * loads a filter on its own: the command's process the policy's program with the listener
 * it hands over, the init the plan's INIT_FILTER without one: read, write, close, wait4,
 * exit_group, restart_syscall and prlimit64 on itself, anything else killing it (what
 * init_loop and the late rlimits call; 18 instructions, where the command's ~420 cost the
 * init about 0.3 ms to load). The supervisor never sees this fork, so maxProcesses' count
 * starts with the command.
 * Returns the pid (0 in the command's process) or -errno; *ex_rd gets the exec pipe.
 */
long sl_init_fork(int *ex_rd, struct sl_child_fds fds) {
  int ex[2];
  long rc = SC2(NR_pipe2, ex, O_CLOEXEC);
  if (rc < 0) return rc;
  long pid = SC5(NR_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    SC1(NR_close, ex[0]);
    SC1(NR_close, ex[1]);
    return pid;
  }
  /* The command's process keeps only the write end (close-on-exec: EOF tells the exec). */
  if (pid == 0) {
    SC1(NR_close, ex[0]);
    *ex_rd = -1;
  } else {
    SC1(NR_close, ex[1]);
    *ex_rd = ex[0];
    /* The init: no descriptor but its pipes (keep_only says why). It stays dumpable: a
     * checkpoint as the test user seizes it with ptrace (freeze.ts), which a process that is
     * not dumpable refuses, and maxCpu takes one that is not for a process whose time the
     * kernel stopped counting (tree.c). */
    keep_only(ex[0], fds.report, fds.ack);
  }
  return pid;
}

/* The exec step of either side of sl_init_fork: the init never returns, the command's
 * process returns only when its exec failed. */
long sl_init_exec(const char *path, char **argv, char **envp, struct sl_child_fds fds, int own_group, pid_t cmd, int ex_rd) {
  if (cmd == 0) return run_command(path, argv, envp, own_group);
  init_loop(cmd, ex_rd, fds);
}

/* The launcher's side: the init's only child is the command until it execs (the init forks
 * nothing else), and until the launcher's answer after the exec nothing reaps it, read in the launcher's own pid namespace. -errno when the
 * file cannot be read (kernel-view.ts checks that the kernel has it). */
long sl_init_command_pid(pid_t init) {
  char path[64], buf[32];
  sl_fmt_path(path, "/proc/", init, "/task/");
  size_t n = sl_strlen(path);
  sl_fmt_path(path + n, "", init, "/children");
  long fd = SC4(NR_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  long got = SL_RETRY(SC3(NR_read, fd, buf, sizeof buf - 1));
  SC1(NR_close, fd);
  if (got <= 0) return got < 0 ? got : -ESRCH;
  long pid = 0;
  for (long i = 0; i < got && buf[i] >= '0' && buf[i] <= '9'; i++) pid = pid * 10 + (buf[i] - '0');
  return pid > 0 ? pid : -ESRCH;
}
