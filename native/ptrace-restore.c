/* The ptrace calls a checkpoint restore adds to ptrace.c's: write a register set, and
 * resume a tracee to its next system-call stop or ptrace-stop. What to write and when is
 * decided in TypeScript (src/checkpoint/inject.ts); like ptrace.c, every call must come
 * from Node's main thread, the tracer. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "addon.h"

/* ptraceSetRegset(tid, note, data: Buffer) -> 0 or -errno. */
static napi_value sl_ptrace_set_regset(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_INT(env, 1, note);
  SL_ARG_BUFFER(env, 2, data, len);
  struct iovec iov = {.iov_base = data, .iov_len = len};
  return sl_result(env, ptrace(PTRACE_SETREGSET, (pid_t)tid, (void *)(uintptr_t)(uint32_t)note, &iov));
}

/* ptraceSyscall(tid, signal) -> 0 or -errno: PTRACE_SYSCALL, the tracee runs to its next
 * system-call entry or exit (or other ptrace-stop). */
static napi_value sl_ptrace_syscall(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_INT(env, 1, sig);
  return sl_result(env, ptrace(PTRACE_SYSCALL, (pid_t)tid, NULL, (void *)(uintptr_t)(uint32_t)sig));
}

void sl_ptrace_restore_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"ptraceSetRegset", NULL, sl_ptrace_set_regset, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceSyscall", NULL, sl_ptrace_syscall, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
