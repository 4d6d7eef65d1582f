/* maxMemory's growth calls answered in C from a credit TypeScript grants (memcredit.c). */
#ifndef SL_MEMCREDIT_H
#define SL_MEMCREDIT_H

#include <stdint.h>

struct sl_mem;

struct sl_mem *sl_mem_new(void);
void sl_mem_free(struct sl_mem *m);
/* 1 when the notification (mmap, mremap or brk) was answered here; 0: TypeScript's (a
 * growth call that was forwarded is counted until sl_mem_settle). */
int sl_mem_try(struct sl_mem *m, int listener, const void *notif);
/* TypeScript decided one forwarded growth call: once none is left undecided, `grant`
 * bytes (less what C allowed since the last grant) become the new credit. */
void sl_mem_settle(struct sl_mem *m, int64_t grant);
/* The credit is dropped (the watchdog's period, a thread allowed, a fallocate). */
void sl_mem_revoke(struct sl_mem *m);
/* Bytes C allowed since the last grant. */
uint64_t sl_mem_spent(struct sl_mem *m);

#endif
