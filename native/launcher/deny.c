/* fsDenied (SPEC 2.1, docs/security.md "Denied paths"): the launcher covers every denied
 * path with an empty, mode-000 inode of a read-only tmpfs in a mount namespace of its own,
 * before it forks, so the kernel itself refuses the path to the sandbox, race-free. */
#include "launcher.h"

#define NR_mount_ 165
#define NR_umount2_ 166
#define NR_fsopen_ 430
#define NR_fsconfig_ 431
#define NR_fsmount_ 432
#define NR_move_mount_ 429
#define MS_RDONLY_ 1UL
#define MS_NOSUID_ 2UL
#define MS_NODEV_ 4UL
#define MS_NOEXEC_ 8UL
#define MS_BIND_ 4096UL
#define MNT_DETACH_ 2
#define FSOPEN_CLOEXEC_ 1
#define FSCONFIG_SET_FLAG_ 0
#define FSCONFIG_SET_STRING_ 1
#define FSCONFIG_CMD_CREATE_ 6
#define FSCONFIG_CMD_RECONFIGURE_ 7
#define FSMOUNT_CLOEXEC_ 1
#define MOUNT_ATTR_NOSUID_ 2
#define MOUNT_ATTR_NODEV_ 4
#define MOUNT_ATTR_NOEXEC_ 8
#define MOVE_MOUNT_F_EMPTY_PATH_ 4
#define MOVE_MOUNT_T_EMPTY_PATH_ 0x40
#define NR_open_tree_ 428
#define NR_mount_setattr_ 442
#define OPEN_TREE_CLONE_ 1
#define AT_EMPTY_PATH_ 0x1000
#define MOUNT_ATTR_RDONLY_ 1
#define KIND_FILE 0
#define KIND_DIR 1
#define KIND_READ_ONLY 2
#define KIND_PIN 3
#define O_CREAT_ 0100
#define O_EXCL_ 0200
#define ENOTDIR_ 20
#define EISDIR_ 21
#define EMLINK_ 31
#define ENAMETOOLONG_ 36
#define S_IFMT_ 0170000u
#define S_IFDIR_ 0040000u

/* State across the DENY steps of one plan (the launcher is one thread before its fork). */
static int private_ns;      /* 1 once this process is in a mount namespace of its own */
static long source = -1;    /* the empty mode-000 file a denied file is covered with */
static long source_mnt = -1; /* its tmpfs, attached over a directory until sl_deny_finish */

/* COW (cow.c) unshared already: the denial mounts then go into that namespace. */
void sl_deny_namespace_ready(void) { private_ns = 1; }

/* A mount namespace of our own (and for a caller other than root a user namespace where
 * only its own uid and gid are mapped), every mount private: as cow.c, nothing done here
 * reaches the host, and the command's process inherits it at the fork. */
static long enter_namespace(uint32_t uid, uint32_t gid) {
  if (private_ns) return 0;
  long rc = sl_ns_private_mounts(uid, gid);
  if (rc < 0) return rc;
  private_ns = 1;
  return 0;
}

static long set_string(long fs, const char *key, const char *value) {
  return SC5(NR_fsconfig_, fs, FSCONFIG_SET_STRING_, key, value, 0);
}

/* The file source: a fresh tmpfs (new mount API: it is never reached by a path while it is
 * made, so nothing can be swapped into it), one file made in it with mode 0, then the
 * whole superblock made read-only: every bind of that file refuses writes (EROFS) and its
 * mode refuses every open but O_PATH (EACCES) to a process without capabilities, which
 * the command is (DROP_CAPS). The tmpfs is attached over `scratch` (the denied file's
 * parent, in this private namespace, for as long as the bind takes) because a bind of a
 * detached mount's file is refused by older kernels; sl_deny_finish detaches it again. */
static long make_source(long scratch) {
  long fs = SC2(NR_fsopen_, "tmpfs", FSOPEN_CLOEXEC_);
  if (fs < 0) return fs;
  long rc = set_string(fs, "mode", "0700");
  if (rc == 0) rc = set_string(fs, "size", "4k");
  if (rc == 0) rc = set_string(fs, "nr_inodes", "2");
  if (rc == 0) rc = SC5(NR_fsconfig_, fs, FSCONFIG_CMD_CREATE_, NULL, NULL, 0);
  long mnt = rc < 0 ? rc : SC3(NR_fsmount_, fs, FSMOUNT_CLOEXEC_, MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_ | MOUNT_ATTR_NOEXEC_);
  if (mnt < 0) {
    SC1(NR_close, fs);
    return mnt;
  }
  /* Made, closed (a file open for writing would keep the remount read-only from
   * succeeding: EBUSY), then held as O_PATH, which is all a bind source needs. */
  long f = SC4(NR_openat, mnt, "denied", O_WRONLY | O_CREAT_ | O_EXCL_ | O_CLOEXEC, 0);
  if (f >= 0) {
    SC1(NR_close, f);
    f = SC4(NR_openat, mnt, "denied", O_PATH | O_CLOEXEC, 0);
  }
  rc = f < 0 ? f : SC5(NR_fsconfig_, fs, FSCONFIG_SET_FLAG_, "ro", NULL, 0);
  if (rc == 0) rc = SC5(NR_fsconfig_, fs, FSCONFIG_CMD_RECONFIGURE_, NULL, NULL, 0);
  if (rc == 0) rc = SC5(NR_move_mount_, mnt, "", scratch, "", MOVE_MOUNT_F_EMPTY_PATH_ | MOVE_MOUNT_T_EMPTY_PATH_);
  SC1(NR_close, fs);
  if (rc < 0) {
    if (f >= 0) SC1(NR_close, f);
    SC1(NR_close, mnt);
    return rc;
  }
  source = f;
  source_mnt = mnt;
  return 0;
}

/* The parent directory of an absolute path, opened as the target was (no link followed). */
static long open_parent(const char *path) {
  static char parent[4096];
  size_t n = sl_strlen(path), cut = 0;
  for (size_t i = 0; i < n; i++) if (path[i] == '/') cut = i;
  if (n >= sizeof parent) return -ENAMETOOLONG_;
  memcpy(parent, path, cut == 0 ? 1 : cut);
  parent[cut == 0 ? 1 : cut] = '\0';
  struct sl_open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
  return SC4(NR_openat2, AT_FDCWD, parent, &how, sizeof how);
}

struct sl_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* protectedFiles (docs/security.md, "Protected files"): a bind of the path onto itself,
 * read-only (KIND_READ_ONLY: reads and exec as before, every write, create, remove,
 * rename inside EROFS, and the name itself EBUSY for unlink and rename) or as it was
 * (KIND_PIN: only the name is held, so a protected directory's parent, .git, cannot be
 * renamed away and replaced by one the sandbox made). open_tree clones the one mount at
 * the descriptor (no path is looked up again), mount_setattr sets its flags while it is
 * still detached, move_mount puts it on the same place. */
static long protect(long t, int read_only) {
  long tree = SC3(NR_open_tree_, t, "", OPEN_TREE_CLONE_ | AT_EMPTY_PATH_ | O_CLOEXEC);
  if (tree < 0) return tree;
  long rc = 0;
  if (read_only) {
    struct sl_mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY_ | MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_, .attr_clr = 0, .propagation = 0, .userns_fd = 0};
    rc = SC5(NR_mount_setattr_, tree, "", AT_EMPTY_PATH_, &attr, sizeof attr);
  }
  if (rc == 0) rc = SC5(NR_move_mount_, tree, "", t, "", MOVE_MOUNT_F_EMPTY_PATH_ | MOVE_MOUNT_T_EMPTY_PATH_);
  SC1(NR_close, tree);
  return rc;
}

/*
 * Payload of SL_STEP_DENY: u32 uid, u32 gid, u32 kind (KIND_*), u32 pad, path\0 (its real
 * path, as planning resolved it). KIND_READ_ONLY and KIND_PIN are protect()'s. One step per denied path; run
 * by the launcher before its signal scope (a Landlock domain may not mount) and the fork.
 *  1. the private namespace (unless the workdir's step made it);
 *  2. the path opened without following any symbolic link: one swapped in since planning
 *     fails the start (ELOOP) rather than moving the cover elsewhere; its type must be the
 *     one planned, and a file must have one name (st_nlink 1): another name inside a grant
 *     would reach the same inode uncovered (planning refused it; this closes the window
 *     between planning and this step);
 *  3. a directory gets a tmpfs of its own, read-only, root mode 0, one inode: opening,
 *     listing, searching, creating in it are refused (EACCES, EROFS), and the names under
 *     it are not reachable at all; a file gets a bind of the source file (make_source).
 * In both cases the denied path is now a mount point: unlink, rmdir and rename of it give
 * EBUSY, link of it EXDEV, and every lookup (symlinks, "..", /proc/self/fd re-opens,
 * openat2 with any RESOLVE flags) ends on the cover. A rename of a parent carries the
 * mount along. The sandbox cannot unmount it: umount2 and the mount API are refused by the
 * seccomp blocklist, and it holds no capability.
 */
long sl_deny_mount(const uint8_t *p, uint32_t len) {
  if (len < 17 || p[len - 1] != '\0') return -EINVAL;
  uint32_t uid, gid, kind;
  memcpy(&uid, p, 4);
  memcpy(&gid, p + 4, 4);
  memcpy(&kind, p + 8, 4);
  const char *path = (const char *)p + 16;
  long rc = enter_namespace(uid, gid);
  if (rc < 0) return rc;
  struct sl_open_how how = {.flags = O_PATH | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
  long t = SC4(NR_openat2, AT_FDCWD, path, &how, sizeof how);
  if (t < 0) return t;
  if (kind == KIND_READ_ONLY || kind == KIND_PIN) {
    rc = protect(t, kind == KIND_READ_ONLY);
    SC1(NR_close, t);
    return rc;
  }
  unsigned char st[144];
  rc = SC2(NR_fstat, t, st);
  uint64_t nlink;
  uint32_t mode;
  memcpy(&nlink, st + 16, 8);
  memcpy(&mode, st + 24, 4);
  int dir = (mode & S_IFMT_) == S_IFDIR_;
  if (rc == 0 && dir != (kind == KIND_DIR)) rc = dir ? -EISDIR_ : -ENOTDIR_;
  if (rc == 0 && !dir && nlink > 1) rc = -EMLINK_;
  static char target[32], from[32];
  sl_fmt_path(target, "/proc/self/fd/", t, "");
  if (rc == 0 && dir) {
    rc = SC5(NR_mount_, "tmpfs", target, "tmpfs", MS_RDONLY_ | MS_NOSUID_ | MS_NODEV_ | MS_NOEXEC_, "size=4k,nr_inodes=1,mode=0");
  } else if (rc == 0) {
    /* A source of its own for each file: its tmpfs covers the file's parent while the bind
     * is made (through the descriptor opened before), and leaves it at once, so it never
     * hides a path a later step opens. */
    long scratch = open_parent(path);
    rc = scratch < 0 ? scratch : make_source(scratch);
    if (scratch >= 0) SC1(NR_close, scratch);
    if (rc == 0) {
      sl_fmt_path(from, "/proc/self/fd/", source, "");
      rc = SC5(NR_mount_, from, target, NULL, MS_BIND_, NULL);
      long done = sl_deny_finish();
      if (rc == 0) rc = done;
    }
  }
  SC1(NR_close, t);
  return rc;
}

/* The source's tmpfs leaves the directory it covered (the bind keeps its own reference to
 * it); after each file's bind, and once more after the last step (then a no-op). */
long sl_deny_finish(void) {
  if (source_mnt < 0) return 0;
  static char at[32];
  sl_fmt_path(at, "/proc/self/fd/", source_mnt, "");
  long rc = SC2(NR_umount2_, at, MNT_DETACH_);
  SC1(NR_close, source_mnt);
  SC1(NR_close, source);
  source = source_mnt = -1;
  return rc;
}
