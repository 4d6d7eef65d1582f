/* A receiving thread per seccomp listener (notify-thread.c). */
#ifndef SL_NOTIFY_THREAD_H
#define SL_NOTIFY_THREAD_H

#include <uv.h>

struct sl_fast;
struct sl_recv_thread;

/* On the event loop: a notification the fast path left (ended 0), or the end (notif NULL,
 * ended 1, failure 0 when no task uses the filter any more, else -errno of the receive). */
typedef void (*sl_deliver_fn)(void *arg, const void *notif, int ended, int failure);

struct sl_recv_thread *sl_recv_thread_start(uv_loop_t *loop, int listener, struct sl_fast *fast, sl_deliver_fn deliver, void *arg);
void sl_recv_thread_ref(struct sl_recv_thread *t, int ref);
/* Stops the thread without waiting for it and closes its handle; closed(arg) runs on the
 * event loop once the thread is done with everything it used (maybe at a later start). */
void sl_recv_thread_stop(struct sl_recv_thread *t, void (*closed)(void *), void *arg);

/* With the environment: closes the handle workers wake when they are done (they may still
 * send to it; a closed async handle ignores that). */
void sl_recv_threads_shutdown(void);

#endif
