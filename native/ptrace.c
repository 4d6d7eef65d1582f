/* The ptrace calls a checkpoint needs: seize a thread, interrupt it into a ptrace-stop,
 * collect that stop, read a register set, detach. Each returns the kernel's answer as a
 * number (>= 0 or -errno); what to seize, when, and what a failure means is decided in
 * TypeScript (src/checkpoint/freeze.ts). ptrace binds a tracee to the tracing thread, so
 * every call must come from the same thread: Node's main thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "addon.h"

#ifndef PTRACE_SEIZE
#define PTRACE_SEIZE 0x4206
#endif
#ifndef PTRACE_INTERRUPT
#define PTRACE_INTERRUPT 0x4207
#endif

/* ptraceSeize(tid) -> 0 or -errno. No options: the tracee gets no SIGSTOP and no event
 * stops, so seizing alone changes nothing about how it runs. */
static napi_value sl_ptrace_seize(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, tid);
  return sl_result(env, ptrace(PTRACE_SEIZE, (pid_t)tid, NULL, NULL));
}

/* ptraceInterrupt(tid) -> 0 or -errno: the seized thread enters a ptrace-stop (a
 * PTRACE_EVENT_STOP trap) without any signal being sent. A thread blocked in an
 * interruptible call, a seccomp user-notification wait included, leaves it with a restart
 * code and re-enters the call once it is let go. */
static napi_value sl_ptrace_interrupt(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, tid);
  return sl_result(env, ptrace(PTRACE_INTERRUPT, (pid_t)tid, NULL, NULL));
}

/* ptraceWaitStop(tid) -> [rc, status]: rc is tid once it reported a stop (or its death),
 * 0 while it has nothing to report yet, -errno on failure. Never blocks (WNOHANG): a
 * thread may be slow to stop, and the event loop must keep running meanwhile. __WALL is
 * what lets a tracer wait for a thread that is not its own child. */
static napi_value sl_ptrace_wait_stop(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, tid);
  int status = 0;
  pid_t rc;
  do {
    rc = waitpid((pid_t)tid, &status, __WALL | WNOHANG);
  } while (rc < 0 && errno == EINTR);
  return sl_make_pair(env, rc < 0 ? -errno : rc, status);
}

/* ptraceGetRegset(tid, note, out: Buffer) -> bytes the kernel filled, or -errno. The
 * kernel shortens the iovec to the register set's real size (NT_X86_XSTATE varies with
 * the CPU's features), so out only needs to be large enough. */
static napi_value sl_ptrace_get_regset(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_INT(env, 1, note);
  SL_ARG_BUFFER(env, 2, out, len);
  struct iovec iov = {.iov_base = out, .iov_len = len};
  long rc = ptrace(PTRACE_GETREGSET, (pid_t)tid, (void *)(uintptr_t)(uint32_t)note, &iov);
  return sl_result(env, rc < 0 ? rc : (long)iov.iov_len);
}

/* ptraceDetach(tid, signal) -> 0 or -errno. The tracee must be in a ptrace-stop; it then
 * runs on (or, when its group was stopped before it was seized, stays stopped), with
 * signal delivered when non-zero (a signal that arrived while it was held). */
static napi_value sl_ptrace_detach(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_INT(env, 1, sig);
  return sl_result(env, ptrace(PTRACE_DETACH, (pid_t)tid, NULL, (void *)(uintptr_t)(uint32_t)sig));
}

void sl_ptrace_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"ptraceSeize", NULL, sl_ptrace_seize, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceInterrupt", NULL, sl_ptrace_interrupt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceWaitStop", NULL, sl_ptrace_wait_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceGetRegset", NULL, sl_ptrace_get_regset, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceDetach", NULL, sl_ptrace_detach, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
