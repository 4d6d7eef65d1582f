/* The filtering proxy's data path (src/proxy/session.ts): once a connection is checked,
 * the connect to its destination starts and a thread moves the bytes both ways with
 * splice(2) through a pipe per direction, never through JavaScript. Half-closes are passed on; a
 * write to an eventfd stops it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addon.h"

#define SL_SPLICE_STACK (64 * 1024)
#define SL_SPLICE_PIPE (1 << 20)

struct way {
  int from, to;
  int pipe[2];
  size_t pending; /* bytes in the pipe, not yet written to `to` */
  int eof;        /* `from` ended and `to` was shut down for writing */
  const char *head; /* bytes to write to `to` before anything else */
  size_t headlen;
};

struct splice_job {
  int a, b, stop;
  struct sockaddr_storage dest; /* where b connects */
  int connecting;               /* connect_start's answer, for the thread */
  socklen_t destlen;
  struct way ways[2];
  char *heads; /* the two head buffers, one allocation */
  int rc;
  napi_threadsafe_function tsfn;
};

static void job_close(struct splice_job *j) {
  for (int i = 0; i < 2; i++) {
    if (j->ways[i].pipe[0] >= 0) close(j->ways[i].pipe[0]);
    if (j->ways[i].pipe[1] >= 0) close(j->ways[i].pipe[1]);
  }
  if (j->a >= 0) close(j->a);
  if (j->b >= 0) close(j->b);
  free(j->heads);
}

/* One step of a direction; 0, or -errno when the connection is over. */
static int way_step(struct way *w, short from_ev, short to_ev) {
  if (w->headlen > 0) {
    if (!(to_ev & POLLOUT)) return 0;
    ssize_t n = send(w->to, w->head, w->headlen, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    w->head += n;
    w->headlen -= (size_t)n;
    return 0;
  }
  if (w->pending > 0) {
    if (!(to_ev & (POLLOUT | POLLERR | POLLHUP))) return 0;
    ssize_t n = splice(w->pipe[0], NULL, w->to, NULL, w->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    w->pending -= (size_t)n;
    return 0;
  }
  if (w->eof || !(from_ev & (POLLIN | POLLHUP | POLLERR))) return 0;
  ssize_t n = splice(w->from, NULL, w->pipe[1], NULL, SL_SPLICE_PIPE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n < 0) return errno == EAGAIN ? 0 : -errno;
  if (n == 0) {
    w->eof = 1;
    shutdown(w->to, SHUT_WR);
    return 0;
  }
  w->pending = (size_t)n;
  return 0;
}

/* Starts connecting b to the destination, on the caller's thread (the event loop, in the
 * same call that follows the check): the TCP handshake then runs while the splice thread
 * starts. 0 (connected), -EINPROGRESS, or -errno. */
static int connect_start(struct splice_job *j) {
  j->b = socket(j->dest.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (j->b < 0) return -errno;
  j->ways[0].to = j->ways[1].from = j->b;
  int one = 1;
  setsockopt(j->b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(j->a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return connect(j->b, (struct sockaddr *)&j->dest, j->destlen) == 0 ? 0 : -errno;
}

/* On the splice thread: waits for a connect under way, without blocking past the stop
 * switch; 0 or -errno. */
static int connect_finish(struct splice_job *j) {
  if (j->connecting != -EINPROGRESS) return j->connecting;
  for (;;) {
    struct pollfd p[2] = {{j->b, POLLOUT, 0}, {j->stop, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (p[1].revents) return -ECANCELED;
    if (p[0].revents) break;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(j->b, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return -err;
}

static void *splice_thread(void *arg) {
  struct splice_job *j = arg;
  int rc = connect_finish(j);
  if (rc != 0) {
    /* The destination refused: the client sees a reset, as from the server. */
    struct linger reset = {1, 0};
    setsockopt(j->a, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  for (; rc == 0;) {
    struct way *w0 = &j->ways[0], *w1 = &j->ways[1];
    if (w0->eof && w1->eof && w0->pending == 0 && w1->pending == 0) break;
    /* a: the client, b: the destination. Per socket: read when its outgoing way may read,
     * write when the way into it has bytes waiting. */
    short ea = 0, eb = 0;
    if (!w0->eof && w0->pending == 0 && w0->headlen == 0) ea |= POLLIN;
    if (w1->pending > 0 || w1->headlen > 0) ea |= POLLOUT;
    if (!w1->eof && w1->pending == 0 && w1->headlen == 0) eb |= POLLIN;
    if (w0->pending > 0 || w0->headlen > 0) eb |= POLLOUT;
    struct pollfd p[3] = {{j->a, ea, 0}, {j->b, eb, 0}, {j->stop, POLLIN, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      break;
    }
    if (p[2].revents) {
      rc = -ECANCELED;
      break;
    }
    /* poll reports errors and hang-ups whatever was asked: a reset ends the connection,
     * and so does a hang-up of a socket nothing more can be read from (else the loop
     * would spin). */
    if ((p[0].revents | p[1].revents) & POLLERR) {
      rc = -ECONNRESET;
      break;
    }
    if ((rc = way_step(w0, p[0].revents, p[1].revents)) != 0) break;
    if ((rc = way_step(w1, p[1].revents, p[0].revents)) != 0) break;
    if (((p[0].revents & POLLHUP) && w0->eof) || ((p[1].revents & POLLHUP) && w1->eof)) break;
  }
  j->rc = rc;
  job_close(j);
  /* j belongs to the event loop once called (splice_deliver frees it). */
  napi_threadsafe_function tsfn = j->tsfn;
  if (napi_call_threadsafe_function(tsfn, j, napi_tsfn_blocking) != napi_ok) free(j);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

static void splice_deliver(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  struct splice_job *j = data;
  if (env != NULL && cb != NULL) {
    napi_value undefined, arg, result;
    napi_get_undefined(env, &undefined);
    arg = sl_make_int(env, j->rc);
    napi_call_function(env, undefined, cb, 1, &arg, &result);
  }
  free(j);
}

/* spliceStart(a, dest, headToB, stopFd, cb) -> 0 (cb(rc) follows once both ways ended:
 * 0, or -errno) or -errno. On its thread: connects a new socket b to dest (a sockaddr),
 * writes headToB to it, then splices a and b. a is duplicated: the caller closes its own
 * descriptor when it likes. A write to stopFd (an eventfd the caller owns and closes
 * after cb) ends it early. */
static napi_value sl_splice_start(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 5);
  SL_ARG_INT(env, 0, a);
  SL_ARG_BUFFER(env, 1, dest, destlen);
  SL_ARG_BUFFER(env, 2, to_b, to_b_len);
  SL_ARG_INT(env, 3, stop);
  if (destlen < sizeof(struct sockaddr_in) || destlen > sizeof(struct sockaddr_storage)) {
    napi_throw_type_error(env, "SL_ARGS", "argument 1 must be a sockaddr");
    return NULL;
  }
  struct splice_job *j = calloc(1, sizeof *j);
  if (j == NULL) return sl_make_int(env, -ENOMEM);
  j->a = j->b = -1;
  for (int i = 0; i < 2; i++) j->ways[i].pipe[0] = j->ways[i].pipe[1] = -1;
  j->heads = malloc(to_b_len + 1);
  int err = 0;
  if (j->heads == NULL) err = ENOMEM;
  if (!err && (j->a = fcntl(a, F_DUPFD_CLOEXEC, 0)) < 0) err = errno;
  for (int i = 0; !err && i < 2; i++) {
    if (pipe2(j->ways[i].pipe, O_CLOEXEC | O_NONBLOCK) < 0) err = errno;
    else fcntl(j->ways[i].pipe[1], F_SETPIPE_SZ, SL_SPLICE_PIPE); /* best effort */
  }
  if (err) {
    job_close(j);
    free(j);
    return sl_make_int(env, -err);
  }
  memcpy(j->heads, to_b, to_b_len);
  memcpy(&j->dest, dest, destlen);
  j->destlen = (socklen_t)destlen;
  j->stop = stop;
  j->ways[0] = (struct way){j->a, -1, {j->ways[0].pipe[0], j->ways[0].pipe[1]}, 0, 0, j->heads, to_b_len};
  j->ways[1] = (struct way){-1, j->a, {j->ways[1].pipe[0], j->ways[1].pipe[1]}, 0, 0, NULL, 0};
  j->connecting = connect_start(j);
  napi_value name;
  napi_create_string_utf8(env, "sandlock.splice", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[4], NULL, name, 0, 1, NULL, NULL, NULL, splice_deliver, &j->tsfn) != napi_ok) {
    job_close(j);
    free(j);
    napi_throw_error(env, "SL_NAPI", "napi_create_threadsafe_function failed");
    return NULL;
  }
  /* The proxy's connections never keep the process alive on their own. */
  napi_unref_threadsafe_function(env, j->tsfn);
  err = sl_spawn_detached(splice_thread, j, SL_SPLICE_STACK);
  if (err) {
    napi_release_threadsafe_function(j->tsfn, napi_tsfn_abort);
    job_close(j);
    free(j);
    return sl_make_int(env, -err);
  }
  return sl_make_int(env, 0);
}

/* eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK): the stop switch of a splice. */
static napi_value sl_splice_stopper(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return sl_make_int(env, fd < 0 ? -errno : fd);
}

void sl_splice_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spliceStart", NULL, sl_splice_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceStopper", NULL, sl_splice_stopper, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
