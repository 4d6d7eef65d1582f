/* The key of a saved checkpoint's seal (docs/checkpoint.md, "The seal"): random bytes kept
 * as a "user" key in the calling user's kernel keyring, which no sandbox can reach (keyctl,
 * add_key and request_key are refused in every sandbox: the blocklist's keyring group). */
#include "addon.h"

#include <errno.h>
#include <linux/keyctl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SEAL_KEY_BYTES 32

static long key_search(const char *name) {
  return syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", name, 0);
}

/* userKey(name, create) -> a Buffer of the SEAL_KEY_BYTES bytes of the "user" key `name`
 * in this user's keyring; with create, made of fresh random bytes when there is none.
 * -errno otherwise: -ENOKEY (none, and not made), -EBADMSG (a key of that name of another
 * size: not one this made), the keyring's own errors (-ENOSYS or -EPERM where keyrings are
 * refused, -EDQUOT past the user's quota). Two processes making the key at the same instant
 * both add one; the second replaces the first's bytes, so each reads back what the keyring
 * holds after its add rather than keeping what it made. */
static napi_value sl_user_key(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  char name[128];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok || len == 0 || len >= sizeof name - 1) {
    napi_throw_type_error(env, "SL_ARGS", "argument 0 must be a key name of 1 to 126 bytes");
    return NULL;
  }
  bool create = false;
  if (napi_get_value_bool(env, argv[1], &create) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 1 must be a boolean");
    return NULL;
  }
  long id = key_search(name);
  if (id < 0 && errno == ENOKEY && create) {
    unsigned char fresh[SEAL_KEY_BYTES];
    if (getrandom(fresh, sizeof fresh, 0) != (ssize_t)sizeof fresh) return sl_make_int(env, -EIO);
    id = syscall(SYS_add_key, "user", name, fresh, sizeof fresh, KEY_SPEC_USER_KEYRING);
    explicit_bzero(fresh, sizeof fresh);
    if (id >= 0) id = key_search(name);
  }
  if (id < 0) return sl_make_int(env, -errno);
  unsigned char key[SEAL_KEY_BYTES + 1];
  long n = syscall(SYS_keyctl, KEYCTL_READ, id, key, sizeof key);
  if (n < 0) return sl_make_int(env, -errno);
  if (n != SEAL_KEY_BYTES) {
    explicit_bzero(key, sizeof key);
    return sl_make_int(env, -EBADMSG);
  }
  napi_value out;
  void *data = NULL;
  napi_status st = napi_create_buffer_copy(env, SEAL_KEY_BYTES, key, &data, &out);
  explicit_bzero(key, sizeof key);
  if (st != napi_ok) return sl_make_int(env, -ENOMEM);
  return out;
}

void sl_keyring_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"userKey", NULL, sl_user_key, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
