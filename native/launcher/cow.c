/* The copy-on-write workdir (issue 12, docs/cow.md): the command's process enters a mount
 * namespace of its own (and a user namespace unless it is root) and mounts an overlay on
 * the workdir, so every write lands in the stage's upper directory, never in the real tree. */
#include "launcher.h"

#define NR_mount_ 165
#define NR_fchdir_ 81
#define MS_RDONLY_ 1UL
#define MS_NOSUID_ 2UL
#define MS_NODEV_ 4UL
#define MS_NOEXEC_ 8UL
#define OPTS_MAX 4352
#define ENAMETOOLONG_ 36
#define NR_mkdirat_ 258
#define NR_move_mount_ 429
#define NR_fsopen_ 430
#define NR_fsconfig_ 431
#define NR_fsmount_ 432
#define FSOPEN_CLOEXEC_ 1U
#define FSCONFIG_SET_STRING_ 1U
#define FSCONFIG_CMD_CREATE_ 6U
#define FSMOUNT_CLOEXEC_ 1U
#define MOUNT_ATTR_NOSUID_ 0x2U
#define MOUNT_ATTR_NODEV_ 0x4U
#define MOUNT_ATTR_NOEXEC_ 0x8U
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4U

/* The stage's size-limited tmpfs (maxDisk), held until TypeScript took its duplicate. */
long sl_cow_stage_fd = -1;

/* maxDisk: a new tmpfs of that size (and one inode per KiB of it, at least 1024: inodes
 * cost kernel memory the size does not count) moved onto the stage directory, so the
 * overlay's upper and work directories live in it and a write past the size gets ENOSPC.
 * Returns the mount's descriptor (the cwd is then its root), or -errno. Made with the
 * mount API, whose descriptor names the new mount's root without a path lookup (a mount
 * placed on a directory is not entered through a descriptor of that directory). */
static long stage_quota(long sfd, uint64_t bytes) {
  char size[32], inodes[32];
  uint64_t n = bytes / 1024;
  sl_fmt_path(size, "", (long)bytes, "");
  sl_fmt_path(inodes, "", (long)(n < 1024 ? 1024 : n), "");
  long fs = SC2(NR_fsopen_, "tmpfs", FSOPEN_CLOEXEC_);
  if (fs < 0) return fs;
  long rc = SC5(NR_fsconfig_, fs, FSCONFIG_SET_STRING_, "size", size, 0);
  if (rc == 0) rc = SC5(NR_fsconfig_, fs, FSCONFIG_SET_STRING_, "nr_inodes", inodes, 0);
  if (rc == 0) rc = SC5(NR_fsconfig_, fs, FSCONFIG_SET_STRING_, "mode", "0700", 0);
  if (rc == 0) rc = SC5(NR_fsconfig_, fs, FSCONFIG_CMD_CREATE_, NULL, NULL, 0);
  long mnt = rc < 0 ? rc : SC3(NR_fsmount_, fs, FSMOUNT_CLOEXEC_, MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_ | MOUNT_ATTR_NOEXEC_);
  SC1(NR_close, fs);
  if (mnt < 0) return mnt;
  rc = SC5(NR_move_mount_, mnt, "", sfd, "", MOVE_MOUNT_F_EMPTY_PATH_ | 0x40U /* T_EMPTY_PATH */);
  if (rc == 0) rc = SC3(NR_mkdirat_, mnt, "upper", 0755);
  if (rc == 0) rc = SC3(NR_mkdirat_, mnt, "work", 0700);
  if (rc == 0) rc = SC1(NR_fchdir_, mnt);
  if (rc < 0) {
    SC1(NR_close, mnt);
    return rc;
  }
  return mnt;
}

/*
 * Payload of SL_STEP_COW: u32 reserved, u32 uid, u32 gid, u32 pad, u64 maxDisk (0: none),
 * workdir\0, stage\0.
 * Run by the launcher itself (main.c) before its signal scope and the fork: the scope's
 * Landlock layer handles refer (scope.c), and a domain handling any filesystem access
 * may not mount. The command's process inherits the namespaces and the overlay, and
 * applies chdir, DROP_CAPS, Landlock and seccomp after, as ever. The launcher:
 *  1. unshare: a new mount namespace; for a caller other than root a new user namespace
 *     too (unprivileged overlay mounts need one), where only the caller's own uid and gid
 *     are mapped (ns.c's sl_ns_write_id_maps). Root keeps the host's user namespace: it
 *     holds CAP_SYS_ADMIN already, and every owner stays mapped.
 *  2. every mount private: nothing done here propagates to the host;
 *  3. chdir into the stage (with maxDisk, into a tmpfs of that size moved onto it:
 *     stage_quota), then the overlay on the workdir's own path with upperdir and
 *     workdir given relative to it: mountinfo then shows "upperdir=upper", never the
 *     stage's path (SPEC 10). `userxattr`: whiteouts and opaque directories are recorded
 *     as user.overlay.* attributes, which a user namespace may write;
 *  4. the stage directory covered by an empty read-only tmpfs: the overlay holds its own
 *     references to upper and work, and no path from inside reaches them any more, even
 *     when the stage lies inside a granted tree;
 *  5. chdir("/"), so no process holds a reference into the covered stage.
 * Landlock's rules are opened after this step, on the overlay (the merged view): the
 * real directory's inodes are not reachable by any path of this namespace. The overlay
 * writes to its upper layer with the credentials it was mounted with (this process's,
 * before Landlock), so copy-up does not need a grant on the stage. Afterwards mount,
 * umount2, unshare and setns are refused by the seccomp blocklist and DROP_CAPS empties
 * the capability sets: the sandbox cannot take the overlay away.
 */
long sl_cow_mount(const uint8_t *p, uint32_t len) {
  if (len < 24) return -EINVAL;
  uint32_t uid, gid;
  uint64_t max_disk;
  memcpy(&uid, p + 4, 4);
  memcpy(&gid, p + 8, 4);
  memcpy(&max_disk, p + 16, 8);
  const char *workdir = (const char *)p + 24;
  const char *nul = sl_memchr(workdir, '\0', len - 24);
  if (nul == NULL) return -EINVAL;
  const char *stage = nul + 1;
  if ((const uint8_t *)stage >= p + len || sl_memchr(stage, '\0', (size_t)(p + len - (const uint8_t *)stage)) == NULL) return -EINVAL;
  long rc = sl_ns_private_mounts(uid, gid);
  if (rc < 0) return rc;
  /* The workdir and the stage as planned (their real paths), opened without following
   * any symbolic link: one swapped in since planning, by another process that can write a
   * parent, fails the start (ELOOP) instead of moving the overlay's lower layer (what the
   * sandbox reads) elsewhere. Every later use goes through these descriptors. */
  struct sl_open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
  long wfd = SC4(NR_openat2, AT_FDCWD, workdir, &how, sizeof how);
  if (wfd < 0) return wfd;
  long sfd = SC4(NR_openat2, AT_FDCWD, stage, &how, sizeof how);
  if (sfd < 0) return sfd;
  static char opts[OPTS_MAX], lower[32], cover[32];
  sl_fmt_path(lower, "/proc/self/fd/", wfd, "");
  sl_fmt_path(cover, "/proc/self/fd/", sfd, "");
  static const char head[] = "lowerdir=", tail[] = ",upperdir=upper,workdir=work,userxattr";
  size_t w = sl_strlen(lower);
  if (sizeof head - 1 + w + sizeof tail > sizeof opts) return -ENAMETOOLONG_;
  memcpy(opts, head, sizeof head - 1);
  memcpy(opts + sizeof head - 1, lower, w);
  memcpy(opts + sizeof head - 1 + w, tail, sizeof tail);
  if (max_disk > 0) {
    rc = stage_quota(sfd, max_disk);
    if (rc >= 0) sl_cow_stage_fd = rc;
  } else {
    rc = SC1(NR_fchdir_, sfd);
  }
  if (rc < 0) return rc;
  rc = SC5(NR_mount_, "overlay", lower, "overlay", MS_NOSUID_ | MS_NODEV_, opts);
  if (rc < 0) return rc;
  rc = SC5(NR_mount_, "tmpfs", cover, "tmpfs", MS_RDONLY_ | MS_NOSUID_ | MS_NODEV_ | MS_NOEXEC_, "size=4k,nr_inodes=1,mode=0");
  if (rc < 0) return rc;
  SC1(NR_close, wfd);
  SC1(NR_close, sfd);
  return SC1(NR_chdir, "/");
}
