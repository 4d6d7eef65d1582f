/* The supervising process's side of the sender (native/launcher/sender.c says why, and the
 * protocol): one sender per process, started at the first send with descriptors a sandbox
 * asks for and again whenever one stopped answering. Its conversation is serialised by a
 * mutex: the event loop's sends and the worker threads' retries (net.c) share it; none
 * holds it longer than one request and its answer (the sender never waits on a target:
 * MSG_DONTWAIT), and every wait on it is bounded (SENDER_ANSWER_S). */
#define _GNU_SOURCE
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SL_SEND_MAGIC 0x31534c53u
#define SENDER_ANSWER_S 2
/* SCM_MAX_FD: the most descriptors one message passes. */
#define SENDER_PASSED_MAX 253

struct sl_send_request {
  uint32_t magic;
  int32_t flags;
  uint32_t limit;
  uint32_t namelen, controllen, datalen;
  uint32_t npassed;
  int32_t pinned;
};

static struct {
  pthread_mutex_t mu;
  char path[4096];
  pid_t pid;
  int sock;
} sender = {PTHREAD_MUTEX_INITIALIZER, "", 0, -1};

/* Under the lock: ends the sender (a new one starts at the next send). */
static void sender_end(void) {
  if (sender.sock >= 0) close(sender.sock);
  sender.sock = -1;
  if (sender.pid > 0) {
    kill(sender.pid, SIGKILL);
    waitpid(sender.pid, NULL, 0);
  }
  sender.pid = 0;
}

/* Under the lock: the sender's socket, started now if need be; -errno if it cannot run. */
static int sender_socket(void) {
  if (sender.sock >= 0) return sender.sock;
  if (sender.path[0] == '\0') return -ENOENT;
  pid_t pid;
  int sock;
  int err = sl_spawn_with_socket(sender.path, "sandlock-sender", SOCK_STREAM, &pid, &sock);
  if (err < 0) return err;
  struct timeval tv = {SENDER_ANSWER_S, 0};
  setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sender.pid = pid;
  sender.sock = sock;
  return sock;
}

/* Collects the supervisor's numbers in the SCM_RIGHTS headers of `control`, in order, after
 * fds[0]; the count, or -EINVAL. */
static int rights_of(const uint8_t *control, size_t len, int *fds, int room) {
  int n = 0;
  size_t at = 0;
  while (len - at >= sizeof(struct cmsghdr)) {
    struct cmsghdr h;
    memcpy(&h, control + at, sizeof h);
    if (h.cmsg_len < sizeof h || h.cmsg_len > len - at) return -EINVAL;
    if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
      size_t count = (h.cmsg_len - sizeof h) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        if (n == room) return -EINVAL;
        memcpy(&fds[n++], control + at + sizeof h + i * sizeof(int), sizeof(int));
      }
    }
    at += CMSG_ALIGN(h.cmsg_len);
  }
  return n;
}

/* Sends len bytes with the descriptors fds (none: n 0); the bytes sent, or -errno. */
static ssize_t send_part(int sock, const struct iovec *iov, int iovcnt, const int *fds, int n) {
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(SENDER_PASSED_MAX * sizeof(int))];
  } c;
  struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
  if (n > 0) {
    memset(&c, 0, sizeof c);
    c.h.cmsg_level = SOL_SOCKET;
    c.h.cmsg_type = SCM_RIGHTS;
    c.h.cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
    memcpy(CMSG_DATA(&c.h), fds, (size_t)n * sizeof(int));
    m.msg_control = c.buf;
    m.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
  }
  ssize_t sent;
  do sent = sendmsg(sock, &m, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  return sent < 0 ? -errno : sent;
}

/* Under the lock: writes the request in its three parts (native/launcher/sender.c); 1 when
 * nothing of it reached the sender (it may be tried again on a new one), 0 when all did,
 * -errno past that. */
static long write_request(int sock, const struct sl_send_request *rq, const int *fixed, const int *passed, const void *name, const void *control, const void *data) {
  struct iovec head = {(void *)rq, sizeof *rq};
  ssize_t n = send_part(sock, &head, 1, fixed, rq->pinned ? 2 : 1);
  if (n == -EPIPE || n == -ECONNRESET) return 1;
  if (n != (ssize_t)sizeof *rq) return n < 0 ? n : -EIO;
  char byte = 'R';
  struct iovec one = {&byte, 1};
  n = send_part(sock, &one, 1, passed, (int)rq->npassed);
  if (n != 1) return n < 0 ? n : -EIO;
  struct iovec iov[3] = {{(void *)name, rq->namelen}, {(void *)control, rq->controllen}, {(void *)data, rq->datalen}};
  size_t total = (size_t)rq->namelen + rq->controllen + rq->datalen, done = 0;
  /* In as many sends as the socket's buffer takes (SO_SNDTIMEO bounds each wait). */
  while (done < total) {
    size_t skip = done;
    int k = 0;
    while (skip >= iov[k].iov_len) skip -= iov[k++].iov_len;
    struct iovec rest[3];
    int r = 0;
    for (; k < 3; k++, skip = 0) rest[r++] = (struct iovec){(char *)iov[k].iov_base + skip, iov[k].iov_len - skip};
    n = send_part(sock, rest, r, NULL, 0);
    if (n <= 0) return n < 0 ? n : -EIO;
    done += (size_t)n;
  }
  return 0;
}

/* Under the lock: the sender's answer. The caller waits for it in any case (the event loop
 * included), so it first looks without sleeping for up to SENDER_SPIN_NS: a sleeping
 * caller is woken by an interrupt from the sender's CPU, which costs tens of microseconds
 * on a virtual machine (a ping-pong between two processes here: 85 us a round trip across
 * CPUs, 10 on one), more than the sender takes to answer. Then it sleeps (SO_RCVTIMEO). */
#define SENDER_SPIN_NS 200000
static ssize_t recv_answer(int sock, int32_t *answer) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    ssize_t got = recv(sock, answer, sizeof *answer, MSG_DONTWAIT);
    if (got == (ssize_t)sizeof *answer || (got < 0 && errno != EAGAIN && errno != EINTR)) return got;
    if (got >= 0) break; /* a part of it, or EOF: the blocking read below tells */
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > SENDER_SPIN_NS) break;
    sched_yield(); /* the sender may have been woken on this CPU */
  }
  ssize_t got;
  do got = recv(sock, answer, sizeof *answer, MSG_WAITALL);
  while (got < 0 && errno == EINTR);
  return got;
}

long sl_sender_send(int fd, int pin, uint32_t limit, const void *name, size_t namelen, const void *data, size_t datalen, const void *control, size_t controllen, int flags) {
  int passed[SENDER_PASSED_MAX];
  int npassed = rights_of(control, controllen, passed, SENDER_PASSED_MAX);
  if (npassed <= 0) return npassed < 0 ? npassed : -EINVAL;
  const int fixed[2] = {fd, pin};
  struct sl_send_request rq = {SL_SEND_MAGIC, flags, limit, (uint32_t)(pin >= 0 ? 0 : namelen), (uint32_t)controllen, (uint32_t)datalen, (uint32_t)npassed, pin >= 0};
  pthread_mutex_lock(&sender.mu);
  long rc = -ENOBUFS;
  for (int attempt = 0; attempt < 2; attempt++) {
    int sock = sender_socket();
    if (sock < 0) break;
    long w = write_request(sock, &rq, fixed, passed, name, control, data);
    if (w == 1) {
      /* The sender had gone (it exits on anything malformed): nothing was sent. */
      sender_end();
      continue;
    }
    int32_t answer = 0;
    ssize_t got = -1;
    if (w == 0) got = recv_answer(sock, &answer);
    /* No answer within the bound, or a broken conversation: the send's outcome is unknown
     * (it may have been made); the call fails as the kernel's would without buffer space,
     * and the next send starts a new sender. */
    if (got != (ssize_t)sizeof answer) {
      sender_end();
      break;
    }
    rc = answer;
    break;
  }
  pthread_mutex_unlock(&sender.mu);
  return rc;
}

/* senderPath(launcherPath): the program started as the sender (the launcher binary). */
static napi_value sl_sender_path(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  char path[4096];
  if (sl_arg_launcher_path(env, argv[0], path, sizeof path) < 0) return NULL;
  pthread_mutex_lock(&sender.mu);
  memcpy(sender.path, path, sizeof path);
  pthread_mutex_unlock(&sender.mu);
  return NULL;
}

/* senderPid() -> the running sender's pid, or 0 (tests and diagnostics). */
static napi_value sl_sender_pid(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&sender.mu);
  pid_t pid = sender.pid;
  pthread_mutex_unlock(&sender.mu);
  return sl_make_int(env, pid);
}

void sl_sender_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"senderPath", NULL, sl_sender_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"senderPid", NULL, sl_sender_pid, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
