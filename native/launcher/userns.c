/* `user` (SPEC 2.1): the command's process enters a user namespace of its own where the
 * policy's uid and gid are its own ids, mapped to the caller's. Nothing else changes: the
 * kernel checks every access with the caller's ids, as before. */
#include "launcher.h"

#define NR_unshare_ 272
#define CLONE_NEWUSER_ 0x10000000UL

/*
 * Payload of SL_STEP_USERNS: u32 uid, u32 gid (the ids the command appears to have), u32
 * outer uid, u32 outer gid (the caller's effective ids). Run by the command's process
 * before DROP_CAPS: unshare gives it every capability in the new namespace, which that
 * step then empties (and the locked securebits keep exec from giving any back); unshare
 * and setns are refused by the seccomp blocklist afterwards. Inside a copy-on-write
 * workdir's namespace (cow.c) this one is nested in it, with the same outer ids.
 */
long sl_userns(const uint8_t *p, uint32_t len) {
  if (len < 16) return -EINVAL;
  uint32_t ids[4];
  memcpy(ids, p, sizeof ids);
  long rc = SC1(NR_unshare_, CLONE_NEWUSER_);
  if (rc < 0) return rc;
  return sl_ns_write_maps(ids[0], ids[2], ids[1], ids[3]);
}
