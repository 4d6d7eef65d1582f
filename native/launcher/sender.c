/* The sender: the process that makes a supervised sandbox's sends carrying descriptors
 * (SCM_RIGHTS), started as "sandlock-sender" with a SOCK_STREAM socket at fd 3 (its other
 * side: native/sender.c, one sender per supervising process).
 *
 * Why a process of its own: the kernel bounds the files in flight in unix sockets' queues
 * per user (user_struct.unix_inflight, every process of the uid together) but compares that
 * count with the RLIMIT_NOFILE of the task that sends (too_many_unix_fds). The supervisor
 * performs the sandbox's sends, so its own limit applied (20,000 here): a sandbox kept
 * 20,240 files in flight, and every process of its uid at the usual soft limit of 1,024 (a
 * desktop's clients of Wayland, D-Bus, PipeWire) got ETOOMANYREFS for any descriptor it
 * passed until the sandbox ended. Limits are per process, so the sends are made here,
 * under a limit the supervisor names per send (the sandbox's maxOpenFiles, at most
 * SL_SENDER_LIMIT_MAX: native/sender.c), and the uid's count stops near it.
 *
 * Protocol, one request at a time, in three parts (one message passes at most SCM_MAX_FD
 * descriptors): a header (struct sl_send_request) carrying with SCM_RIGHTS the socket to
 * send on and the pinned destination if any; one byte carrying the descriptors the message
 * passes, in order; then the name, the control data (the supervisor's numbers in its
 * SCM_RIGHTS headers, replaced here by the ones received, in order) and the data; the answer is an i32, what sendmsg returned or -errno. The send
 * never waits (MSG_DONTWAIT): a caller that blocks is served by the supervisor's retries.
 * Anything malformed ends the sender (the supervisor starts another); so does EOF, which
 * comes when the supervising process exits, whatever way.
 *
 * It holds nothing between requests. As root it first gives up CAP_SYS_RESOURCE and
 * CAP_SYS_ADMIN, which would exempt its sends from the bound, and it is not dumpable (the
 * uid's other processes cannot trace it or open its descriptors through /proc). */
#include "launcher.h"

#define SENDER_FD 3
#define SL_SEND_MAGIC 0x31534c53u /* "SLS1" */
/* What one request may carry; native/sender.c sends no more. */
#define SENDER_NAME_MAX 128
#define SENDER_CONTROL_MAX (64 << 10)
#define SENDER_DATA_MAX (1 << 20)
#define SENDER_PASSED_MAX 253 /* SCM_MAX_FD: what one message may pass, and carry */
/* The hard limit: room for a request's descriptors besides 0-3; the soft limit is lowered
 * to the request's own for its sendmsg only. */
#define SENDER_NOFILE 300
#define CAP_SYS_ADMIN_ 21
#define CAP_SYS_RESOURCE_ 24
#define AF_UNIX_FAMILY 1

struct sl_send_request {
  uint32_t magic;
  int32_t flags;
  uint32_t limit;
  uint32_t namelen, controllen, datalen;
  uint32_t npassed; /* descriptors the message passes (1 to SCM_MAX_FD) */
  int32_t pinned;   /* 1: the destination is the pin that came with the socket */
};

struct sl_rlimit {
  uint64_t cur, max;
};

/* The hard limit set at the start: SENDER_NOFILE, or the inherited one when lower. */
static uint64_t hard_nofile = SENDER_NOFILE;

static long set_nofile(uint64_t cur) {
  struct sl_rlimit r = {cur < hard_nofile ? cur : hard_nofile, hard_nofile};
  return SC4(NR_prlimit64, 0, RLIMIT_NOFILE, &r, NULL);
}

static long drop_exemptions(void) {
  struct sl_cap_header h = {SL_CAP_VERSION_3, 0};
  struct sl_cap_data d[2];
  long rc = SC2(NR_capget, &h, d);
  if (rc < 0) return rc;
  uint32_t drop = (1u << CAP_SYS_ADMIN_) | (1u << CAP_SYS_RESOURCE_);
  if (((d[0].effective | d[0].permitted) & drop) == 0) return 0;
  d[0].effective &= ~drop;
  d[0].permitted &= ~drop;
  d[0].inheritable &= ~drop;
  rc = SC2(NR_capset, &h, d);
  if (rc < 0) return rc;
  rc = SC2(NR_capget, &h, d);
  if (rc < 0) return rc;
  return ((d[0].effective | d[0].permitted) & drop) ? -EPERM : 0;
}

/* Reads exactly len bytes; 0, or -1 on EOF or an error. */
static long read_all(uint8_t *p, size_t len) {
  while (len > 0) {
    long n = SL_RETRY(SC3(NR_read, SENDER_FD, p, len));
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void close_fds(const int *fds, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) SC1(NR_close, fds[i]);
}

/* Puts the received descriptors in the place of the supervisor's numbers, in order; the
 * count must be exactly what was received for them. */
static int renumber(uint8_t *control, size_t len, const int *passed, uint32_t npassed) {
  uint32_t used = 0;
  size_t at = 0;
  while (len - at >= sizeof(struct sl_cmsghdr)) {
    struct sl_cmsghdr h;
    memcpy(&h, control + at, sizeof h);
    if (h.len < sizeof h || h.len > len - at) return -1;
    if (h.level == SOL_SOCKET_ && h.type == SCM_RIGHTS_) {
      size_t count = (h.len - sizeof h) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        if (used == npassed) return -1;
        memcpy(control + at + sizeof h + i * sizeof(int), &passed[used++], sizeof(int));
      }
    }
    at += (h.len + 7) & ~(size_t)7;
  }
  return used == npassed ? 0 : -1;
}

struct sl_sockaddr_un {
  uint16_t family;
  char path[108];
};

/* Receives len bytes (one part of the request, whole: each was sent on its own) and the
 * descriptors that came with them, at most `room`; their count, or -1 (EOF, an error, a
 * part cut short: the descriptors that came are closed). */
static long recv_part(void *p, size_t len, int *fds, uint32_t room) {
  union {
    struct sl_cmsghdr h;
    uint8_t bytes[sizeof(struct sl_cmsghdr) + SENDER_PASSED_MAX * sizeof(int)];
  } c;
  memset(&c, 0, sizeof c);
  struct sl_iovec iov = {p, len};
  struct sl_msghdr m = {.iov = &iov, .iovlen = 1, .control = c.bytes, .controllen = sizeof c.bytes};
  long got = SL_RETRY(SC3(NR_recvmsg, SENDER_FD, &m, MSG_CMSG_CLOEXEC_));
  uint32_t n = 0;
  int came[SENDER_PASSED_MAX];
  if (got > 0 && m.controllen >= sizeof(struct sl_cmsghdr) && c.h.level == SOL_SOCKET_ && c.h.type == SCM_RIGHTS_) {
    n = (uint32_t)((c.h.len - sizeof(struct sl_cmsghdr)) / sizeof(int));
    if (n > SENDER_PASSED_MAX) n = SENDER_PASSED_MAX;
    memcpy(came, c.bytes + sizeof(struct sl_cmsghdr), n * sizeof(int));
  }
  if (got != (long)len || (m.flags & MSG_CTRUNC_) || n > room) {
    close_fds(came, n);
    return -1;
  }
  memcpy(fds, came, n * sizeof(int));
  return n;
}

static long serve(uint8_t *buf) {
  struct sl_send_request rq;
  /* [0]: the socket, [1..npassed]: what the message passes, then the pin. */
  int fds[SENDER_PASSED_MAX + 2];
  long first = recv_part(&rq, sizeof rq, fds, 2);
  if (first < 0) return -1; /* EOF: the supervising process is gone */
  uint32_t nfds = (uint32_t)first;
  uint32_t fixed = 1 + (rq.pinned ? 1u : 0u);
  if (rq.magic != SL_SEND_MAGIC || nfds != fixed || rq.npassed == 0 || rq.npassed > SENDER_PASSED_MAX || rq.namelen > SENDER_NAME_MAX ||
      rq.controllen > SENDER_CONTROL_MAX || rq.datalen > SENDER_DATA_MAX) {
    close_fds(fds, nfds);
    return -1;
  }
  int pinfd = rq.pinned ? fds[1] : -1;
  uint8_t byte;
  long passed = recv_part(&byte, 1, fds + 1, rq.npassed);
  if (passed != (long)rq.npassed) {
    close_fds(fds, 1);
    if (pinfd >= 0) SC1(NR_close, pinfd);
    return -1;
  }
  nfds = 1 + rq.npassed;
  if (pinfd >= 0) fds[nfds++] = pinfd;
  uint8_t *name = buf, *control = buf + SENDER_NAME_MAX, *data = control + SENDER_CONTROL_MAX;
  if (read_all(name, rq.namelen) < 0 || read_all(control, rq.controllen) < 0 || read_all(data, rq.datalen) < 0) {
    close_fds(fds, nfds);
    return -1;
  }
  long rc;
  struct sl_sockaddr_un pin;
  void *to = rq.namelen ? name : NULL;
  uint32_t tolen = rq.namelen;
  if (renumber(control, rq.controllen, fds + 1, rq.npassed) < 0) {
    rc = -EINVAL;
  } else {
    if (pinfd >= 0) {
      /* The destination the supervisor checked, by its pin here ("/proc/self/fd/N"). */
      memset(&pin, 0, sizeof pin);
      pin.family = AF_UNIX_FAMILY;
      sl_fmt_path(pin.path, "/proc/self/fd/", pinfd, "");
      to = &pin;
      tolen = (uint32_t)(2 + sl_strlen(pin.path) + 1);
    }
    struct sl_iovec div = {data, rq.datalen};
    struct sl_msghdr out = {.name = to, .namelen = tolen, .iov = &div, .iovlen = 1, .control = rq.controllen ? control : NULL, .controllen = rq.controllen};
    rc = set_nofile(rq.limit);
    if (rc == 0) {
      rc = SL_RETRY(SC3(NR_sendmsg, fds[0], &out, (rq.flags & ~MSG_CMSG_CLOEXEC_) | MSG_DONTWAIT_ | MSG_NOSIGNAL_));
      if (set_nofile(hard_nofile) < 0) rc = -EPERM;
    }
  }
  close_fds(fds, nfds);
  int32_t answer = rc < -4095 ? -EINVAL : (int32_t)rc;
  return SL_RETRY(SC3(NR_write, SENDER_FD, &answer, sizeof answer)) == (long)sizeof answer ? 0 : -1;
}

int sl_sender(void) {
  SC2(NR_prctl, PR_SET_DUMPABLE, 0);
  if (drop_exemptions() < 0) return 1;
  struct sl_rlimit r;
  if (SC4(NR_prlimit64, 0, RLIMIT_NOFILE, NULL, &r) < 0) return 1;
  if (r.max < hard_nofile) hard_nofile = r.max;
  if (set_nofile(hard_nofile) < 0) return 1;
  size_t size = SENDER_NAME_MAX + SENDER_CONTROL_MAX + SENDER_DATA_MAX;
  long buf = sl_syscall6(NR_mmap, 0, (long)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf < 0 && buf > -4096) return 1;
  while (serve((uint8_t *)buf) == 0) {
  }
  return 0;
}
