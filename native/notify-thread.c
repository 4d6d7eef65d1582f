/* A receiving thread for one seccomp listener at a time (kept in a small pool between
 * sandboxes, see struct sl_worker). Blocked in SECCOMP_IOCTL_NOTIF_RECV (in poll() before
 * Linux 6.11, see serve()), it takes each notification the moment it is made, answers
 * those the fast path can (fastpath.c) and queues the others for the event loop, which it
 * wakes with a uv_async handle.
 *
 * Why a thread: a trapped call can be interrupted by a signal until the supervisor has
 * received it (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV protects it only from then on). An
 * interrupted fork or mmap, which the kernel never fails with EINTR, then does: dash's
 * pipelines failed with "Cannot fork" in 17 of 30 runs on a loaded machine, because the
 * event loop received the fork only after the first child's SIGCHLD had arrived. The
 * kernel wakes a thread polling the listener itself on the caller's CPU
 * (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP), which epoll in the event loop does not pass on,
 * so the thread receives within microseconds whatever else the process is doing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "fastpath.h"
#include "notify-thread.h"

/* How much nicer than the sandbox the receiving thread runs (see worker_main); the same
 * figure as RECEIVER_RAISE in src/supervise/priority.ts. 1 was not enough on this VM
 * (129 of 600 forks interrupted), 5 was (none). */
#define SL_RECEIVER_RAISE 5

struct sl_recv_thread {
  int listener;
  int stopfd;
  struct sl_fast *fast;
  uv_async_t async;
  sl_deliver_fn deliver;
  void *arg;
  pthread_mutex_t mu;
  struct seccomp_notif *queue; /* notifications for TypeScript, in order */
  size_t queued, cap;
  int ended;   /* no task uses the filter any more, or the receive failed */
  int failure; /* -errno of a failed receive, 0 otherwise */
  int closing; /* set under mu: from then on the thread wakes the event loop no more */
  _Atomic int stopping; /* set by stop() before it writes stopfd (read without mu) */
  void (*closed)(void *);
  void *closed_arg;
  /* Set by the thread as the very last thing it does with this structure; the event
   * loop frees it (and releases what the thread used: the fast path's state) only then. */
  _Atomic int done;
  struct sl_recv_thread *next_zombie;
};

/* Stopped listeners whose structure waits for their worker's `done` (event loop only). */
static struct sl_recv_thread *zombies;

/* Woken by a worker once it is done with a listener, so that what that listener held (its
 * eventfd, the fast path's state) is freed at once, not at some later start. Static: a
 * worker may send to it whatever became of the listener; unreferenced, it never keeps the
 * event loop alive; closed with the environment (sl_recv_threads_shutdown). */
static uv_async_t reaper;
static int reaper_open; /* event loop only */
static void sweep(void);
static void reaped(uv_async_t *a) {
  (void)a;
  sweep();
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Queues a notification and/or the end for the event loop. 0, or -1 out of memory. */
static int enqueue(struct sl_recv_thread *t, const struct seccomp_notif *n, int ended, int failure) {
  int rc = 0;
  pthread_mutex_lock(&t->mu);
  if (n != NULL) {
    if (t->queued == t->cap) {
      size_t cap = t->cap ? t->cap * 2 : 16;
      struct seccomp_notif *q = realloc(t->queue, cap * sizeof *q);
      if (q == NULL) rc = -1;
      else {
        t->queue = q;
        t->cap = cap;
      }
    }
    if (rc == 0) t->queue[t->queued++] = *n;
  }
  if (ended) {
    t->ended = 1;
    t->failure = failure;
  }
  int closing = t->closing;
  pthread_mutex_unlock(&t->mu);
  /* Outside the lock (the event loop takes it to empty the queue: a send under it made the
   * loop wait for the worker, and the worker wake it again, slowing the next receive). A
   * send racing stop()'s uv_close is harmless: the handle's memory lives until this worker
   * is done, and a closed async handle ignores sends. */
  if (rc == 0 && !closing) uv_async_send(&t->async);
  return rc;
}

static void serve(struct sl_recv_thread *t);

/* A receiving thread serves one listener at a time and then waits in a pool for the next
 * sandbox's (a thread made and ended per start cost a clone, a kernel stack and an exit
 * each time). Idle workers beyond SL_IDLE_KEPT end. */
struct sl_worker {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct sl_recv_thread *job; /* under mu */
  struct sl_worker *next_idle;
};
#define SL_IDLE_KEPT 4
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sl_worker *idle_workers; /* under pool_mu */
static int idle_count;                 /* under pool_mu */

/* The worker owns a duplicate of each listener it serves (taken by start()), so the number
 * it polls and receives on can never be closed and reused for another sandbox's listener
 * while it still serves: it closes the duplicate itself, then says it is done. */
static void *worker_main(void *arg) {
  struct sl_worker *w = arg;
  /* Named, so ps -T, top -H and /proc/PID/task show which of Node's threads are these
   * (listener-routing.test counts the pool by it). */
  prctl(PR_SET_NAME, "sandlock-recv", 0, 0, 0);
  /* Ahead of the sandbox on the CPU: woken by a trapped call, this thread must run before
   * another sandboxed process can send the caller a signal (a child's SIGCHLD). Raising
   * itself needs CAP_SYS_NICE (root); otherwise the plan lowers the sandbox instead
   * (supervise/priority.ts), by the same RAISE_BY. */
  id_t tid = (id_t)syscall(SYS_gettid);
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, tid);
  if (errno == 0) setpriority(PRIO_PROCESS, tid, nice - SL_RECEIVER_RAISE);
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (w->job == NULL) pthread_cond_wait(&w->cv, &w->mu);
    struct sl_recv_thread *t = w->job;
    w->job = NULL;
    pthread_mutex_unlock(&w->mu);
    serve(t);
    close(t->listener);
    pthread_mutex_lock(&pool_mu);
    int keep = idle_count < SL_IDLE_KEPT;
    if (keep) {
      w->next_idle = idle_workers;
      idle_workers = w;
      idle_count++;
    }
    pthread_mutex_unlock(&pool_mu);
    /* The last access to t: the event loop may free it from here on. */
    atomic_store_explicit(&t->done, 1, memory_order_release);
    uv_async_send(&reaper); /* after a close (shutdown), a no-op: the handle is static */
    if (!keep) {
      pthread_cond_destroy(&w->cv);
      pthread_mutex_destroy(&w->mu);
      free(w);
      return NULL;
    }
  }
}

/* A forked child (the zygote's clones, native/fork.c) has none of its parent's threads:
 * it must not hand a listener to a worker that exists only in the parent. */
static void pool_forget(void) {
  pthread_mutex_init(&pool_mu, NULL);
  idle_workers = NULL;
  idle_count = 0;
}

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_init(void) {
  pthread_atfork(NULL, NULL, pool_forget);
}

/* Hands t to an idle worker, or to a new one: 0, or -1 when no thread could be made. */
static int assign(struct sl_recv_thread *t) {
  pthread_once(&pool_once, pool_init);
  pthread_mutex_lock(&pool_mu);
  struct sl_worker *w = idle_workers;
  if (w != NULL) {
    idle_workers = w->next_idle;
    idle_count--;
  }
  pthread_mutex_unlock(&pool_mu);
  if (w != NULL) {
    pthread_mutex_lock(&w->mu);
    w->job = t;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
  }
  w = calloc(1, sizeof *w);
  if (w == NULL) return -1;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->job = t;
  /* Detached: nobody joins it; it ends itself when the pool is full. */
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&thread, &attr, worker_main, w);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return -1;
  }
  return 0;
}

/* Whether a blocked SECCOMP_IOCTL_NOTIF_RECV returns by itself once no task uses the filter
 * any more (ENOENT, and POLLHUP from then on). Linux 6.11 added that (commit 95036a79e7b5,
 * "seccomp: interrupt SECCOMP_IOCTL_NOTIF_RECV when all users have exited"; the kernel's
 * own selftest gates on 6.11 too). Before it such a RECV stays blocked for good, so there
 * the thread must poll the listener and its stop eventfd before each receive. */
static int recv_ends_alone;
static pthread_once_t recv_once = PTHREAD_ONCE_INIT;
static void recv_probe(void) {
  struct utsname u;
  unsigned major = 0, minor = 0;
  if (uname(&u) == 0) {
    const char *r = u.release;
    while (*r >= '0' && *r <= '9') major = major * 10 + (unsigned)(*r++ - '0');
    if (*r++ == '.')
      while (*r >= '0' && *r <= '9') minor = minor * 10 + (unsigned)(*r++ - '0');
  }
  recv_ends_alone = major > 6 || (major == 6 && minor >= 11);
}

/* The end of this listener's service, seen after a receive found nothing: the last task
 * gone (HUP) or a stop. 1: leave (the end is queued when it is the sandbox's). */
static int ended_now(struct sl_recv_thread *t) {
  struct pollfd p[2] = {{.fd = t->listener, .events = POLLIN}, {.fd = t->stopfd, .events = POLLIN}};
  if (poll(p, 2, 0) < 0) return 0;
  if (p[1].revents) return 1;
  if ((p[0].revents & POLLHUP) && !(p[0].revents & POLLIN)) {
    enqueue(t, NULL, 1, 0);
    return 1;
  }
  return 0;
}

/* Two ways to wait, one per kernel (recv_probe):
 * - direct: blocked in RECV itself, as a plain C supervisor is. A round trip then costs one
 *   syscall of the supervisor's fewer (poll + RECV before): about 10% of a trapped call's
 *   wall time with 50 sandboxes trapping at once (bench/scale.ts, docs/supervision.md).
 *   The end of the sandbox ends the RECV (ENOENT with HUP). A stop while the sandbox still
 *   runs (only at the environment's teardown: the Sandbox closes its supervisor after the
 *   launcher's exit, when every task is gone) is seen at the next notification, which gets
 *   ENOSYS, the kernel's own answer once a filter's listener is closed, or at the end.
 * - polled (before 6.11): poll on the listener and the stop eventfd, then RECV. */
static void serve(struct sl_recv_thread *t) {
  pthread_once(&recv_once, recv_probe);
  int direct = recv_ends_alone;
  struct pollfd p[2] = {{.fd = t->listener, .events = POLLIN}, {.fd = t->stopfd, .events = POLLIN}};
  for (;;) {
    if (!direct) {
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        enqueue(t, NULL, 1, -errno);
        return;
      }
      if (p[1].revents) return; /* the event loop closes the supervisor */
      if ((p[0].revents & POLLIN) == 0) {
        enqueue(t, NULL, 1, 0); /* HUP alone: no task uses the filter any more */
        return;
      }
    } else if (atomic_load_explicit(&t->stopping, memory_order_acquire)) {
      return;
    }
    uint64_t t0 = now_ns();
    struct seccomp_notif n;
    memset(&n, 0, sizeof n);
    if (ioctl(t->listener, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) {
      /* ENOENT: the caller died or was interrupted before we got to it, or (direct) no
       * task uses the filter any more; EINTR: again. */
      if (errno == EINTR) continue;
      if (errno == ENOENT) {
        if (direct && ended_now(t)) return;
        continue;
      }
      enqueue(t, NULL, 1, -errno);
      return;
    }
    if (direct && atomic_load_explicit(&t->stopping, memory_order_acquire)) {
      /* Stopped while blocked: nobody decides this call any more. */
      struct seccomp_notif_resp r = {.id = n.id, .error = -ENOSYS};
      ioctl(t->listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
      return;
    }
    if (t->fast != NULL && sl_fast_try(t->fast, t->listener, &n)) {
      sl_fast_add_ns(t->fast, now_ns() - t0);
      continue;
    }
    if (enqueue(t, &n, 0, 0) < 0) {
      /* Out of memory for the queue: this call fails closed. */
      struct seccomp_notif_resp r = {.id = n.id, .error = -ENOMEM};
      ioctl(t->listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
    }
  }
}

/* How long one wake-up of the event loop delivers a listener's notifications before it
 * lets the loop turn (timers, immediates, other handles) and asks to be woken again. The
 * queue refills while its notifications are handled: draining it until empty let a
 * sandbox whose processes trap calls back to back hold the whole event loop (8 processes
 * opening a supervised /proc file in a loop: no timer ran for 3 s). */
#define SL_DELIVER_NS 2000000ull

static void on_async(uv_async_t *a) {
  struct sl_recv_thread *t = a->data;
  uint64_t t0 = now_ns();
  while (!t->closing) {
    if (now_ns() - t0 >= SL_DELIVER_NS) {
      /* More may be queued: woken again on the loop's next turn (a send from the loop's
       * own thread is allowed; sends before the callback runs coalesce into one). */
      uv_async_send(a);
      return;
    }
    pthread_mutex_lock(&t->mu);
    size_t n = t->queued;
    struct seccomp_notif *batch = t->queue;
    t->queue = NULL;
    t->queued = t->cap = 0;
    int ended = t->ended, failure = t->failure;
    t->ended = 0;
    pthread_mutex_unlock(&t->mu);
    for (size_t i = 0; i < n && !t->closing; i++) t->deliver(t->arg, &batch[i], 0, 0);
    free(batch);
    if (ended && !t->closing) t->deliver(t->arg, NULL, 1, failure);
    if (n == 0) return;
  }
}

/* Frees every stopped thread's structure whose thread is done with it (event loop only).
 * A thread still finishing stays listed until a later start or stop looks again. */
static void sweep(void) {
  struct sl_recv_thread **link = &zombies;
  while (*link != NULL) {
    struct sl_recv_thread *t = *link;
    if (!atomic_load_explicit(&t->done, memory_order_acquire)) {
      link = &t->next_zombie;
      continue;
    }
    *link = t->next_zombie;
    close(t->stopfd);
    free(t->queue);
    pthread_mutex_destroy(&t->mu);
    void (*closed)(void *) = t->closed;
    void *closed_arg = t->closed_arg;
    free(t);
    if (closed) closed(closed_arg);
  }
}

struct sl_recv_thread *sl_recv_thread_start(uv_loop_t *loop, int listener, struct sl_fast *fast, sl_deliver_fn deliver, void *arg) {
  if (!reaper_open) {
    if (uv_async_init(loop, &reaper, reaped) != 0) return NULL;
    uv_unref((uv_handle_t *)&reaper);
    reaper_open = 1;
  }
  sweep();
  struct sl_recv_thread *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->listener = fcntl(listener, F_DUPFD_CLOEXEC, 0);
  if (t->listener < 0) {
    free(t);
    return NULL;
  }
  t->fast = fast;
  t->deliver = deliver;
  t->arg = arg;
  t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (t->stopfd < 0) {
    close(t->listener);
    free(t);
    return NULL;
  }
  pthread_mutex_init(&t->mu, NULL);
  if (uv_async_init(loop, &t->async, on_async) != 0) {
    close(t->stopfd);
    close(t->listener);
    pthread_mutex_destroy(&t->mu);
    free(t);
    return NULL;
  }
  t->async.data = t;
  /* The event loop frees the structure once the worker's `done` says so. */
  if (assign(t) != 0) {
    /* The handle must outlive its close: this rare failure leaks it. */
    t->closing = 1;
    close(t->stopfd);
    close(t->listener);
    uv_close((uv_handle_t *)&t->async, NULL);
    return NULL;
  }
  return t;
}

void sl_recv_thread_ref(struct sl_recv_thread *t, int ref) {
  if (ref) uv_ref((uv_handle_t *)&t->async);
  else uv_unref((uv_handle_t *)&t->async);
}

static void async_closed(uv_handle_t *h) {
  struct sl_recv_thread *t = h->data;
  t->next_zombie = zombies;
  zombies = t;
  sweep();
}

/* Without waiting for the thread (a join cost each supervised run 0.1-0.2 ms, a wake-up
 * of the other CPU): from here on it stops waking the event loop (closing, read under its
 * lock; a send racing this close is ignored), it stops at the eventfd, and it never
 * touches the listener's number, only its own duplicate. What it still uses (this structure, the fast path's state, released by
 * closed()) is freed once it is done. */
void sl_recv_thread_stop(struct sl_recv_thread *t, void (*closed)(void *), void *arg) {
  pthread_mutex_lock(&t->mu);
  t->closing = 1;
  pthread_mutex_unlock(&t->mu);
  t->closed = closed;
  t->closed_arg = arg;
  atomic_store_explicit(&t->stopping, 1, memory_order_release);
  uint64_t one = 1;
  ssize_t w = write(t->stopfd, &one, sizeof one); /* an eventfd takes it: the thread wakes */
  (void)w;
  uv_close((uv_handle_t *)&t->async, async_closed);
}

void sl_recv_threads_shutdown(void) {
  if (!reaper_open) return;
  reaper_open = 0;
  uv_close((uv_handle_t *)&reaper, NULL);
}
