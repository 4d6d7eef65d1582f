/* timeStart's timers (SPEC 2.1): timerfd_settime with an absolute deadline on the wall
 * clock, performed by the supervisor on its duplicate of the sandbox's timerfd, armed to
 * fire when the sandbox's clock reaches the deadline. */
#include "addon.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

#define NSEC 1000000000LL

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * NSEC + t.tv_nsec; }

/* timerfdSettime(fd, flags, value, old, shift, offsetNs) -> 0 or -errno. value: the
 * caller's struct itimerspec (32 bytes, read by the supervisor); old: 32 bytes for the
 * previous setting. With shift (the sandbox's clock is CLOCK_MONOTONIC + offsetNs, a
 * BigInt) the absolute deadline becomes the time left until the sandbox's clock reaches it,
 * armed as a relative timer: the kernel runs a relative timer of a CLOCK_REALTIME timerfd
 * on CLOCK_MONOTONIC (hrtimer's POSIX rule), the clock the sandbox's is made of, so a step
 * or slew of the host's wall clock moves it no more than it moves the sandbox's clock. It
 * was shifted onto the host's CLOCK_REALTIME, which fired early by as much as that clock
 * was set forward meanwhile (a CI run saw the sandbox's clock short of the deadline on
 * waking, twice in one minute). The time left is read here next to the call, so the timer
 * can only be late by the call's own length; a deadline already past fires at once.
 * TFD_TIMER_CANCEL_ON_SET goes with it: it cancels a timer when the host's wall clock is
 * set, which the sandbox's clock never is. */
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
  if (shift_on && (flags & TFD_TIMER_ABSTIME) && (v.it_value.tv_sec != 0 || v.it_value.tv_nsec != 0) && v.it_value.tv_nsec >= 0 &&
      v.it_value.tv_nsec < NSEC && v.it_value.tv_sec >= 0) {
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    /* The sandbox's clock now is mono + offset; what is left of the deadline on it. A
     * deadline past is 1 ns: a zero value disarms. */
    int64_t now = ns_of(mono) + offset;
    /* Seconds past what 64-bit nanoseconds hold (year 2262 on): as many seconds from now,
     * which no process outlives. */
    if (v.it_value.tv_sec < INT64_MAX / NSEC - 1) {
      int64_t left = ns_of(v.it_value) - now;
      if (left < 1) left = 1;
      v.it_value.tv_sec = left / NSEC;
      v.it_value.tv_nsec = left % NSEC;
    }
    flags &= ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
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
