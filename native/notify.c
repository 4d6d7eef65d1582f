/* The supervisor's system calls: seccomp user notification (recv, send, id_valid, addfd,
 * set_flags), reading a sandboxed process's memory, and pidfds. Each call returns the
 * kernel's answer as a number (>= 0 or -errno) rather than throwing: a notification whose
 * task died is routine for a supervisor, not an exception. Decisions are TypeScript's. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addon.h"

/* Newer than Debian 12's headers. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

/* The notification layout TypeScript decodes (src/supervise/notification.ts). */
_Static_assert(sizeof(struct seccomp_notif) == 80, "struct seccomp_notif is 80 bytes");
_Static_assert(offsetof(struct seccomp_notif, data) == 16, "seccomp_data at offset 16");

/* notifRecv(listener, out: Buffer(80)) -> 0 or -errno. One RECV per readiness event: it
 * blocks even on a non-blocking descriptor. */
static napi_value sl_notif_recv(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_BUFFER(env, 1, out, len);
  if (len < sizeof(struct seccomp_notif)) {
    napi_throw_range_error(env, "SL_ARGS", "notification buffer must hold 80 bytes");
    return NULL;
  }
  memset(out, 0, sizeof(struct seccomp_notif));
  return sl_result(env, ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, out));
}

/* notifSend(listener, id: Buffer(8), val, error, flags) -> 0 or -errno. */
static napi_value sl_notif_send(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 5);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_BUFFER(env, 1, idp, idlen);
  SL_ARG_I64(env, 2, val);
  SL_ARG_INT(env, 3, error);
  SL_ARG_INT(env, 4, flags);
  if (idlen < 8) {
    napi_throw_range_error(env, "SL_ARGS", "notification id must be 8 bytes");
    return NULL;
  }
  struct seccomp_notif_resp resp = {.val = val, .error = error, .flags = (uint32_t)flags};
  memcpy(&resp.id, idp, 8);
  return sl_result(env, ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp));
}

/* notifIdValid(listener, id: Buffer(8)) -> 0 when the notification is still pending. */
static napi_value sl_notif_id_valid(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_BUFFER(env, 1, idp, idlen);
  uint64_t id;
  if (idlen < 8) {
    napi_throw_range_error(env, "SL_ARGS", "notification id must be 8 bytes");
    return NULL;
  }
  memcpy(&id, idp, 8);
  return sl_result(env, ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id));
}

/* notifAddfd(listener, id, srcfd, newfd, addfdFlags, newfdFlags) -> the fd number in the
 * target, or -errno. With SECCOMP_ADDFD_FLAG_SEND it also answers the notification. */
static napi_value sl_notif_addfd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 6);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_BUFFER(env, 1, idp, idlen);
  SL_ARG_INT(env, 2, srcfd);
  SL_ARG_INT(env, 3, newfd);
  SL_ARG_INT(env, 4, flags);
  SL_ARG_INT(env, 5, newfd_flags);
  if (idlen < 8) {
    napi_throw_range_error(env, "SL_ARGS", "notification id must be 8 bytes");
    return NULL;
  }
  struct seccomp_notif_addfd add = {
      .flags = (uint32_t)flags, .srcfd = (uint32_t)srcfd, .newfd = (uint32_t)newfd, .newfd_flags = (uint32_t)newfd_flags};
  memcpy(&add.id, idp, 8);
  return sl_result(env, ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add));
}

/* notifSetSyncWakeup(listener) -> 0 or -errno: wake the supervisor on the notified task's
 * CPU, which on these VMs cuts a round trip from ~45 us to ~7 us. */
static napi_value sl_notif_set_sync_wakeup(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  return sl_result(env, ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP));
}

/* readMemory(pid, address, out: Buffer) -> bytes read, or -errno. The address is a
 * number: user-space addresses on x86_64 fit in 47 bits, exact in a double. Callers must
 * re-check the notification id afterwards before trusting what they read. */
static napi_value sl_read_memory(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, pid);
  SL_ARG_I64(env, 1, addr);
  SL_ARG_BUFFER(env, 2, out, len);
  struct iovec local = {.iov_base = out, .iov_len = len};
  struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
  return sl_result(env, process_vm_readv(pid, &local, 1, &remote, 1, 0));
}

/* writeMemory(pid, address, data: Buffer) -> bytes written, or -errno. Only ever into a
 * buffer the notified call itself handed over (a getdents or uname result). */
static napi_value sl_write_memory(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, pid);
  SL_ARG_I64(env, 1, addr);
  SL_ARG_BUFFER(env, 2, data, len);
  struct iovec local = {.iov_base = data, .iov_len = len};
  struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
  return sl_result(env, process_vm_writev(pid, &local, 1, &remote, 1, 0));
}

/* pidfdOpen(pid) -> pidfd (close-on-exec) or -errno. */
static napi_value sl_pidfd_open(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, pid);
  return sl_result(env, syscall(SYS_pidfd_open, pid, 0));
}

/* pidfdGetfd(pidfd, targetfd) -> a duplicate of the target's descriptor (close-on-exec),
 * or -errno. */
static napi_value sl_pidfd_getfd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, pidfd);
  SL_ARG_INT(env, 1, targetfd);
  return sl_result(env, syscall(SYS_pidfd_getfd, pidfd, targetfd, 0));
}

/* pidfdSendSignal(pidfd, signal) -> 0 or -errno. */
static napi_value sl_pidfd_send_signal(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, pidfd);
  SL_ARG_INT(env, 1, sig);
  return sl_result(env, syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

/* pollNow(fd) -> the poll(2) revents of fd right now (timeout 0), or -errno. libuv
 * reports a hang-up as readable; the supervisor asks the kernel directly to tell "no task
 * uses the filter any more" (POLLHUP) from "that notification vanished". */
static napi_value sl_poll_now(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  long rc = poll(&p, 1, 0);
  return rc < 0 ? sl_make_int(env, -errno) : sl_make_int(env, p.revents);
}

void sl_notify_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"notifRecv", NULL, sl_notif_recv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"notifSend", NULL, sl_notif_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"notifIdValid", NULL, sl_notif_id_valid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"notifAddfd", NULL, sl_notif_addfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"notifSetSyncWakeup", NULL, sl_notif_set_sync_wakeup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readMemory", NULL, sl_read_memory, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeMemory", NULL, sl_write_memory, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollNow", NULL, sl_poll_now, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, sl_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdGetfd", NULL, sl_pidfd_getfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdSendSignal", NULL, sl_pidfd_send_signal, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
