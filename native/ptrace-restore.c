/* The ptrace calls a checkpoint restore adds to ptrace.c's: write a register set, resume a
 * tracee to its next system-call stop or ptrace-stop, set its signal mask; for the
 * capture, a thread's rseq registration, its robust-futex list, and whether two
 * descriptors share one open file description (kcmp). What to write and when is decided in
 * TypeScript (src/checkpoint/inject.ts); like ptrace.c, every call must come from Node's
 * main thread, the tracer. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

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

/* (tid, signal) -> 0 or -errno: resumes the tracee with `request`, delivering signal when
 * non-zero. */
static napi_value resume(napi_env env, napi_callback_info info, enum __ptrace_request request) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_INT(env, 1, sig);
  return sl_result(env, ptrace(request, (pid_t)tid, NULL, (void *)(uintptr_t)(uint32_t)sig));
}

/* ptraceSyscall(tid, signal): PTRACE_SYSCALL, the tracee runs to its next system-call entry
 * or exit (or other ptrace-stop). */
static napi_value sl_ptrace_syscall(napi_env env, napi_callback_info info) { return resume(env, info, PTRACE_SYSCALL); }

/* ptraceCont(tid, signal): PTRACE_CONT, the tracee runs to its next ptrace-stop (a
 * signal's: the restore's clone loop ends in int3). */
static napi_value sl_ptrace_cont(napi_env env, napi_callback_info info) { return resume(env, info, PTRACE_CONT); }

#ifndef PTRACE_SETSIGMASK
#define PTRACE_SETSIGMASK 0x420b
#endif

/* ptraceSetSigmask(tid, mask: Buffer of 8) -> 0 or -errno: the tracee's blocked-signal
 * mask, set without running it (a restore sets each thread's mask last, once no remote
 * call is left to be interrupted by a signal the mask lets through). */
static napi_value sl_ptrace_set_sigmask(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_BUFFER(env, 1, mask, len);
  if (len != 8) {
    errno = EINVAL;
    return sl_result(env, -1);
  }
  return sl_result(env, ptrace(PTRACE_SETSIGMASK, (pid_t)tid, (void *)(uintptr_t)len, mask));
}

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#define SL_KCMP_FILE 0

/* ptraceGetRseq(tid, out: Buffer of 24+) -> bytes filled or -errno: struct
 * ptrace_rseq_configuration (u64 address, u32 length, u32 signature, u32 flags, u32 pad);
 * the tracee must be in a ptrace-stop. */
static napi_value sl_ptrace_get_rseq(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_BUFFER(env, 1, out, len);
  if (len < 24) {
    errno = EINVAL;
    return sl_result(env, -1);
  }
  return sl_result(env, ptrace(PTRACE_GET_RSEQ_CONFIGURATION, (pid_t)tid, (void *)(uintptr_t)len, out));
}

/* getRobustList(tid, out: Buffer of 16+) -> 0 or -errno: the head pointer and length
 * get_robust_list(2) reports (needs ptrace read access to tid, which the tracer has). */
static napi_value sl_get_robust_list(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_BUFFER(env, 1, out, len);
  if (len < 16) {
    errno = EINVAL;
    return sl_result(env, -1);
  }
  uint64_t head = 0;
  size_t size = 0;
  long rc = syscall(SYS_get_robust_list, (int)tid, &head, &size);
  if (rc < 0) return sl_result(env, rc);
  uint64_t sz = size;
  memcpy(out, &head, 8);
  memcpy((char *)out + 8, &sz, 8);
  return sl_result(env, 0);
}

/* kcmpFile(pid1, fd1, pid2, fd2) -> 0 when both descriptors are one open file description,
 * 1 or 2 when not (kcmp's order), or -errno. */
static napi_value sl_kcmp_file(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 4);
  SL_ARG_INT(env, 0, pid1);
  SL_ARG_INT(env, 1, fd1);
  SL_ARG_INT(env, 2, pid2);
  SL_ARG_INT(env, 3, fd2);
  long rc = syscall(SYS_kcmp, (pid_t)pid1, (pid_t)pid2, SL_KCMP_FILE, (unsigned long)(uint32_t)fd1, (unsigned long)(uint32_t)fd2);
  return sl_result(env, rc);
}

void sl_ptrace_restore_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"ptraceSetRegset", NULL, sl_ptrace_set_regset, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceSyscall", NULL, sl_ptrace_syscall, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceCont", NULL, sl_ptrace_cont, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceSetSigmask", NULL, sl_ptrace_set_sigmask, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptraceGetRseq", NULL, sl_ptrace_get_rseq, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getRobustList", NULL, sl_get_robust_list, NULL, NULL, NULL, napi_enumerable, NULL},
      {"kcmpFile", NULL, sl_kcmp_file, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
