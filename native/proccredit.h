/* maxProcesses: forks answered in C from a credit TypeScript grants (proccredit.c); the
 * epoll watch budget's EPOLL_CTL_ADDs the same way. */
#ifndef SL_PROCCREDIT_H
#define SL_PROCCREDIT_H

#include <stdint.h>

/* The most forks one grant lets C continue (handlers/processes.ts grants at most this). */
#define SL_PROCS_CREDIT_MAX 256

#define SL_PROCS_PROCESSES 1 /* fork, vfork, clone without CLONE_THREAD */
#define SL_PROCS_THREADS 2   /* clone with CLONE_THREAD */
#define SL_PROCS_EPOLL 4     /* epoll_ctl (the filter routes EPOLL_CTL_ADD only) */
#define SL_PROCS_PIPES 8     /* pipe, pipe2 (the pipe budget: handlers/pipes.ts) */
#define SL_PROCS_SPLICE 16   /* sendfile, copy_file_range from a thread known to have its splice pipe */
#define SL_PROCS_KINDS 5
/* Threads the splice kind knows (past them TypeScript answers). */
#define SL_SPLICE_KNOWN 1024

struct sl_procs;

/* `kinds`: which of the credits exist (a call of another kind goes to TypeScript). */
struct sl_procs *sl_procs_new(int kinds);
void sl_procs_free(struct sl_procs *p);
/* 1 when the notification (fork, vfork, clone or epoll_ctl) was continued here within its
 * kind's credit; 0: TypeScript's. */
int sl_procs_try(struct sl_procs *p, int listener, const void *notif);
/* Kind 0 (processes), 1 (threads), 2 (epoll watches) or 3 (pipes): the credit becomes `n`
 * calls (at most SL_PROCS_CREDIT_MAX). Kind 4 (splice) has no credit: `n` is a thread id
 * whose calls C continues from now on (0 forgets every one). */
void sl_procs_grant(struct sl_procs *p, int kind, uint32_t n);
/* Ends that credit and hands over the calls continued since its last take: writes up to
 * `cap` pairs (caller's thread id, syscall number) into `out` and returns how many. */
uint32_t sl_procs_take(struct sl_procs *p, int kind, int32_t *out, uint32_t cap);

#endif
