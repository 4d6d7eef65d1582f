/* The supervisor's side of the inotify broker (native/launcher/broker.c says why and the
 * protocol; src/supervise/handlers/inotify-init.ts uses these): its start, and one instance
 * asked of it. Both wait for the broker's answer with a bound, on the event loop's thread:
 * the broker is this package's own program, it answers in microseconds, and an instance is
 * asked for once per inotify_init of a sandbox, a rare call. */
#define _GNU_SOURCE
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The longest the broker may take to answer. */
#define BROKER_ANSWER_MS 2000

/* Reads one message of exactly `len` bytes, with SCM_RIGHTS descriptors (close-on-exec)
 * into *fd when `fd` is given; -errno, -ETIMEDOUT past the bound, -ECONNRESET at EOF. */
static long recv_answer(int sock, void *buf, size_t len, int *fd) {
  struct pollfd p = {sock, POLLIN, 0};
  int r;
  do r = poll(&p, 1, BROKER_ANSWER_MS);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  if (r == 0) return -ETIMEDOUT;
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } c;
  memset(&c, 0, sizeof c);
  struct iovec iov = {buf, len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf};
  ssize_t got;
  do got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (got < 0 && errno == EINTR);
  if (got < 0) return -errno;
  int passed = -1;
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  if (h != NULL && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len >= CMSG_LEN(sizeof(int))) {
    memcpy(&passed, CMSG_DATA(h), sizeof passed);
  }
  if (got == 0) {
    if (passed >= 0) close(passed);
    return -ECONNRESET;
  }
  if ((size_t)got != len || (m.msg_flags & MSG_CTRUNC) != 0 || (fd == NULL && passed >= 0)) {
    if (passed >= 0) close(passed);
    return -EBADMSG;
  }
  if (fd != NULL) *fd = passed;
  return 0;
}

static long send_all(int sock, const void *buf, size_t len) {
  ssize_t n;
  do n = send(sock, buf, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  return (size_t)n == len ? 0 : -EIO;
}

/* spawnInotifyBroker(launcherPath, instances, watches) -> [pid, pidfd, socket], or -errno
 * when it could not start or enter its namespace (everything it made then closed and its
 * process reaped): the broker's own failure (no user namespaces here) comes back as its
 * errno. */
static napi_value sl_spawn_inotify_broker(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  char path[4096];
  if (sl_arg_launcher_path(env, argv[0], path, sizeof path) < 0) return NULL;
  SL_ARG_INT(env, 1, instances);
  SL_ARG_INT(env, 2, watches);
  pid_t pid;
  int sock;
  int err = sl_spawn_with_socket(path, "sandlock-inotify", SOCK_SEQPACKET, &pid, &sock);
  if (err < 0) return sl_make_int(env, err);
  uint32_t limits[2] = {(uint32_t)instances, (uint32_t)watches};
  int32_t status = 0;
  long rc = send_all(sock, limits, sizeof limits);
  if (rc == 0) rc = recv_answer(sock, &status, sizeof status, NULL);
  if (rc == 0 && status < 0) rc = status;
  int pidfd = rc == 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
  if (rc == 0 && pidfd < 0) rc = -errno;
  if (rc < 0) {
    /* Our unreaped child: its pid cannot be reused before this wait. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(sock);
    return sl_make_int(env, rc);
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  napi_value out, v;
  SL_CALL(env, napi_create_array_with_length(env, 3, &out));
  int64_t vals[3] = {pid, pidfd, sock};
  for (uint32_t i = 0; i < 3; i++) {
    SL_CALL(env, napi_create_int64(env, vals[i], &v));
    SL_CALL(env, napi_set_element(env, out, i, v));
  }
  return out;
}

/* brokerInotify(socket, flags) -> a new inotify instance's descriptor (close-on-exec) made
 * by the broker with inotify_init1(flags), or -errno (the kernel's: EMFILE past the
 * broker's namespace's limit, EINVAL for unknown flags; -ETIMEDOUT, -ECONNRESET when the
 * broker does not answer). */
static napi_value sl_broker_inotify(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, sock);
  SL_ARG_INT(env, 1, flags);
  uint32_t f = (uint32_t)flags;
  int32_t status = 0;
  long rc = send_all(sock, &f, sizeof f);
  if (rc == 0) rc = recv_answer(sock, &status, sizeof status, NULL);
  if (rc < 0) return sl_make_int(env, rc);
  if (status < 0) return sl_make_int(env, status);
  char byte = 0;
  int fd = -1;
  rc = recv_answer(sock, &byte, 1, &fd);
  if (rc < 0) return sl_make_int(env, rc);
  if (fd < 0) return sl_make_int(env, -EBADMSG);
  return sl_make_int(env, fd);
}

void sl_inotify_broker_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spawnInotifyBroker", NULL, sl_spawn_inotify_broker, NULL, NULL, NULL, napi_enumerable, NULL},
      {"brokerInotify", NULL, sl_broker_inotify, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
