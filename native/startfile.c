/* The CLI's start-up files (bin/sandlock.cjs): the bundle's source and its V8 code cache,
 * each read once into memory that V8 then uses as it is.
 *
 * Why: on the VMs this project runs on, the first touch of a fresh page costs 9 to 18 us
 * (measured with a loop over 1000 fresh pages: 16-18 us faulted one by one, 0.8-1.2 us to
 * populate them in one mmap plus 9-17 us at the first touch of each: the hypervisor's
 * share stays). Read by Node, the 1 MB bundle lands in fresh pages twice (the Buffer
 * readFileSync fills, then the string V8 copies it into), and so does the code cache (its
 * Buffer, then V8's aligned copy of data that is not 8-aligned): about 800 pages, some
 * 10 ms of every `sandlock run`. Here each file lands once, in a private anonymous mapping
 * (populated in one call, which saves the guest's fault handling at least), and V8 takes
 * it as it is: the bundle as an external latin1 string, the cache as an external
 * ArrayBuffer.
 *
 * Why a private copy and not a mapping of the file: a file mapping dies with a truncation
 * (SIGBUS at the next lazy compile), and a rebuild that rewrites the bundle in place would
 * take every running CLI down with it.
 *
 * Either call returns undefined when it cannot serve (not a regular file, empty or over
 * 64 MiB, a short read, a Node without external strings or external buffers): the caller
 * reads the file the ordinary way. */
#define _GNU_SOURCE
#include <errno.h>
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

/* The file behind fd, whole, in a populated anonymous mapping; its length in *len and the
 * mapping's in *maplen. NULL when it cannot be read whole. */
static char *read_whole(int fd, size_t *len, size_t *maplen) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > SL_STARTFILE_MAX) return NULL;
  size_t size = (size_t)st.st_size;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t mlen = (size + page - 1) / page * page;
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
  *len = size;
  *maplen = mlen;
  return p;
}

/* The finalizer's hint is the mapping's length, so nothing is allocated to free it. */
static void unmap(napi_env env, void *data, void *hint) {
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* startFile(fd, asString): the file as an external latin1 string (asString true; the bundle
 * is ASCII, scripts/bundle-cli.mjs checks) or as an external ArrayBuffer, or undefined. */
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
  char *p = read_whole(fd, &len, &mlen);
  if (p == NULL) return undefined(env);
  napi_value out;
  void *hint = (void *)(uintptr_t)mlen;
  if (as_string) {
    /* Nothing writes a string's characters; a stray write faults rather than changes code. */
    mprotect(p, mlen, PROT_READ);
    bool copied = false;
    /* When V8 copies instead, the finalizer has already run (Node-API's contract). */
    if (sl_external_latin1(env, p, len, unmap, hint, &out, &copied) != napi_ok) {
      munmap(p, mlen);
      return undefined(env);
    }
    return out;
  }
  /* Refused where the V8 sandbox forbids outside memory (napi_no_external_buffers_allowed). */
  if (napi_create_external_arraybuffer(env, p, len, unmap, hint, &out) != napi_ok) {
    munmap(p, mlen);
    return undefined(env);
  }
  return out;
}

void sl_startfile_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"startFile", NULL, sl_start_file, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
