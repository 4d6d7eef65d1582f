/* The CLI's start-up files (bin/sandlock.cjs): the bundle's source and its V8 code cache,
 * handed to V8 as they lie in the page cache, without a copy.
 *
 * Why: on the VMs this project runs on, the first touch of a fresh page costs 9 to 18 us
 * (measured with a loop over 1000 fresh pages: 16-18 us faulted one by one, 0.8-1.2 us to
 * populate them in one mmap plus 9-17 us at the first touch of each: the hypervisor's
 * share stays). Read by Node, the 1 MB bundle lands in fresh pages twice (the Buffer
 * readFileSync fills, then the string V8 copies it into), and so does the code cache. A
 * private mapping of the file costs none of that: its pages are the page cache's, already
 * backed, and only those V8 reads are faulted in (with a code cache, few of the bundle's:
 * V8 reads a function's source only to compile it lazily). Measured against one populated
 * private copy of each file (2026-12-03, 40 interleaved runs of `sandlock run -- /bin/true`):
 * 4.7 ms less at the median, about 370 page faults fewer.
 *
 * The catch: a mapping shows what the file holds now. V8 keeps the bundle's text for the
 * process's life (a function not compiled yet is read from it when first called), so a
 * bundle truncated in place would kill a long `sandlock run` with SIGBUS at its next lazy
 * compile, and one rewritten in place would be compiled from the new text at the old
 * offsets. Replacing the file (a new inode: npm's install, scripts/bundle-cli.mjs's rename)
 * leaves the mapping as it was. For the rest, settleStartFiles() copies every mapped string
 * into private memory at the same address, after which the file no longer matters; the bin
 * calls it a second into a run, so only a change within the first second of a run meets
 * the mapping. The code cache needs none of this: V8 reads it once, while it deserializes,
 * and bin/sandlock.cjs replaces it only by a rename.
 *
 * Either call returns undefined when it cannot serve (not a regular file, empty or over
 * 64 MiB, a short read, a Node without external strings or external buffers): the caller
 * reads the file the ordinary way. A file that cannot be mapped (some FUSE file systems) is
 * read into a populated private copy, as before. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"

/* Node-API's external latin1 string: in every Node this package supports (20.4 and later),
 * declared by the headers only under NAPI_EXPERIMENTAL or Node-API 10. Taken by its symbol,
 * weakly, under a name of our own, so a Node without it leaves this NULL and any header's
 * declaration of it cannot clash with this one. */
extern napi_status sl_external_latin1(napi_env env, char *str, size_t length, napi_finalize finalize, void *hint,
                                      napi_value *result, bool *copied) __asm__("node_api_create_external_string_latin1")
    __attribute__((weak));

#define SL_STARTFILE_MAX (64u << 20)

/* A copy of the file behind fd (size bytes), whole, in a populated anonymous mapping of
 * mlen bytes; NULL when it cannot be read whole. */
static char *copy_whole(int fd, size_t size, size_t mlen) {
  char *p = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) return NULL;
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, p + got, size - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* an error, or the file shrank since fstat */
    got += (size_t)n;
  }
  if (got != size) {
    munmap(p, mlen);
    return NULL;
  }
  mprotect(p, mlen, PROT_READ); /* nothing writes a start-up file's bytes */
  return p;
}

/* The file behind fd, whole and read-only: a private mapping of the file itself (*mapped
 * true) or, where the file cannot be mapped, a private copy. Its length in *len, the
 * mapping's in *maplen, what fstat said in *st. NULL when it cannot be served. */
static char *map_whole(int fd, size_t *len, size_t *maplen, struct stat *st, bool *mapped) {
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size <= 0 || (uint64_t)st->st_size > SL_STARTFILE_MAX) return NULL;
  size_t size = (size_t)st->st_size;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t mlen = (size + page - 1) / page * page;
  char *p = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE, fd, 0);
  *mapped = p != MAP_FAILED;
  if (p == MAP_FAILED) p = copy_whole(fd, size, mlen);
  if (p == NULL) return NULL;
  *len = size;
  *maplen = mlen;
  return p;
}

/* The strings served from a file mapping and not settled yet: their mapping, a descriptor
 * of their file (to see whether it changed) and what fstat said of it when mapped. The bin
 * maps one; a string beyond these is served from a copy. Only the bin's main thread serves
 * strings, so only it touches these (its calls and its finalizers). */
#define SL_MAPPED_MAX 4
struct sl_mapped {
  char *addr;
  size_t len, mlen;
  int fd;
  struct stat st;
};
static struct sl_mapped mapped_strings[SL_MAPPED_MAX];

static struct sl_mapped *free_slot(void) {
  for (int i = 0; i < SL_MAPPED_MAX; i++)
    if (mapped_strings[i].addr == NULL) return &mapped_strings[i];
  return NULL;
}

static void forget(struct sl_mapped *m) {
  if (m->fd > 0) close(m->fd);
  memset(m, 0, sizeof *m);
}

/* Whether the file still holds what it held when mapped, as far as fstat tells: the same
 * size and modification time (a write or a truncation moves it). Not the change time: a
 * file replaced by a rename or unlinked (npm's update) has a new one, and its bytes are
 * intact. */
static bool unchanged(const struct sl_mapped *m) {
  struct stat now;
  return fstat(m->fd, &now) == 0 && now.st_size == m->st.st_size && now.st_mtim.tv_sec == m->st.st_mtim.tv_sec &&
         now.st_mtim.tv_nsec == m->st.st_mtim.tv_nsec;
}

/* The mapping of m replaced, at the same address, by a private copy of its bytes: from
 * here on the string does not depend on the file. */
static bool settle(struct sl_mapped *m) {
  char *copy = mmap(NULL, m->mlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (copy == MAP_FAILED) return false;
  memcpy(copy, m->addr, m->len);
  mprotect(copy, m->mlen, PROT_READ);
  /* One call moves the copy over the mapping (the old one goes with it): a reader of the
   * string sees the same bytes before and after. */
  if (mremap(copy, m->mlen, m->mlen, MREMAP_MAYMOVE | MREMAP_FIXED, m->addr) == MAP_FAILED) {
    munmap(copy, m->mlen);
    return false;
  }
  return true;
}

/* The finalizer's hint is the mapping's length, so nothing is allocated to free it. */
static void unmap(napi_env env, void *data, void *hint) {
  for (int i = 0; i < SL_MAPPED_MAX; i++)
    if (mapped_strings[i].addr == data) forget(&mapped_strings[i]);
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* startFile(fd, asString): the file as an external latin1 string (asString true; the bundle
 * is ASCII, scripts/bundle-cli.mjs checks) or as an external ArrayBuffer, or undefined.
 * Read-only either way: a write to the buffer faults rather than changes what V8 reads. */
static napi_value sl_start_file(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  bool as_string;
  if (napi_get_value_bool(env, argv[1], &as_string) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 1 must be a boolean");
    return NULL;
  }
  if (as_string && sl_external_latin1 == NULL) return undefined(env);
  size_t len, mlen;
  struct stat st;
  bool mapped = false;
  char *p = map_whole(fd, &len, &mlen, &st, &mapped);
  if (p == NULL) return undefined(env);
  napi_value out;
  void *hint = (void *)(uintptr_t)mlen;
  if (as_string) {
    struct sl_mapped *slot = mapped ? free_slot() : NULL;
    int keep = slot == NULL ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (mapped && keep < 0) {
      /* Nowhere to note it for settling: served from a copy. */
      char *copy = copy_whole(fd, len, mlen);
      munmap(p, mlen);
      if (copy == NULL) return undefined(env);
      p = copy;
      mapped = false;
    }
    bool copied = false;
    /* When V8 copies instead, the finalizer has already run (Node-API's contract). */
    if (sl_external_latin1(env, p, len, unmap, hint, &out, &copied) != napi_ok) {
      if (keep >= 0) close(keep);
      munmap(p, mlen);
      return undefined(env);
    }
    if (mapped && !copied) *slot = (struct sl_mapped){.addr = p, .len = len, .mlen = mlen, .fd = keep, .st = st};
    else if (keep >= 0) close(keep);
    return out;
  }
  /* Refused where the V8 sandbox forbids outside memory (napi_no_external_buffers_allowed). */
  if (napi_create_external_arraybuffer(env, p, len, unmap, hint, &out) != napi_ok) {
    munmap(p, mlen);
    return undefined(env);
  }
  return out;
}

/* settleStartFiles(): every string startFile served from a file mapping, made a private
 * copy at the same address, unless its file changed since it was mapped (then it stays
 * as it is: a copy now would be of the new bytes). Returns [settled, changed]. */
static napi_value sl_settle_start_files(napi_env env, napi_callback_info info) {
  uint32_t settled = 0, changed = 0;
  for (int i = 0; i < SL_MAPPED_MAX; i++) {
    struct sl_mapped *m = &mapped_strings[i];
    if (m->addr == NULL) continue;
    if (!unchanged(m)) {
      changed++;
    } else if (settle(m)) {
      settled++;
    } else {
      continue; /* no memory for the copy: tried again at the next call */
    }
    forget(m); /* settled, or never to be: the finalizer unmaps by its hint alone */
  }
  napi_value out, a, b;
  napi_create_array_with_length(env, 2, &out);
  napi_create_uint32(env, settled, &a);
  napi_create_uint32(env, changed, &b);
  napi_set_element(env, out, 0, a);
  napi_set_element(env, out, 1, b);
  return out;
}

void sl_startfile_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"startFile", NULL, sl_start_file, NULL, NULL, NULL, napi_enumerable, NULL},
      {"settleStartFiles", NULL, sl_settle_start_files, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
