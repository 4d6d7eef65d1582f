/* timeStart's timers (SPEC 2.1): timerfd_settime with an absolute deadline on the wall
 * clock, performed by the supervisor on its duplicate of the sandbox's timerfd, with the
 * deadline moved from the sandbox's clock to the host's. */
#include "addon.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

#define NSEC 1000000000LL

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * NSEC + t.tv_nsec; }

/* timerfdSettime(fd, flags, value, old, shift, offsetNs) -> 0 or -errno. value: the
 * caller's struct itimerspec (32 bytes, read by the supervisor); old: 32 bytes for the
 * previous setting. With shift (the sandbox's clock is CLOCK_MONOTONIC + offsetNs, a
 * BigInt) the deadline is shifted onto the host's CLOCK_REALTIME, read here next to the call so
 * the shift is the one in force; a deadline already past becomes the earliest one. */
static napi_value sl_timerfd_settime(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 6);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, flags);
  SL_ARG_BUFFER(env, 2, value, value_len);
  SL_ARG_BUFFER(env, 3, old, old_len);
  bool shift_on = false;
  if (napi_get_value_bool(env, argv[4], &shift_on) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 4 must be a boolean");
    return NULL;
  }
  int64_t offset = 0;
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, argv[5], &offset, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, "SL_ARGS", "argument 5 must be a 64-bit BigInt");
    return NULL;
  }
  if (value_len != sizeof(struct itimerspec) || old_len != sizeof(struct itimerspec)) {
    napi_throw_type_error(env, "SL_ARGS", "value and old must be 32 bytes");
    return NULL;
  }
  struct itimerspec v;
  memcpy(&v, value, sizeof v);
  if (shift_on && (v.it_value.tv_sec != 0 || v.it_value.tv_nsec != 0) && v.it_value.tv_nsec >= 0 && v.it_value.tv_nsec < NSEC && v.it_value.tv_sec >= 0) {
    struct timespec mono, real;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    int64_t shift = ns_of(mono) + offset - ns_of(real); /* sandbox's clock minus the host's */
    int64_t at = ns_of(v.it_value) - shift;
    if (at < 1) at = 1;
    v.it_value.tv_sec = at / NSEC;
    v.it_value.tv_nsec = at % NSEC;
  }
  struct itimerspec o;
  memset(&o, 0, sizeof o);
  int rc = timerfd_settime(fd, flags, &v, &o);
  if (rc < 0) return sl_make_int(env, -errno);
  memcpy(old, &o, sizeof o);
  return sl_make_int(env, 0);
}

void sl_timer_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"timerfdSettime", NULL, sl_timerfd_settime, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
