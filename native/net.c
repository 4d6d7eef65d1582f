/* The network supervisor's system calls: a duplicate of a sandboxed thread's socket, what
 * it is (domain, type, protocol, file flags), and connect and sendmsg performed on it, the
 * ones that may block on a dedicated thread. Decisions are TypeScript's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

/* Worker threads run one blocking connect or send; they need little stack. */
#define SL_NET_STACK (128 * 1024)

/* An optional Buffer argument: null/undefined gives (NULL, 0). */
static int opt_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  napi_valuetype t;
  *data = NULL;
  *len = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) return 0;
  return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

#define SL_ARG_OPT_BUFFER(env, i, ptr, len)                                                \
  void *ptr;                                                                               \
  size_t len;                                                                              \
  if (opt_buffer((env), argv[(i)], &ptr, &len) != 0) {                                     \
    napi_throw_type_error((env), "SL_ARGS", "argument " #i " must be a Buffer or null");   \
    return NULL;                                                                           \
  }

/* sockInfo(fd) -> [domain, type, protocol, fileFlags, inode], or -errno (ENOTSOCK for a
 * file). The inode names the socket whatever descriptor number refers to it. */
static napi_value sl_sock_info(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  int v[3];
  const int opts[3] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL};
  for (int i = 0; i < 3; i++) {
    socklen_t len = sizeof v[i];
    if (getsockopt(fd, SOL_SOCKET, opts[i], &v[i], &len) < 0) return sl_make_int(env, -errno);
  }
  int fl = fcntl(fd, F_GETFL);
  struct stat st;
  if (fl < 0 || fstat(fd, &st) < 0) return sl_make_int(env, -errno);
  napi_value arr;
  SL_CALL(env, napi_create_array_with_length(env, 5, &arr));
  const int64_t out[5] = {v[0], v[1], v[2], fl, (int64_t)st.st_ino};
  for (uint32_t i = 0; i < 5; i++) SL_CALL(env, napi_set_element(env, arr, i, sl_make_int(env, out[i])));
  return arr;
}

/* fileFlags(fd) -> the file status flags of a descriptor (fcntl F_GETFL, O_PATH included),
 * or -errno. Never from its fdinfo, whose text a sandbox can make long (an epoll file's
 * watches, an inotify file's, a file's locks), the kernel making it whole at each read. */
static napi_value sl_file_flags(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  int fl = fcntl(fd, F_GETFL);
  return sl_make_int(env, fl < 0 ? -errno : fl);
}

/* netBind(fd, addr) -> 0 or -errno: bind(2) of a socket duplicate with an address the
 * supervisor copied and checked (port remapping, src/supervise/handlers/port-remap.ts). */
static napi_value sl_net_bind(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_OPT_BUFFER(env, 1, addr, addrlen);
  if (addr == NULL) return sl_make_int(env, -EINVAL);
  return sl_make_int(env, bind(fd, (const struct sockaddr *)addr, (socklen_t)addrlen) < 0 ? -errno : 0);
}

/* udpSocket(domain, type, protocol, ranges) -> a descriptor or -errno: a UDP socket made
 * for a sandbox (src/supervise/handlers/net.ts), with a socket filter that drops every
 * datagram whose destination port is in none of the [lo, hi] pairs of the Buffer `ranges`
 * (u16 pairs, at most SL_UDP_RANGES_MAX), locked (SO_LOCK_FILTER: no process may detach or
 * replace it, the sandbox's included). At the filter a UDP socket's packet starts at its
 * UDP header (udp_queue_rcv_one_skb runs sk_filter_trim_cap once the IP header is pulled):
 * the destination port is the half-word at offset 2, for IPv4 and IPv6 alike. Each pair
 * is three instructions, every jump short (a jump's offset has 8 bits): below lo, skip to
 * the next pair; above hi, likewise; else accept the whole datagram. */
#define SL_UDP_RANGES_MAX 1024
static napi_value sl_udp_socket(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 4);
  SL_ARG_INT(env, 0, domain);
  SL_ARG_INT(env, 1, type);
  SL_ARG_INT(env, 2, protocol);
  SL_ARG_BUFFER(env, 3, ranges, len);
  size_t n = len / 4;
  if (n == 0 || n > SL_UDP_RANGES_MAX || len % 4 != 0) return sl_make_int(env, -EINVAL);
  uint16_t r[2 * SL_UDP_RANGES_MAX];
  memcpy(r, ranges, n * 4);
  struct sock_filter prog[3 * SL_UDP_RANGES_MAX + 2];
  size_t at = 0;
  prog[at++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2);
  for (size_t i = 0; i < n; i++) {
    prog[at++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, r[2 * i], 0, 2);
    prog[at++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, r[2 * i + 1], 1, 0);
    prog[at++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
  }
  prog[at++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog fprog = {.len = (unsigned short)at, .filter = prog};
  int fd = socket(domain, type, protocol);
  if (fd < 0) return sl_make_int(env, -errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) < 0 || setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return sl_make_int(env, -e);
  }
  return sl_make_int(env, fd);
}

/* netListen(fd, backlog) -> 0 or -errno: listen(2) of a socket duplicate the supervisor
 * looked at (an IP socket still on port 0 is refused before: src/supervise/handlers/net.ts). */
static napi_value sl_net_listen(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, backlog);
  return sl_make_int(env, listen(fd, backlog) < 0 ? -errno : 0);
}

/* netShutdown(fd, how) -> 0 or -errno: shutdown(2) of a socket duplicate (a listen the
 * kernel bound to a port of its own choosing is undone: src/supervise/handlers/net.ts). */
static napi_value sl_net_shutdown(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, how);
  return sl_make_int(env, shutdown(fd, how) < 0 ? -errno : 0);
}

/* netPortTaken(addr) -> 0, -EADDRINUSE or another -errno: bind(2) of a TCP socket of the
 * supervisor's own to the address, then closed. SO_REUSEADDR (a connection in TIME_WAIT
 * does not count), never SO_REUSEPORT (a listener counts whatever its options), IPv6 not
 * V6ONLY (an IPv4 listener on the port counts too). Port remapping asks it before binding
 * the sandbox's socket, whose options the sandbox controls (port-remap.ts). */
static napi_value sl_net_port_taken(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_OPT_BUFFER(env, 0, addr, addrlen);
  if (addr == NULL || addrlen < sizeof(sa_family_t)) return sl_make_int(env, -EINVAL);
  sa_family_t family;
  memcpy(&family, addr, sizeof family);
  int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return sl_make_int(env, -errno);
  int one = 1, zero = 0, rc = 0;
  if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      (family == AF_INET6 && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) ||
      bind(s, (const struct sockaddr *)addr, (socklen_t)addrlen) < 0)
    rc = -errno;
  close(s);
  return sl_make_int(env, rc);
}

/* netSockname(fd) -> the socket's own address (a Buffer, as getsockname(2) fills a
 * sockaddr_storage), or -errno. */
static napi_value sl_net_sockname(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return sl_make_int(env, -errno);
  napi_value out;
  SL_CALL(env, napi_create_buffer_copy(env, len < sizeof ss ? len : sizeof ss, &ss, NULL, &out));
  return out;
}

/* peerCred(fd) -> [pid, uid, gid] of the peer of a connected unix socket (SO_PEERCRED:
 * the process that connected, or for a client the one that listened), or -errno. The
 * registry of named sandboxes (src/registry) serves only its own user with it. */
static napi_value sl_peer_cred(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return sl_make_int(env, -errno);
  napi_value arr;
  SL_CALL(env, napi_create_array_with_length(env, 3, &arr));
  const int64_t out[3] = {cred.pid, cred.uid, cred.gid};
  for (uint32_t i = 0; i < 3; i++) SL_CALL(env, napi_set_element(env, arr, i, sl_make_int(env, out[i])));
  return arr;
}

/* unixListening(path) -> [pid, uid] of the process listening on the unix socket file at
 * path (a Buffer), -EAGAIN when it listens with its backlog full, or -errno (ECONNREFUSED:
 * nobody listens, a stale entry; ENOENT: none). A connect of its own, made and closed at
 * once, without waiting: the registry asks it holding its directory's lock, so that what
 * it finds cannot change before it acts on it (src/registry/lock.ts). */
static napi_value sl_unix_listening(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_BUFFER(env, 0, path, pathlen);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  if (pathlen == 0 || pathlen >= sizeof sun.sun_path || memchr(path, 0, pathlen) != NULL) return sl_make_int(env, -ENAMETOOLONG);
  memcpy(sun.sun_path, path, pathlen);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return sl_make_int(env, -errno);
  if (connect(s, (const struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pathlen + 1)) < 0) {
    int err = errno;
    close(s);
    return sl_make_int(env, -err);
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  int rc = getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ? -errno : 0;
  close(s);
  if (rc < 0) return sl_make_int(env, rc);
  napi_value arr;
  SL_CALL(env, napi_create_array_with_length(env, 2, &arr));
  SL_CALL(env, napi_set_element(env, arr, 0, sl_make_int(env, cred.pid)));
  SL_CALL(env, napi_set_element(env, arr, 1, sl_make_int(env, cred.uid)));
  return arr;
}

/* flockFd(fd, op) -> 0 or -errno: flock(2) (LOCK_SH 1, LOCK_EX 2, LOCK_NB 4, LOCK_UN 8).
 * The registry's directory lock, which the kernel drops when its holder dies. */
static napi_value sl_flock_fd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, op);
  return sl_make_int(env, flock(fd, op) < 0 ? -errno : 0);
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* threadGetfd(tid, targetfd) -> a close-on-exec duplicate of descriptor targetfd of thread
 * tid (its own descriptor table), or -errno. PIDFD_THREAD (Linux 6.9) names any thread; on
 * older kernels a plain pidfd names a thread-group leader only, and EINVAL tells the
 * caller to retry with the thread's group id. The caller re-checks the notification after
 * this, which proves tid was not recycled in between. */
static napi_value sl_thread_getfd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_INT(env, 1, targetfd);
  int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
  if (pidfd < 0 && errno == EINVAL) pidfd = (int)syscall(SYS_pidfd_open, tid, 0);
  if (pidfd < 0) return sl_make_int(env, -errno);
  long fd = syscall(SYS_pidfd_getfd, pidfd, targetfd, 0);
  int err = errno;
  close(pidfd);
  return sl_make_int(env, fd < 0 ? -err : fd);
}

/* threadPidfd(tid) -> a pidfd naming thread tid itself (PIDFD_THREAD, Linux 6.9; a signal
 * sent through it goes to that thread), or -errno: EINVAL on older kernels, where the
 * caller falls back to its thread group's pidfd. */
static napi_value sl_thread_pidfd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, tid);
  return sl_result(env, syscall(SYS_pidfd_open, tid, PIDFD_THREAD));
}

/* One operation on a socket, with private copies of every buffer (the JavaScript ones
 * may move or be collected while a worker thread uses them). */
struct net_job {
  int connect; /* 1: connect(name); 0: sendmsg(name, data, control) */
  int fd;
  int flags;
  int sender;     /* 1: a send with descriptors, made by the sender (native/sender.c) */
  int pin;        /* for the sender: the pinned destination (-1: the name as it is) */
  uint32_t limit; /* for the sender: the RLIMIT_NOFILE the send is made under */
  long rc;
  void *name, *data, *control;
  size_t namelen, datalen, controllen;
  napi_ref cb;               /* the callback, called on the event loop with rc */
  struct net_job *next;      /* the worker pool's queue */
};

static void job_free(struct net_job *j) {
  free(j->name);
  free(j->data);
  free(j->control);
  free(j);
}

static void *dup_bytes(const void *p, size_t n) {
  if (n == 0) return NULL;
  void *out = malloc(n);
  if (out != NULL) memcpy(out, p, n);
  return out;
}

static struct net_job *job_new(int is_connect, int fd, int flags, const void *name, size_t namelen, const void *data,
                               size_t datalen, const void *control, size_t controllen) {
  struct net_job *j = calloc(1, sizeof *j);
  if (j == NULL) return NULL;
  j->connect = is_connect;
  j->fd = fd;
  j->flags = flags;
  j->namelen = namelen;
  j->datalen = datalen;
  j->controllen = controllen;
  j->name = dup_bytes(name, namelen);
  j->data = dup_bytes(data, datalen);
  j->control = dup_bytes(control, controllen);
  if ((namelen && !j->name) || (datalen && !j->data) || (controllen && !j->control)) {
    job_free(j);
    return NULL;
  }
  return j;
}

/* A send with descriptors, made by the sender, which never waits. One that may wait (the
 * caller's socket blocks, no MSG_DONTWAIT: only on a worker thread) is tried again each
 * time the socket may have room (poll), or after a pause growing to 64 ms where poll cannot
 * tell (a datagram to a named peer whose queue is full), until it is made or fails, or the
 * socket's SO_SNDTIMEO passes (EAGAIN, as the kernel answers). */
static long sender_job(struct net_job *j) {
  int once = (j->flags & MSG_DONTWAIT) != 0;
  struct timeval tmo = {0, 0};
  socklen_t tlen = sizeof tmo;
  if (!once && getsockopt(j->fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, &tlen) < 0) tmo = (struct timeval){0, 0};
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long pause_ms = 1;
  for (;;) {
    long rc = sl_sender_send(j->fd, j->pin, j->limit, j->name, j->namelen, j->data, j->datalen, j->control, j->controllen, j->flags);
    if (rc != -EAGAIN || once) return rc;
    /* Waits for room without asking the sender again (a retry carries every descriptor
     * once more); the deadline looked at every 100 ms. */
    int waited = 0;
    for (;;) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long spent_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if ((tmo.tv_sec || tmo.tv_usec) && spent_ms >= tmo.tv_sec * 1000 + tmo.tv_usec / 1000) return rc;
      struct pollfd p = {j->fd, POLLOUT, 0};
      if (poll(&p, 1, 100) != 0) break;
      waited = 1;
    }
    if (waited) {
      pause_ms = 1;
    } else {
      /* poll saw room at once, yet there was none: it cannot tell (a datagram by name). */
      struct timespec nap = {0, pause_ms * 1000000};
      nanosleep(&nap, NULL);
      if (pause_ms < 64) pause_ms *= 2;
    }
  }
}

/* The system call itself. MSG_NOSIGNAL: a send must never raise SIGPIPE in Node. No EINTR
 * retry for connect: a restarted connect reports EALREADY. Worker threads block every
 * signal, so only the synchronous path can see EINTR, and it never blocks. */
static long job_run(struct net_job *j) {
  if (j->sender) return sender_job(j);
  long rc;
  if (j->connect) {
    rc = connect(j->fd, (struct sockaddr *)j->name, (socklen_t)j->namelen);
  } else {
    struct iovec iov = {.iov_base = j->data, .iov_len = j->datalen};
    struct msghdr m = {.msg_name = j->name, .msg_namelen = (socklen_t)j->namelen, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = j->control, .msg_controllen = j->controllen};
    do rc = sendmsg(j->fd, &m, j->flags | MSG_NOSIGNAL);
    while (rc < 0 && errno == EINTR);
  }
  return rc < 0 ? -errno : rc;
}

/* netConnect(fd, addr) -> 0 or -errno, on the calling thread: only for calls that cannot
 * block (datagram sockets: connect only sets the peer). */
static napi_value sl_net_connect(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_OPT_BUFFER(env, 1, addr, addrlen);
  struct net_job j = {.connect = 1, .fd = fd, .name = addr, .namelen = addrlen};
  return sl_make_int(env, job_run(&j));
}

/* netSendmsg(fd, name|null, data, control|null, flags) -> bytes sent or -errno, on the
 * calling thread: the caller passes MSG_DONTWAIT so that it cannot block. */
static napi_value sl_net_sendmsg(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 5);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_OPT_BUFFER(env, 1, name, namelen);
  SL_ARG_OPT_BUFFER(env, 2, data, datalen);
  SL_ARG_OPT_BUFFER(env, 3, control, controllen);
  SL_ARG_INT(env, 4, flags);
  struct net_job j = {.fd = fd, .flags = flags, .name = name, .namelen = namelen, .data = data, .datalen = datalen,
                      .control = control, .controllen = controllen};
  return sl_make_int(env, job_run(&j));
}

/* Worker threads run the calls that may block. They persist between calls (an idle one
 * exits after SL_NET_IDLE_S seconds), so a call costs a wake-up rather than a thread and a
 * threadsafe function: one threadsafe function carries every result back to the event loop.
 * Not libuv's pool: a connect to an address that never answers holds its thread for
 * minutes, and four of them would starve every fs and dns call of the Node process. A
 * thread is started whenever no idle one waits (TypeScript bounds the calls in flight per
 * sandbox). Bound to the first Node environment that uses it; others get a thread each. */
#define SL_NET_IDLE_S 30

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct net_job *head, *tail;
  int queued; /* jobs in the queue, not yet taken by a thread */
  int idle;   /* threads waiting for a job, including those woken but not yet running */
  napi_env env;
  napi_threadsafe_function tsfn;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, NULL, NULL};

/* On the event loop: the job's callback gets its result, then the job is freed. */
static void job_deliver(napi_env env, napi_value unused, void *context, void *data) {
  (void)unused;
  (void)context;
  struct net_job *j = data;
  if (env != NULL) {
    napi_value cb, undefined, arg, result;
    if (napi_get_reference_value(env, j->cb, &cb) == napi_ok && cb != NULL) {
      napi_get_undefined(env, &undefined);
      arg = sl_make_int(env, j->rc);
      napi_call_function(env, undefined, cb, 1, &arg, &result);
    }
    napi_delete_reference(env, j->cb);
  }
  job_free(j);
}

static void *pool_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (pool.head == NULL) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += SL_NET_IDLE_S;
      pool.idle++;
      int rc = pthread_cond_timedwait(&pool.cv, &pool.mu, &until);
      pool.idle--;
      if (rc == ETIMEDOUT && pool.head == NULL) {
        pthread_mutex_unlock(&pool.mu);
        return NULL;
      }
    }
    struct net_job *j = pool.head;
    pool.head = j->next;
    if (pool.head == NULL) pool.tail = NULL;
    pool.queued--;
    pthread_mutex_unlock(&pool.mu);
    j->rc = job_run(j);
    pthread_mutex_lock(&pool.mu);
    /* Under the lock: pool_teardown may release the function while this thread was in a
     * call that never returned before the process began to exit. The queue is unbounded,
     * so the call does not block. */
    if (pool.tsfn == NULL || napi_call_threadsafe_function(pool.tsfn, j, napi_tsfn_nonblocking) != napi_ok) job_free(j);
  }
}

/* A detached thread with every signal blocked and a small stack (also splice.c's). */
int sl_spawn_detached(void *(*fn)(void *), void *arg, size_t stack) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int err = pthread_create(&t, &attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return err;
}

/* The environment went away: workers must not call into it any more. They finish their
 * calls and free the jobs (napi_call_threadsafe_function fails once it is aborted). */
static void pool_teardown(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool.mu);
  if (pool.tsfn != NULL) napi_release_threadsafe_function(pool.tsfn, napi_tsfn_abort);
  pool.tsfn = NULL;
  pthread_mutex_unlock(&pool.mu);
}

/* Queues j for a worker (starting one when none is idle); cb(rc) follows on the event loop.
 * The callback does not keep the loop alive: a process whose sandboxes are gone may exit
 * with a connect still pending. */
static napi_value start_job(napi_env env, struct net_job *j, napi_value cb) {
  if (napi_create_reference(env, cb, 1, &j->cb) != napi_ok) {
    job_free(j);
    napi_throw_error(env, "SL_NAPI", "napi_create_reference failed");
    return NULL;
  }
  pthread_mutex_lock(&pool.mu);
  if (pool.env == NULL) {
    napi_value name;
    napi_create_string_utf8(env, "sandlock.net", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, job_deliver, &pool.tsfn) == napi_ok) {
      napi_unref_threadsafe_function(env, pool.tsfn);
      napi_add_env_cleanup_hook(env, pool_teardown, NULL);
      pool.env = env;
    }
  }
  if (pool.env != env || pool.tsfn == NULL) {
    pthread_mutex_unlock(&pool.mu);
    napi_delete_reference(env, j->cb);
    job_free(j);
    napi_throw_error(env, "SL_NAPI", "network worker pool: unavailable in this environment");
    return NULL;
  }
  j->next = NULL;
  if (pool.tail) pool.tail->next = j;
  else pool.head = j;
  pool.tail = j;
  pool.queued++;
  int err = 0;
  /* Every queued job must have a thread of its own coming: a call may block for minutes,
   * so a job left behind another sandbox's blocked calls would wait for them. An idle
   * thread counts once signalled until it takes a job, hence the comparison with every
   * job still queued rather than "is any thread idle". */
  if (pool.idle >= pool.queued) {
    pthread_cond_signal(&pool.cv);
  } else if ((err = sl_spawn_detached(pool_thread, NULL, SL_NET_STACK)) != 0) {
    /* No thread: take the job back; the call fails as the kernel's would (EAGAIN). */
    struct net_job **p = &pool.head;
    while (*p != j) p = &(*p)->next;
    *p = j->next;
    pool.tail = NULL;
    for (struct net_job *q = pool.head; q; q = q->next) pool.tail = q;
    pool.queued--;
  }
  pthread_mutex_unlock(&pool.mu);
  if (err != 0) {
    napi_delete_reference(env, j->cb);
    job_free(j);
    return sl_make_int(env, -err);
  }
  return sl_make_int(env, 0);
}

static int is_function(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_function;
}

/* netConnectAsync(fd, addr, cb) -> 0 (cb(rc) follows) or -errno (no thread; no callback). */
static napi_value sl_net_connect_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_OPT_BUFFER(env, 1, addr, addrlen);
  if (!is_function(env, argv[2])) {
    napi_throw_type_error(env, "SL_ARGS", "argument 2 must be a function");
    return NULL;
  }
  struct net_job *j = job_new(1, fd, 0, addr, addrlen, NULL, 0, NULL, 0);
  if (j == NULL) return sl_make_int(env, -ENOMEM);
  return start_job(env, j, argv[2]);
}

/* netSendmsgAsync(fd, name|null, data, control|null, flags, cb) -> 0 or -errno, as above. */
static napi_value sl_net_sendmsg_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 6);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_OPT_BUFFER(env, 1, name, namelen);
  SL_ARG_OPT_BUFFER(env, 2, data, datalen);
  SL_ARG_OPT_BUFFER(env, 3, control, controllen);
  SL_ARG_INT(env, 4, flags);
  if (!is_function(env, argv[5])) {
    napi_throw_type_error(env, "SL_ARGS", "argument 5 must be a function");
    return NULL;
  }
  struct net_job *j = job_new(0, fd, flags, name, namelen, data, datalen, control, controllen);
  if (j == NULL) return sl_make_int(env, -ENOMEM);
  return start_job(env, j, argv[5]);
}

/* The arguments of netSendRights and netSendRightsAsync as a job for the sender, its
 * buffers borrowed from the call's (job_new copies them for a worker); 0, or -1 with an
 * exception pending. */
static int sender_args(napi_env env, napi_value *argv, struct net_job *j) {
  int32_t fd, pin, flags;
  uint32_t limit;
  void *name, *data, *control;
  size_t namelen, datalen, controllen;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &pin) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &limit) != napi_ok || napi_get_value_int32(env, argv[6], &flags) != napi_ok ||
      opt_buffer(env, argv[3], &name, &namelen) != 0 || opt_buffer(env, argv[4], &data, &datalen) != 0 ||
      opt_buffer(env, argv[5], &control, &controllen) != 0) {
    napi_throw_type_error(env, "SL_ARGS", "expected (fd, pin, limit, name|null, data, control, flags)");
    return -1;
  }
  *j = (struct net_job){.fd = fd, .flags = flags, .sender = 1, .pin = pin, .limit = limit, .name = name, .namelen = namelen,
                        .data = data, .datalen = datalen, .control = control, .controllen = controllen};
  return 0;
}

/* netSendRights(fd, pin, limit, name|null, data, control, flags) -> bytes sent or -errno:
 * a send passing descriptors, made by the sender (native/sender.c) under RLIMIT_NOFILE
 * `limit`, to the pinned destination `pin` (-1: to `name`); on the calling thread, which
 * waits for the sender's answer (flags must hold MSG_DONTWAIT: one try). */
static napi_value sl_net_send_rights(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 7);
  struct net_job j;
  if (sender_args(env, argv, &j) < 0) return NULL;
  return sl_make_int(env, sender_job(&j));
}

/* netSendRightsAsync(fd, pin, limit, name|null, data, control, flags, cb) -> 0 (cb(rc)
 * follows) or -errno: the same on a worker thread, waiting as the caller's send would. */
static napi_value sl_net_send_rights_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 8);
  if (!is_function(env, argv[7])) {
    napi_throw_type_error(env, "SL_ARGS", "argument 7 must be a function");
    return NULL;
  }
  struct net_job b;
  if (sender_args(env, argv, &b) < 0) return NULL;
  struct net_job *j = job_new(0, b.fd, b.flags, b.name, b.namelen, b.data, b.datalen, b.control, b.controllen);
  if (j == NULL) return sl_make_int(env, -ENOMEM);
  j->sender = 1;
  j->pin = b.pin;
  j->limit = b.limit;
  return start_job(env, j, argv[7]);
}

void sl_net_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"threadGetfd", NULL, sl_thread_getfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threadPidfd", NULL, sl_thread_pidfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sockInfo", NULL, sl_sock_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fileFlags", NULL, sl_file_flags, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCred", NULL, sl_peer_cred, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unixListening", NULL, sl_unix_listening, NULL, NULL, NULL, napi_enumerable, NULL},
      {"flockFd", NULL, sl_flock_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netConnect", NULL, sl_net_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netBind", NULL, sl_net_bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSocket", NULL, sl_udp_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netSockname", NULL, sl_net_sockname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netListen", NULL, sl_net_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netShutdown", NULL, sl_net_shutdown, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netPortTaken", NULL, sl_net_port_taken, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netSendmsg", NULL, sl_net_sendmsg, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netConnectAsync", NULL, sl_net_connect_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netSendmsgAsync", NULL, sl_net_sendmsg_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netSendRights", NULL, sl_net_send_rights, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netSendRightsAsync", NULL, sl_net_send_rights_async, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  sl_net_host_register(env, exports);
  sl_sender_register(env, exports);
  sl_splice_register(env, exports);
}
