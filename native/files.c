/* File calls the memory supervisor performs on its duplicate of a sandboxed descriptor
 * (src/supervise/handlers/memory.ts). Each returns the kernel's answer (>= 0 or -errno);
 * decisions are TypeScript's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>

#include "addon.h"

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
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
