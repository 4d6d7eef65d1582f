/* File calls the memory supervisor performs on its duplicate of a sandboxed descriptor
 * (src/supervise/handlers/memory.ts). Each returns the kernel's answer (>= 0 or -errno);
 * decisions are TypeScript's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

/* memfdCreate(name: Buffer, flags) -> [file, probe] or -errno: memfd_create made by the
 * supervisor for a sandboxed caller, with the name bytes it copied and the caller's flags.
 * `file` (read-write, for the caller) and `probe` (read-only, kept by the supervisor) are
 * both opened anew through /proc/self/fd, and the memfd's own file is closed: a file made
 * by memfd_create is not counted among the inode's writers, an opened one is, which is
 * what leaseFree() reads. Seals, size and name live in the inode and are the same. */
static napi_value sl_memfd_create(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 0 must be a Buffer");
    return NULL;
  }
  SL_ARG_I64(env, 1, flags);
  char name[256];
  if (len >= sizeof name) return sl_make_int(env, -EINVAL); /* the kernel's limit is 249 */
  memcpy(name, data, len);
  name[len] = '\0';
  int mfd = (int)syscall(SYS_memfd_create, name, (unsigned int)flags);
  if (mfd < 0) return sl_make_int(env, -errno);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", mfd);
  int file = open(path, O_RDWR | O_LARGEFILE | O_CLOEXEC);
  int err = file < 0 ? errno : 0;
  int probe = file < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
  if (file >= 0 && probe < 0) err = errno;
  close(mfd);
  if (err != 0) {
    if (file >= 0) close(file);
    return sl_make_int(env, -err);
  }
  return sl_make_pair(env, file, probe);
}

/* leaseFree(fd) -> 1 when no open file of fd's inode exists but fd itself, 0 when another
 * does, or -errno. fd must be a read-only open file of an inode the caller owns. The test
 * is a write lease (granted only when the inode's open-for-write and open-for-read counts
 * are this file's alone), given back at once. A lease break during the instant it is held
 * is signalled with SIGURG, which is ignored by default, never with SIGIO (which would end
 * the process). */
static napi_value sl_lease_free(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  if (fcntl(fd, F_SETSIG, SIGURG) < 0) return sl_make_int(env, -errno);
  if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0) return sl_make_int(env, errno == EAGAIN ? 0 : -errno);
  if (fcntl(fd, F_SETLEASE, F_UNLCK) < 0) return sl_make_int(env, -errno);
  return sl_make_int(env, 1);
}

/* fallocate(fd, mode, offset, len) -> 0 or -errno. offset and len arrive as bigints (the
 * sandbox's 64-bit arguments, passed through unchanged). */
static napi_value sl_fallocate(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 4);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, mode);
  int64_t off = 0, len = 0;
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, argv[2], &off, &lossless) != napi_ok ||
      napi_get_value_bigint_int64(env, argv[3], &len, &lossless) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "offset and len must be bigints");
    return NULL;
  }
  int rc;
  do {
    rc = fallocate(fd, mode, (off_t)off, (off_t)len);
  } while (rc < 0 && errno == EINTR);
  return sl_make_int(env, rc < 0 ? -errno : 0);
}

void sl_files_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"fallocate", NULL, sl_fallocate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memfdCreate", NULL, sl_memfd_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"leaseFree", NULL, sl_lease_free, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
