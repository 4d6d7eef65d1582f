/* The supervisor's fast path (fastpath.c): notifications answered in C, no JavaScript. */
#ifndef SL_FASTPATH_H
#define SL_FASTPATH_H

#include <stddef.h>
#include <stdint.h>

struct sl_fast;

struct sl_fast *sl_fast_new(const char *const *trees, size_t ntrees, const char *const *exacts, size_t nexacts,
                            const uint64_t *procdevs, size_t nprocdevs, int opens, int getdents, int memory, int procs);
/* The memory credit (memcredit.c) when made with memory set, else NULL. */
struct sl_mem *sl_fast_mem(struct sl_fast *f);
/* The fork credits (proccredit.c) when made with procs set (SL_PROCS_* kinds), else NULL. */
struct sl_procs *sl_fast_procs(struct sl_fast *f);
void sl_fast_free(struct sl_fast *f);
/* 1 when the notification (a struct seccomp_notif) was answered here; 0: TypeScript's. */
int sl_fast_try(struct sl_fast *f, int listener, const void *notif);
/* Notifications answered here, and the time spent on them (receive to answer). */
void sl_fast_stats(const struct sl_fast *f, uint64_t *answered, uint64_t *ns);
void sl_fast_add_ns(struct sl_fast *f, uint64_t ns);

#endif
