/* Calls the supervisor performs to answer for a sandboxed caller: capget on a process of
 * the sandbox (the caller's header copied, never re-read) and the peer of a pseudo-terminal
 * master (which terminal a path names). Each returns the kernel's answer; decisions are
 * TypeScript's. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* capget(version, pid, out: Buffer) -> 0 or -errno: the kernel's capget with a header of
 * our own holding version and pid, its data (12 bytes per 32-bit word the version has)
 * written into out, which must hold two words (24 bytes). */
static napi_value sl_capget(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_I64(env, 0, version);
  SL_ARG_INT(env, 1, pid);
  SL_ARG_BUFFER(env, 2, out, len);
  if (len < 2 * sizeof(struct __user_cap_data_struct)) {
    napi_throw_type_error(env, "SL_ARGS", "capget needs a 24-byte buffer");
    return NULL;
  }
  struct __user_cap_header_struct hdr = {(uint32_t)version, pid};
  return sl_result(env, syscall(SYS_capget, &hdr, out));
}

/* ptyPeer(master, flags) -> fd of the terminal's other end, or -errno (TIOCGPTPEER). */
static napi_value sl_pty_peer(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, flags);
  return sl_result(env, ioctl(fd, TIOCGPTPEER, flags));
}

/* ptyIndex(master) -> the number of the terminal a multiplexer's descriptor opened
 * (TIOCGPTN), or -errno. Never read from fdinfo's tty-index, whose text also lists the
 * locks taken through the file, which a sandbox can multiply. */
static napi_value sl_pty_index(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  unsigned int n = 0;
  if (ioctl(fd, TIOCGPTN, &n) < 0) return sl_make_int(env, -errno);
  return sl_make_int(env, (int64_t)n);
}

void sl_answer_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"capget", NULL, sl_capget, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptyPeer", NULL, sl_pty_peer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ptyIndex", NULL, sl_pty_index, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
