/* maxProcesses' forks (fork, vfork, clone without CLONE_THREAD), and the thread cap's thread
 * clones where no memory cap charges them, answered on the listener's receiving thread from
 * credits that TypeScript grants and C spends (docs/supervision.md, "Forks in C";
 * src/supervise/handlers/processes.ts and threads.ts keep the counts; the two credits work
 * alike, each under the same lock).
 *
 * TypeScript counts as before: an allowed fork adds one; at the limit the launcher counts
 * the live processes, plus the forks whose caller may still be inside the call. After each
 * decision it grants the room left (the limit less its count) as a credit, and forks within
 * it are continued here without waking the event loop (one such wake-up cost a fork about
 * 90 us on these VMs). Each fork continued here is recorded with its caller's thread id,
 * and TypeScript takes the records before it decides anything (the take ends the credit,
 * under the lock), so its count and its list of forks under way are exact whenever it
 * reads them: every fork is counted once, by one side, before the next decision.
 *
 * The answer rests on the syscall number and clone's flags register alone, never on the
 * caller's memory, so CONTINUE is race-free (DESIGN 6). clone3 is not trapped (its flags
 * are in memory; the filter makes it fail so that libc falls back to clone).
 *
 * The third credit is the epoll watch budget's (handlers/epoll.ts): the filter routes
 * epoll_ctl(EPOLL_CTL_ADD) only (the op is a register), and an add within the credit is
 * continued here; TypeScript counts the adds taken and recounts the sandbox's watches near
 * its budget.
 *
 * The fourth is the pipe budget's pipes (pipe, pipe2: handlers/pipes.ts), alike. The fifth
 * kind is no credit: the threads TypeScript has counted as having their splice pipe (a
 * thread's first sendfile or copy_file_range makes it), whose later such calls need no
 * decision; C keeps their ids and continues their calls. A thread id that outlives its
 * thread stays known until TypeScript prunes its list and has C forget them all: a new
 * thread given that id is then let through uncounted, but only in the slot the dead one
 * still holds in the count. */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "proccredit.h"

#define NR_CLONE 56
#define NR_FORK 57
#define NR_VFORK 58
#define NR_EPOLL_CTL 233
#define NR_PIPE 22
#define NR_PIPE2 293
#define NR_SENDFILE 40
#define NR_COPY_FILE_RANGE 326
#define CLONE_THREAD_ 0x00010000u

/* One credit: of processes (0), of threads (1) or of epoll watches (2). */
struct sl_pool {
  uint32_t credit;                        /* calls that may still be continued here */
  uint32_t spent;                         /* continued since the last take */
  int32_t taken[2 * SL_PROCS_CREDIT_MAX]; /* their (thread id, syscall number) pairs */
};

struct sl_procs {
  pthread_mutex_t mu;
  int kinds; /* SL_PROCS_PROCESSES ... SL_PROCS_SPLICE */
  struct sl_pool pool[SL_PROCS_KINDS];
  uint32_t nknown; /* the splice kind's threads */
  int32_t known[SL_SPLICE_KNOWN];
};

/* Whether thread tid is one the splice kind knows (under the lock). */
static int known_tid(const struct sl_procs *p, int32_t tid) {
  for (uint32_t i = 0; i < p->nknown; i++)
    if (p->known[i] == tid) return 1;
  return 0;
}

struct sl_procs *sl_procs_new(int kinds) {
  struct sl_procs *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  pthread_mutex_init(&p->mu, NULL);
  p->kinds = kinds;
  return p;
}

void sl_procs_free(struct sl_procs *p) {
  if (p == NULL) return;
  pthread_mutex_destroy(&p->mu);
  free(p);
}

int sl_procs_try(struct sl_procs *p, int listener, const void *notif) {
  const struct seccomp_notif *n = notif;
  int kind;
  if (n->data.nr == NR_EPOLL_CTL) kind = 2;
  else if (n->data.nr == NR_PIPE || n->data.nr == NR_PIPE2) kind = 3;
  else if (n->data.nr == NR_SENDFILE || n->data.nr == NR_COPY_FILE_RANGE) {
    if ((p->kinds & SL_PROCS_SPLICE) == 0) return 0;
    pthread_mutex_lock(&p->mu);
    int go = known_tid(p, (int32_t)n->pid);
    pthread_mutex_unlock(&p->mu);
    if (!go) return 0;
    struct seccomp_notif_resp r = {.id = n->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
    return 1;
  } else if (n->data.nr != NR_FORK && n->data.nr != NR_VFORK && n->data.nr != NR_CLONE) return 0;
  /* A thread is the thread cap's (handlers/threads.ts), counted apart. */
  else kind = n->data.nr == NR_CLONE && ((uint32_t)n->data.args[0] & CLONE_THREAD_) != 0 ? 1 : 0;
  if ((p->kinds & (1 << kind)) == 0) return 0;
  struct sl_pool *c = &p->pool[kind];
  pthread_mutex_lock(&p->mu);
  int go = c->credit > 0 && c->spent < SL_PROCS_CREDIT_MAX;
  if (go) {
    c->credit--;
    c->taken[2 * c->spent] = (int32_t)n->pid;
    c->taken[2 * c->spent + 1] = (int32_t)n->data.nr;
    c->spent++;
  }
  pthread_mutex_unlock(&p->mu);
  if (!go) return 0;
  struct seccomp_notif_resp r = {.id = n->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
  return 1;
}

void sl_procs_grant(struct sl_procs *p, int kind, uint32_t n) {
  if (kind < 0 || kind >= SL_PROCS_KINDS) return;
  pthread_mutex_lock(&p->mu);
  if (kind == 4) {
    if (n == 0) p->nknown = 0;
    else if (p->nknown < SL_SPLICE_KNOWN && !known_tid(p, (int32_t)n)) p->known[p->nknown++] = (int32_t)n;
  } else {
    p->pool[kind].credit = n > SL_PROCS_CREDIT_MAX ? SL_PROCS_CREDIT_MAX : n;
  }
  pthread_mutex_unlock(&p->mu);
}

uint32_t sl_procs_take(struct sl_procs *p, int kind, int32_t *out, uint32_t cap) {
  if (kind < 0 || kind >= SL_PROCS_KINDS) return 0;
  struct sl_pool *c = &p->pool[kind];
  pthread_mutex_lock(&p->mu);
  uint32_t n = c->spent < cap ? c->spent : cap;
  memcpy(out, c->taken, (size_t)n * 2 * sizeof *out);
  c->credit = 0;
  c->spent = 0;
  pthread_mutex_unlock(&p->mu);
  return n;
}
