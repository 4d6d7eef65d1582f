/* `user` (SPEC 2.1): the command's process enters a user namespace of its own where the
 * policy's uid and gid are its own ids, mapped to the caller's. Nothing else changes: the
 * kernel checks every access with the caller's ids, as before. */
#include "launcher.h"

#define NR_unshare_ 272
#define CLONE_NEWUSER_ 0x10000000UL

/* "INNER OUTER 1\n" into /proc/self/<file>. */
static long write_map(const char *file, uint32_t inner, uint32_t outer) {
  char line[64], head[32];
  sl_fmt_path(head, "", inner, " ");
  sl_fmt_path(line, head, outer, " 1\n");
  long fd = SC4(NR_openat, AT_FDCWD, file, O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  long rc = sl_write_all((int)fd, line, sl_strlen(line));
  SC1(NR_close, fd);
  return rc;
}

/*
 * Payload of SL_STEP_USERNS: u32 uid, u32 gid (the ids the command appears to have), u32
 * outer uid, u32 outer gid (the caller's effective ids). Run by the command's process
 * before DROP_CAPS: unshare gives it every capability in the new namespace, which that
 * step then empties; unshare and setns are refused by the seccomp blocklist afterwards.
 * Each map is one line mapping the caller's own id, the one map the kernel lets the
 * namespace's creator write without CAP_SETUID/CAP_SETGID in the parent namespace (root
 * included: the check is made with the creds of the new namespace). The gid map needs
 * setgroups denied first, so the supplementary groups stay as they were and cannot be
 * dropped to get past a group-denied file.
 */
long sl_userns(const uint8_t *p, uint32_t len) {
  if (len < 16) return -EINVAL;
  uint32_t ids[4];
  memcpy(ids, p, sizeof ids);
  long rc = SC1(NR_unshare_, CLONE_NEWUSER_);
  if (rc < 0) return rc;
  rc = write_map("/proc/self/uid_map", ids[0], ids[2]);
  if (rc < 0) return rc;
  long fd = SC4(NR_openat, AT_FDCWD, "/proc/self/setgroups", O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  rc = sl_write_all((int)fd, "deny", 4);
  SC1(NR_close, fd);
  if (rc < 0) return rc;
  return write_map("/proc/self/gid_map", ids[1], ids[3]);
}
