/* maxProcesses: forks answered in C from a credit TypeScript grants (proccredit.c). */
#ifndef SL_PROCCREDIT_H
#define SL_PROCCREDIT_H

#include <stdint.h>

/* The most forks one grant lets C continue (handlers/processes.ts grants at most this). */
#define SL_PROCS_CREDIT_MAX 256

struct sl_procs;

struct sl_procs *sl_procs_new(void);
void sl_procs_free(struct sl_procs *p);
/* 1 when the notification (fork, vfork, or clone without CLONE_THREAD) was continued here
 * within the credit; 0: TypeScript's. */
int sl_procs_try(struct sl_procs *p, int listener, const void *notif);
/* The credit becomes `n` forks (at most SL_PROCS_CREDIT_MAX). */
void sl_procs_grant(struct sl_procs *p, uint32_t n);
/* Ends the credit and hands over the forks continued since the last take: writes up to
 * `cap` pairs (caller's thread id, syscall number) into `out` and returns how many. */
uint32_t sl_procs_take(struct sl_procs *p, int32_t *out, uint32_t cap);

#endif
