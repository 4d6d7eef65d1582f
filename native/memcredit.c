/* maxMemory's growth calls (mmap, mremap, brk) answered on the listener's receiving
 * thread, from a credit that TypeScript grants and C spends (docs/supervision.md, "Memory
 * growth in C").
 *
 * TypeScript decides a growth call as before: the sandbox's charge from /proc plus the
 * request must fit under the cap. When it allows one, it grants the room left (cap less
 * the charge with the request) as a credit. Later growth calls whose length fits in the
 * credit are continued here and the credit shrinks by their length; one that does not fit
 * goes to TypeScript, which reads the true charge again and grants afresh. Every answer
 * here rests on registers alone (syscall number, lengths, prot and flags, brk's zero
 * argument), never on the caller's memory or on a descriptor, so CONTINUE is race-free
 * (DESIGN 6): the kernel runs exactly the call whose registers were judged.
 *
 * Exactness: the sum of lengths continued here between two grants never exceeds the
 * credit, and a grant is computed from a /proc reading taken after C stopped spending:
 * - the credit drops to 0 the moment a growth call is forwarded, and a new one is set
 *   only when TypeScript has decided every forwarded call (`pending` back to 0);
 * - what C allowed since the previous grant may not be visible in that reading yet (a
 *   continued thread may not have run its mmap): the new credit is reduced by all of it
 *   (counted twice when it is visible, never missed);
 * - a brk that moves the break always goes to TypeScript: its growth depends on the break
 *   of the caller's current address space, which registers do not show (an execve, which
 *   is not trapped, replaces it under the same thread id; a break remembered here could
 *   then let a new program grow for free). Only brk(0), a query, is answered here.
 *
 * Shrinking never waits for a credit: munmap is not trapped, and an mremap that does not
 * grow continues at once. */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "memcredit.h"

#define NR_MMAP 9
#define NR_MREMAP 25
#define NR_BRK 12
#define PROT_WRITE_ 0x2
#define MAP_SHARED_ 0x01
#define MAP_ANONYMOUS_ 0x20
#define PAGE 4096ull
#define MAX_LEN (1ull << 56) /* longer requests are never within a credit (no rounding overflow) */

struct sl_mem {
  pthread_mutex_t mu;
  uint64_t credit;   /* bytes that may still be continued here */
  uint64_t spent;    /* bytes continued here since the last grant */
  uint32_t pending;  /* growth calls forwarded to TypeScript, not yet settled */
};

struct sl_mem *sl_mem_new(void) {
  struct sl_mem *m = calloc(1, sizeof *m);
  if (m != NULL) pthread_mutex_init(&m->mu, NULL);
  return m;
}

void sl_mem_free(struct sl_mem *m) {
  if (m == NULL) return;
  pthread_mutex_destroy(&m->mu);
  free(m);
}

/* Rounded up to pages; anything past MAX_LEN saturates (it never fits a credit). */
static uint64_t page_up(uint64_t n) {
  return n > MAX_LEN ? UINT64_MAX : (n + PAGE - 1) & ~(PAGE - 1);
}

static void send_continue(int listener, uint64_t id) {
  struct seccomp_notif_resp r = {.id = id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* Under the lock: spends growth from the credit (1), or forwards (0): from then on the
 * credit is 0 until TypeScript has settled every forwarded call. */
static int spend_or_forward(struct sl_mem *m, uint64_t growth) {
  if (growth <= m->credit) {
    m->credit -= growth;
    m->spent += growth;
    return 1;
  }
  m->credit = 0;
  m->pending++;
  return 0;
}

int sl_mem_try(struct sl_mem *m, int listener, const void *notif) {
  const struct seccomp_notif *n = notif;
  const __u64 *a = n->data.args;
  int answered = 0;
  switch (n->data.nr) {
    case NR_MMAP: {
      /* Registers only: read-only and PROT_NONE mappings cost no private memory; shared
       * file mappings are the file's pages (charged as files by the watchdog). The same
       * rule as handlers/memory.ts. */
      uint32_t prot = (uint32_t)a[2], flags = (uint32_t)a[3];
      if ((prot & PROT_WRITE_) == 0 || ((flags & MAP_SHARED_) != 0 && (flags & MAP_ANONYMOUS_) == 0)) {
        answered = 1;
        break;
      }
      pthread_mutex_lock(&m->mu);
      answered = spend_or_forward(m, page_up(a[1]));
      pthread_mutex_unlock(&m->mu);
      break;
    }
    case NR_MREMAP: {
      /* Registers only: the old and new lengths. Not growing: continues at once. */
      uint64_t before = page_up(a[1]), after = page_up(a[2]);
      if (after <= before && after != UINT64_MAX) {
        answered = 1;
        break;
      }
      pthread_mutex_lock(&m->mu);
      answered = spend_or_forward(m, after == UINT64_MAX ? UINT64_MAX : after - before);
      pthread_mutex_unlock(&m->mu);
      break;
    }
    case NR_BRK: {
      /* Registers only: brk(0) is a query and changes nothing. Any other brk is
       * forwarded (see above) and settled like any forwarded growth call. */
      if (a[0] == 0) {
        answered = 1;
        break;
      }
      pthread_mutex_lock(&m->mu);
      m->credit = 0;
      m->pending++;
      pthread_mutex_unlock(&m->mu);
      break;
    }
    default:
      return 0;
  }
  if (answered) send_continue(listener, n->id);
  return answered;
}

void sl_mem_settle(struct sl_mem *m, int64_t grant) {
  pthread_mutex_lock(&m->mu);
  /* Nothing forwarded: not a call of ours (the credit stays as it is). */
  if (m->pending > 0 && --m->pending == 0) {
    /* No growth continued here since the first forwarded call: whatever was continued
     * before it may still be in flight, so it is taken off the new credit. */
    uint64_t g = grant > 0 ? (uint64_t)grant : 0;
    m->credit = g > m->spent ? g - m->spent : 0;
    m->spent = 0;
  }
  pthread_mutex_unlock(&m->mu);
}

void sl_mem_revoke(struct sl_mem *m) {
  pthread_mutex_lock(&m->mu);
  m->credit = 0;
  pthread_mutex_unlock(&m->mu);
}

uint64_t sl_mem_spent(struct sl_mem *m) {
  pthread_mutex_lock(&m->mu);
  uint64_t s = m->spent;
  pthread_mutex_unlock(&m->mu);
  return s;
}
