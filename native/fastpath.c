/* The supervisor's fast path: notifications whose answer needs no decision in TypeScript,
 * answered in C inside the listener's poll callback, before any JavaScript runs.
 *
 * Two kinds, both computed from the policy by src/supervise/fast-path.ts:
 *
 * - open, openat, creat whose path, resolved lexically as paths.ts resolves it (the
 *   caller's working directory or dirfd read from /proc, "." and ".." applied, "//"
 *   squeezed, symlinks not followed), never passes through a "tree" (a procfs or devpts
 *   mount) and does not end on an "exact" path (a virtual file). The TypeScript handlers
 *   would pass on such a path and the call would continue; here it continues at once.
 *   CONTINUE is safe whatever the caller's memory says by the time the kernel reads it
 *   again: it grants nothing Landlock does not (race rule, docs/supervision.md).
 *   openat2 always goes to TypeScript (its open_how may change the answer).
 *
 * - getdents64 on a directory that is not in a procfs listed here: performed on a
 *   pidfd_getfd duplicate (what was checked is what is read), the entries written into
 *   the caller's buffer after SECCOMP_IOCTL_NOTIF_ID_VALID, the offset put back when they
 *   cannot be delivered. Exactly what handlers/procfs-list.ts does without a filter.
 *
 * - under maxMemory, mmap, mremap and brk: memcredit.c (a credit TypeScript grants).
 *
 * - under maxProcesses, fork, vfork and a process's clone, and a thread's clone when no
 *   memory cap charges threads: proccredit.c (credits TypeScript grants, each call
 *   recorded for its count).
 *
 * Anything else, and anything this code is unsure of, goes to TypeScript. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fastpath.h"
#include "memcredit.h"
#include "proccredit.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

#define NR_OPEN 2
#define NR_CREAT 85
#define NR_GETDENTS64 217
#define NR_OPENAT 257
#define AT_FDCWD_ (-100)
#define PATH_MAXLEN 4096 /* paths.ts reads at most a page: longer ones continue */
#define MAX_READ (1 << 16)

struct sl_fast {
  char **trees;
  size_t ntrees;
  char **exacts;
  size_t nexacts;
  uint64_t *procdevs;
  size_t nprocdevs;
  int opens;    /* open, openat, creat are trapped and may be answered here; 2: only the
                 * read-only ones (protectedFiles: the supervisor performs write opens) */
  int getdents; /* getdents64 is trapped and may be performed here */
  struct sl_mem *mem; /* maxMemory: mmap, mremap, brk answered from a credit (memcredit.c) */
  struct sl_procs *procs; /* maxProcesses: forks answered from a credit (proccredit.c) */
  uint64_t answered; /* read by the main thread while a receiving thread adds: atomics */
  uint64_t ns;
  char *dents; /* MAX_READ bytes, allocated on first use */
  /* Scratch for one open's path, per listener (each may have a thread of its own). */
  char raw[PATH_MAXLEN + 2];
  char out[2 * PATH_MAXLEN + 2];
};

static char **copy_list(const char *const *src, size_t n) {
  char **out = calloc(n ? n : 1, sizeof *out);
  if (out == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    out[i] = strdup(src[i]);
    if (out[i] == NULL) {
      while (i--) free(out[i]);
      free(out);
      return NULL;
    }
  }
  return out;
}

struct sl_fast *sl_fast_new(const char *const *trees, size_t ntrees, const char *const *exacts, size_t nexacts,
                            const uint64_t *procdevs, size_t nprocdevs, int opens, int getdents, int memory, int procs) {
  struct sl_fast *f = calloc(1, sizeof *f);
  if (f == NULL) return NULL;
  f->trees = copy_list(trees, ntrees);
  f->exacts = copy_list(exacts, nexacts);
  f->procdevs = calloc(nprocdevs ? nprocdevs : 1, sizeof *f->procdevs);
  if (memory) f->mem = sl_mem_new();
  if (procs) f->procs = sl_procs_new(procs);
  if (f->trees == NULL || f->exacts == NULL || f->procdevs == NULL || (memory && f->mem == NULL) || (procs && f->procs == NULL)) {
    f->ntrees = f->trees ? ntrees : 0;
    f->nexacts = f->exacts ? nexacts : 0;
    sl_fast_free(f);
    return NULL;
  }
  memcpy(f->procdevs, procdevs, nprocdevs * sizeof *procdevs);
  f->ntrees = ntrees;
  f->nexacts = nexacts;
  f->nprocdevs = nprocdevs;
  f->opens = opens;
  f->getdents = getdents;
  return f;
}

void sl_fast_free(struct sl_fast *f) {
  if (f == NULL) return;
  for (size_t i = 0; i < f->ntrees; i++) free(f->trees[i]);
  for (size_t i = 0; i < f->nexacts; i++) free(f->exacts[i]);
  free(f->trees);
  free(f->exacts);
  free(f->procdevs);
  free(f->dents);
  sl_mem_free(f->mem);
  sl_procs_free(f->procs);
  free(f);
}

struct sl_procs *sl_fast_procs(struct sl_fast *f) {
  return f == NULL ? NULL : f->procs;
}

struct sl_mem *sl_fast_mem(struct sl_fast *f) {
  return f == NULL ? NULL : f->mem;
}

void sl_fast_stats(const struct sl_fast *f, uint64_t *answered, uint64_t *ns) {
  *answered = __atomic_load_n(&f->answered, __ATOMIC_RELAXED);
  *ns = __atomic_load_n(&f->ns, __ATOMIC_RELAXED);
}

/* v in decimal at out[*at], within cap (one byte kept for the NUL). */
static void put_uint(char *out, size_t cap, size_t *at, unsigned v) {
  char digits[12];
  int n = 0;
  do digits[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0 && *at + 1 < cap) out[(*at)++] = digits[--n];
}

/* "/proc/<tid>/<what>", then num when it is >= 0 ("/proc/<tid>/fd/<num>"), into out. */
static void proc_path(char *out, size_t cap, int tid, const char *what, int num) {
  size_t at = 0;
  const char *pre = "/proc/";
  while (*pre && at + 1 < cap) out[at++] = *pre++;
  put_uint(out, cap, &at, (unsigned)tid);
  if (at + 1 < cap) out[at++] = '/';
  while (*what && at + 1 < cap) out[at++] = *what++;
  if (num >= 0) put_uint(out, cap, &at, (unsigned)num);
  out[at] = '\0';
}

/* The caller's NUL-terminated string at addr (at most PATH_MAXLEN bytes), read page by
 * page so one ending just before an unmapped page is found; its length, or -1. */
static long read_path(int tid, uint64_t addr, char *out) {
  size_t total = 0;
  while (total <= PATH_MAXLEN) {
    size_t room = PATH_MAXLEN + 1 - total;
    size_t chunk = 4096 - (size_t)((addr + total) % 4096);
    if (chunk > room) chunk = room;
    struct iovec local = {out + total, chunk};
    struct iovec remote = {(void *)(uintptr_t)(addr + total), chunk};
    ssize_t got = process_vm_readv(tid, &local, 1, &remote, 1, 0);
    if (got <= 0) return -1;
    char *nul = memchr(out + total, '\0', (size_t)got);
    if (nul != NULL) return nul - out;
    total += (size_t)got;
  }
  return -1;
}

static int is_tree(const struct sl_fast *f, const char *path, size_t len) {
  for (size_t i = 0; i < f->ntrees; i++) {
    size_t tl = strlen(f->trees[i]);
    if (tl == len && memcmp(f->trees[i], path, len) == 0) return 1;
  }
  return 0;
}

static int within_tree(const struct sl_fast *f, const char *path, size_t len) {
  for (size_t i = 0; i < f->ntrees; i++) {
    size_t tl = strlen(f->trees[i]);
    if (len >= tl && memcmp(f->trees[i], path, tl) == 0 && (len == tl || path[tl] == '/' || tl == 1)) return 1;
  }
  return 0;
}

static int is_exact(const struct sl_fast *f, const char *path, size_t len) {
  for (size_t i = 0; i < f->nexacts; i++) {
    size_t el = strlen(f->exacts[i]);
    if (el == len && memcmp(f->exacts[i], path, len) == 0) return 1;
  }
  return 0;
}

/* Whether the TypeScript handlers may act on this open (1), or would let it continue (0). */
static int open_interesting(struct sl_fast *f, int tid, int dirfd, const char *raw) {
  char *out = f->out;
  const size_t out_cap = sizeof f->out;
  size_t len = 0;
  if (raw[0] != '/') {
    char link[64];
    if (dirfd == AT_FDCWD_) proc_path(link, sizeof link, tid, "cwd", -1);
    else proc_path(link, sizeof link, tid, "fd/", dirfd);
    ssize_t bl = readlink(link, out, PATH_MAXLEN);
    /* No path to start from (a pipe, a deleted directory, gone): paths.ts gives up and
     * the call continues. */
    if (bl <= 0 || bl >= PATH_MAXLEN || out[0] != '/') return 0;
    static const char deleted[] = " (deleted)";
    if ((size_t)bl >= sizeof deleted - 1 && memcmp(out + bl - (sizeof deleted - 1), deleted, sizeof deleted - 1) == 0) return 0;
    len = (size_t)bl;
    while (len > 1 && out[len - 1] == '/') len--;
    if (len == 1) len = 0; /* "/" is the empty stack */
    if (within_tree(f, len ? out : "/", len ? len : 1)) return 1;
  }
  for (const char *p = raw; *p;) {
    while (*p == '/') p++;
    const char *c = p;
    while (*p && *p != '/') p++;
    size_t cl = (size_t)(p - c);
    if (cl == 0 || (cl == 1 && c[0] == '.')) continue;
    if (cl == 2 && c[0] == '.' && c[1] == '.') {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--; /* the slash before the component */
      continue;
    }
    if (len + 1 + cl >= out_cap) return 1; /* too long to follow here */
    out[len++] = '/';
    memcpy(out + len, c, cl);
    len += cl;
    if (is_tree(f, out, len)) return 1;
  }
  if (len == 0) return is_tree(f, "/", 1) || is_exact(f, "/", 1);
  return is_exact(f, out, len);
}

static int send_resp(int listener, uint64_t id, int64_t val, int32_t error, uint32_t flags) {
  struct seccomp_notif_resp resp = {.id = id, .val = val, .error = error, .flags = flags};
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* 1: answered; 0: TypeScript decides. */
static int try_open(struct sl_fast *f, int listener, const struct seccomp_notif *n) {
  int dirfd = AT_FDCWD_;
  uint64_t addr;
  switch (n->data.nr) {
    case NR_OPEN:
    case NR_CREAT:
      addr = n->data.args[0];
      break;
    case NR_OPENAT:
      dirfd = (int)(int32_t)n->data.args[0];
      addr = n->data.args[1];
      break;
    default:
      return 0;
  }
  /* protectedFiles (handlers/names-open.ts): an open whose flags register may write or
   * create is TypeScript's, whatever its path (creat always). The flags are a register. */
  if (f->opens == 2) {
    uint32_t flags = n->data.nr == NR_OPEN ? (uint32_t)n->data.args[1] : n->data.nr == NR_OPENAT ? (uint32_t)n->data.args[2] : 1u;
    uint32_t path_flag = 010000000;
    if ((flags & (3u | 0100u | 01000u | 020000000u)) != 0 && (flags & path_flag) == 0) return 0;
  }
  /* Unreadable or too long: paths.ts returns no request and the call continues. */
  if (read_path((int)n->pid, addr, f->raw) >= 0 && open_interesting(f, (int)n->pid, dirfd, f->raw)) return 0;
  send_resp(listener, n->id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  return 1;
}

static int try_getdents(struct sl_fast *f, int listener, const struct seccomp_notif *n) {
  int tid = (int)n->pid;
  int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
  if (pidfd < 0 && errno == EINVAL) pidfd = (int)syscall(SYS_pidfd_open, tid, 0);
  if (pidfd < 0) return 0;
  int copy = (int)syscall(SYS_pidfd_getfd, pidfd, (int)(int32_t)n->data.args[0], 0);
  int err = errno;
  close(pidfd);
  if (copy < 0) {
    send_resp(listener, n->id, 0, -err, 0); /* EBADF for a bad descriptor, as the kernel */
    return 1;
  }
  struct stat st;
  if (fstat(copy, &st) < 0) {
    close(copy);
    return 0;
  }
  for (size_t i = 0; i < f->nprocdevs; i++) {
    if ((uint64_t)st.st_dev == f->procdevs[i]) {
      close(copy); /* a procfs directory: filtered in TypeScript */
      return 0;
    }
  }
  if (f->dents == NULL && (f->dents = malloc(MAX_READ)) == NULL) {
    close(copy);
    return 0;
  }
  uint32_t count = (uint32_t)n->data.args[2];
  size_t want = count == 0 ? 1 : count > MAX_READ ? MAX_READ : count;
  off_t start = lseek(copy, 0, SEEK_CUR);
  long got = syscall(SYS_getdents64, copy, f->dents, want);
  if (got < 0) {
    err = errno;
    if (start >= 0) lseek(copy, start, SEEK_SET);
    send_resp(listener, n->id, 0, -err, 0);
  } else if (got == 0) {
    send_resp(listener, n->id, 0, 0, 0);
  } else {
    /* Written only while the thread is still blocked in this very call. */
    uint64_t id = n->id;
    struct iovec local = {f->dents, (size_t)got};
    struct iovec remote = {(void *)(uintptr_t)n->data.args[1], (size_t)got};
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0 || process_vm_writev(tid, &local, 1, &remote, 1, 0) != got) {
      if (start >= 0) lseek(copy, start, SEEK_SET);
      send_resp(listener, n->id, 0, -EFAULT, 0);
    } else {
      send_resp(listener, n->id, got, 0, 0);
    }
  }
  close(copy);
  return 1;
}

void sl_fast_add_ns(struct sl_fast *f, uint64_t ns) {
  __atomic_fetch_add(&f->ns, ns, __ATOMIC_RELAXED);
}

int sl_fast_try(struct sl_fast *f, int listener, const void *notif) {
  const struct seccomp_notif *n = notif;
  int done = 0;
  if (f->opens && (n->data.nr == NR_OPEN || n->data.nr == NR_OPENAT || n->data.nr == NR_CREAT)) done = try_open(f, listener, n);
  else if (f->getdents && n->data.nr == NR_GETDENTS64) done = try_getdents(f, listener, n);
  else if (f->procs != NULL && sl_procs_try(f->procs, listener, n)) done = 1; /* other numbers: 0 */
  else if (f->mem != NULL) done = sl_mem_try(f->mem, listener, n);               /* likewise */
  if (done) __atomic_fetch_add(&f->answered, 1, __ATOMIC_RELAXED);
  return done;
}
