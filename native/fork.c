/* The zygote's native side (src/fork/): making a Node process safe to fork, forking one
 * clone with its own stdio, passing descriptors over a unix socket, reaping clones.
 * Used inside the confined zygote and by the parent that talks to it. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* SCM_RIGHTS carries at most this many descriptors per message (the kernel's SCM_MAX_FD). */
#define SL_MAX_FDS 253

/* collapse(start, length) -> bytes collapsed or -errno. The 2 MiB-aligned part of the
 * range becomes huge pages (MADV_COLLAPSE), so each later fork copies one entry per
 * 2 MiB of it instead of 512. The parent picks the ranges from /proc/<zygote>/smaps
 * (the zygote itself may not read /proc). */
static napi_value sl_collapse(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_I64(env, 0, start);
  SL_ARG_I64(env, 1, length);
  const uint64_t huge = 2UL << 20;
  uint64_t a = ((uint64_t)start + huge - 1) & ~(huge - 1);
  uint64_t b = ((uint64_t)start + (uint64_t)length) & ~(huge - 1);
  if (start < 0 || length <= 0 || b <= a) return sl_make_int(env, 0);
  if (madvise((void *)a, b - a, MADV_COLLAPSE) != 0) return sl_make_int(env, -errno);
  return sl_make_int(env, (int64_t)(b - a));
}

/* MADV_DOFORK over the whole address space, skipping the vDSO's data pages ([vvar],
 * [vvar_vclock]), which are VM_IO: madvise refuses those with EINVAL and stops there.
 * V8 marks each new heap page MADV_DONTFORK, so this runs before every fork; on ranges
 * already forkable it changes nothing and costs a walk over the mappings. The kernel
 * reports ENOMEM for the holes between mappings after treating every mapping. */
static int dofork_everything(void) {
  static unsigned long vvar_pages = 0; /* how far below the vDSO the VM_IO pages start */
  const unsigned long page = 4096, top = (1UL << 47) - page;
  unsigned long vdso = getauxval(AT_SYSINFO_EHDR);
  if (vdso == 0) return madvise((void *)page, top - page, MADV_DOFORK) == 0 || errno == ENOMEM ? 0 : -errno;
  for (;;) {
    unsigned long end = vdso - vvar_pages * page;
    if (madvise((void *)page, end - page, MADV_DOFORK) == 0 || errno == ENOMEM) break;
    if (errno != EINVAL || ++vvar_pages > 64) return -errno;
  }
  if (madvise((void *)vdso, top - vdso, MADV_DOFORK) != 0 && errno != ENOMEM) return -errno;
  return 0;
}

/* Reads a JS array of at most max descriptors into out; -1 when it is not one. */
static int fd_list(napi_env env, napi_value arr, int *out, uint32_t max, uint32_t *n) {
  if (napi_get_array_length(env, arr, n) != napi_ok || *n > max) return -1;
  for (uint32_t i = 0; i < *n; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) != napi_ok || napi_get_value_int32(env, v, &out[i]) != napi_ok) return -1;
  }
  return 0;
}

/* The read end of one pipe whose writer is closed (reads see EOF), made once: the stdin of
 * the zygote and of every clone. -1 with errno set when it cannot be made. */
static int empty_reader(void) {
  static int empty = -1;
  if (empty < 0) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    close(p[1]);
    empty = p[0];
  }
  return empty;
}

/* The size of each clone's stdout and stderr pipe. The kernel charges every pipe's pages to
 * the uid (fs.pipe-user-pages-soft, 16,384 pages here: past it every new pipe of the uid has
 * 8 KiB), and a pipe is made with 16 pages: two of them a clone took the uid to its soft
 * limit at 512 live clones. The parent reads both ends as soon as they are readable
 * (src/confine/stdio.ts capturePipe), so a smaller pipe costs a clone that prints much
 * only more wake-ups: 4 pages for stdout, 1 for stderr, 5 pages a clone (3,276 clones to
 * the soft limit). Best effort: a pipe that keeps its size still works. */
#define SL_CLONE_STDOUT_PIPE (4 * 4096)
#define SL_CLONE_STDERR_PIPE 4096

/* Most clones one forkBatch makes: each holds two descriptors (the read ends of its stdout
 * and stderr) until the zygote has passed them on, and they travel in one SCM_RIGHTS
 * message. */
#define SL_BATCH_MAX 64

/* forkBatch(n, control, stopFirst) -> in the zygote {pids, fds, errno, syscall}; in clone i,
 * i (having stopped itself with SIGSTOP first when stopFirst is non-zero: a measuring point).
 * Forks up to n clones in one loop in C. The point is what the zygote does not do between
 * two forks: every page it writes after a fork is copied for it and stays behind, private,
 * with the clones made so far. A JavaScript loop writes dozens of pages per iteration
 * (allocation, stack, malloc); this loop writes its stack and the arrays below.
 * Each clone gets its own process group, stdout and stderr on its own pipes, an empty
 * stdin (a pipe whose writer is closed), no descriptor of the control socket or of the
 * other clones, and libuv a fresh backend (epoll and eventfds are shared with the zygote
 * until uv_loop_fork). In the zygote, fds holds [stdout, stderr] per clone made;
 * errno is non-zero when the batch stopped early (syscall names the call). */
static napi_value sl_fork_batch(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, n);
  SL_ARG_INT(env, 1, control);
  SL_ARG_INT(env, 2, stop_first);
  if (n < 1 || n > SL_BATCH_MAX) {
    napi_throw_range_error(env, "SL_ARGS", "forkBatch: n must be 1..64");
    return NULL;
  }
  uv_loop_t *loop;
  SL_CALL(env, napi_get_uv_event_loop(env, &loop));
  int rc = dofork_everything();
  if (rc != 0) return sl_throw_errno(env, "madvise(MADV_DOFORK)", -rc);
  int empty = empty_reader();
  if (empty < 0) return sl_throw_errno(env, "pipe2", errno);
  int pids[SL_BATCH_MAX], fds[2 * SL_BATCH_MAX];
  int made = 0, err = 0;
  const char *failed = NULL;
  for (; made < n; made++) {
    int out[2], errp[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      err = errno, failed = "pipe2";
      break;
    }
    if (pipe2(errp, O_CLOEXEC) != 0) {
      err = errno, failed = "pipe2";
      close(out[0]), close(out[1]);
      break;
    }
    fcntl(out[0], F_SETPIPE_SZ, SL_CLONE_STDOUT_PIPE);
    fcntl(errp[0], F_SETPIPE_SZ, SL_CLONE_STDERR_PIPE);
    pid_t pid = fork();
    if (pid < 0) {
      err = errno, failed = "fork";
      close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
      break;
    }
    if (pid == 0) {
      setpgid(0, 0);
      if (dup2(empty, 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0) _exit(127);
      close(empty);
      close(out[0]), close(out[1]), close(errp[0]), close(errp[1]);
      close(control);
      for (int k = 0; k < 2 * made; k++) close(fds[k]);
      if (uv_loop_fork(loop) != 0) {
        static const char msg[] = "sandlock clone: uv_loop_fork failed\n";
        ssize_t ignored = write(2, msg, sizeof msg - 1);
        (void)ignored;
        _exit(127);
      }
      /* bench/fork-smaps.ts: what a clone holds before any JavaScript runs. */
      if (stop_first) raise(SIGSTOP);
      return sl_make_int(env, made);
    }
    /* Also done by the clone: whichever runs first wins the race. pgid 0 (the target's
     * own pid, as the clone's setpgid(0, 0)): the sandbox's filter lets that pass inline,
     * where setpgid(pid, pid) went to the supervisor, a round trip per clone. */
    setpgid(pid, 0);
    close(out[1]), close(errp[1]);
    /* The parent reads these ends from a poll handle until EAGAIN (src/confine/stdio.ts
     * capturePipe); the clone's write ends stay blocking. */
    fcntl(out[0], F_SETFL, O_NONBLOCK), fcntl(errp[0], F_SETFL, O_NONBLOCK);
    /* No pidfd here: pidfd_open is a supervisor round trip for a sandboxed caller. The
     * parent opens it on the reported pid (src/fork/adopt.ts) before the zygote reaps. */
    pids[made] = pid;
    fds[2 * made] = out[0], fds[2 * made + 1] = errp[0];
  }
  napi_value result, pid_arr, fd_arr, name;
  SL_CALL(env, napi_create_object(env, &result));
  SL_CALL(env, napi_create_array_with_length(env, (size_t)made, &pid_arr));
  SL_CALL(env, napi_create_array_with_length(env, (size_t)(2 * made), &fd_arr));
  for (int k = 0; k < made; k++) napi_set_element(env, pid_arr, (uint32_t)k, sl_make_int(env, pids[k]));
  for (int k = 0; k < 2 * made; k++) napi_set_element(env, fd_arr, (uint32_t)k, sl_make_int(env, fds[k]));
  napi_set_named_property(env, result, "pids", pid_arr);
  napi_set_named_property(env, result, "fds", fd_arr);
  napi_set_named_property(env, result, "errno", sl_make_int(env, err));
  SL_CALL(env, napi_create_string_utf8(env, failed ? failed : "", NAPI_AUTO_LENGTH, &name));
  napi_set_named_property(env, result, "syscall", name);
  return result;
}

/* reapClones() -> [[pid, code, signal], ...] of every exited child, without blocking. */
static napi_value sl_reap_clones(napi_env env, napi_callback_info info) {
  napi_value arr;
  SL_CALL(env, napi_create_array(env, &arr));
  uint32_t n = 0;
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) != 0 || si.si_pid == 0) break;
    napi_value row;
    SL_CALL(env, napi_create_array_with_length(env, 3, &row));
    int exited = si.si_code == CLD_EXITED;
    napi_set_element(env, row, 0, sl_make_int(env, si.si_pid));
    napi_set_element(env, row, 1, sl_make_int(env, exited ? si.si_status : -1));
    napi_set_element(env, row, 2, sl_make_int(env, exited ? 0 : si.si_status));
    napi_set_element(env, arr, n++, row);
  }
  return arr;
}

/* seqpacketPair() -> [a, b]: a close-on-exec SOCK_SEQPACKET unix socket pair (message
 * boundaries keep each message and its descriptors together). */
static napi_value sl_seqpacket_pair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return sl_throw_errno(env, "socketpair", errno);
  return sl_make_pair(env, sv[0], sv[1]);
}

/* How long a send with descriptors sleeps between tries when it waits out ETOOMANYREFS. */
#define SL_INFLIGHT_NAP_MS 2

/* sendFds(sock, data, fds[], waitMs = 0) -> bytes sent or -errno. Blocks until the message
 * fits. The zygote's sends are a sandbox's: made by the supervisor's sender under the
 * sandbox's bound on descriptors in flight (256, counted for the uid:
 * native/launcher/sender.c), which a few batches not yet read by the parent pass (64
 * clones, 128 descriptors each). The parent reads them as they come, so the zygote waits a
 * refusal (ETOOMANYREFS) out for waitMs at most (the uid's other processes may hold the
 * count longer); the supervising process's own sends (standby.ts) never wait. */
static napi_value sl_send_fds(napi_env env, napi_callback_info info) {
  size_t argc_ = 4;
  napi_value argv[4]; /* a fourth left out is undefined */
  SL_CALL(env, napi_get_cb_info(env, info, &argc_, argv, NULL, NULL));
  if (argc_ < 3) {
    napi_throw_type_error(env, "SL_ARGS", "expected 3 arguments");
    return NULL;
  }
  SL_ARG_INT(env, 0, sock);
  SL_ARG_BUFFER(env, 1, data, len);
  int32_t wait_ms = 0;
  napi_valuetype t;
  if (napi_typeof(env, argv[3], &t) == napi_ok && t == napi_number) napi_get_value_int32(env, argv[3], &wait_ms);
  int fds[SL_MAX_FDS];
  uint32_t nfds = 0;
  if (fd_list(env, argv[2], fds, SL_MAX_FDS, &nfds) != 0) {
    napi_throw_type_error(env, "SL_ARGS", "argument 2 must be an array of at most 253 descriptors");
    return NULL;
  }
  union {
    char buf[CMSG_SPACE(sizeof fds)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  ssize_t rc;
  for (int waited = 0;; waited += SL_INFLIGHT_NAP_MS) {
    do rc = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (rc < 0 && errno == EINTR);
    if (!(rc < 0 && errno == ETOOMANYREFS && nfds > 0 && waited < wait_ms)) break;
    struct timespec nap = {0, SL_INFLIGHT_NAP_MS * 1000000L};
    nanosleep(&nap, NULL);
  }
  return sl_result(env, rc);
}

/* recvFds(sock, out) -> [bytes, fds[]] (bytes 0 at end of stream) or -errno. Received
 * descriptors are close-on-exec. A message cut short (MSG_TRUNC/CTRUNC) is -EMSGSIZE,
 * with whatever descriptors arrived closed. */
static napi_value sl_recv_fds(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, sock);
  SL_ARG_BUFFER(env, 1, out, len);
  union {
    char buf[CMSG_SPACE(SL_MAX_FDS * sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = out, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  ssize_t rc;
  do rc = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return sl_make_int(env, -errno);
  int fds[SL_MAX_FDS];
  uint32_t nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    uint32_t k = (uint32_t)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (uint32_t i = 0; i < k && nfds < SL_MAX_FDS; i++) memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (uint32_t i = 0; i < nfds; i++) close(fds[i]);
    return sl_make_int(env, -EMSGSIZE);
  }
  napi_value arr, pair;
  SL_CALL(env, napi_create_array_with_length(env, nfds, &arr));
  for (uint32_t i = 0; i < nfds; i++) napi_set_element(env, arr, i, sl_make_int(env, fds[i]));
  SL_CALL(env, napi_create_array_with_length(env, 2, &pair));
  napi_set_element(env, pair, 0, sl_make_int(env, rc));
  napi_set_element(env, pair, 1, arr);
  return pair;
}

/* moveFd(fd, min) -> a close-on-exec duplicate at or above min, the original closed. */
static napi_value sl_move_fd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, min);
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, min);
  if (moved < 0) return sl_make_int(env, -errno);
  close(fd);
  return sl_make_int(env, moved);
}

/* emptyStdin() -> 0 or -errno: fd 0 becomes a pipe whose writer is closed (reads see EOF). */
static napi_value sl_empty_stdin(napi_env env, napi_callback_info info) {
  int empty = empty_reader();
  if (empty < 0) return sl_make_int(env, -errno);
  return sl_make_int(env, dup2(empty, 0) < 0 ? -errno : 0);
}

/* exitNow(code): _exit at once. A clone must not run Node's exit path: it would join
 * the zygote's worker threads, which do not exist in the clone. */
static napi_value sl_exit_now(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, code);
  _exit(code & 0xff);
}

/* processIds() -> [getpid(), getppid()]. Node reads both once at start-up, so a clone
 * would otherwise report the zygote's. */
static napi_value sl_process_ids(napi_env env, napi_callback_info info) {
  (void)info;
  return sl_make_pair(env, getpid(), getppid());
}

void sl_fork_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"collapse", NULL, sl_collapse, NULL, NULL, NULL, napi_enumerable, NULL},
      {"forkBatch", NULL, sl_fork_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reapClones", NULL, sl_reap_clones, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketPair", NULL, sl_seqpacket_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFds", NULL, sl_send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvFds", NULL, sl_recv_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"moveFd", NULL, sl_move_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"exitNow", NULL, sl_exit_now, NULL, NULL, NULL, napi_enumerable, NULL},
      {"emptyStdin", NULL, sl_empty_stdin, NULL, NULL, NULL, napi_enumerable, NULL},
      {"processIds", NULL, sl_process_ids, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
