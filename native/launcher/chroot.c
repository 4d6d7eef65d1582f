/* chroot and fsMount (SPEC 2.1, docs/chroot.md): the launcher builds a mount namespace whose
 * root is the chroot directory (with the fsMount directories, /proc and /dev bound into it)
 * and the old root detached, then returns to its own; the command's process joins it with
 * setns before chdir. No chroot(2), no privilege on the host. */
#include "launcher.h"

#define NR_mount_ 165
#define NR_umount2_ 166
#define NR_pivot_root_ 155
#define NR_fchdir_ 81
#define NR_unshare_ 272
#define NR_setns_ 308
#define NR_open_tree_ 428
#define NR_move_mount_ 429
#define NR_mount_setattr_ 442
#define CLONE_NEWNS_ 0x00020000UL
#define MS_REC_ 16384UL
#define MS_PRIVATE_ (1UL << 18)
#define MNT_DETACH_ 2
#define OPEN_TREE_CLONE_ 1U
#define AT_RECURSIVE_ 0x8000U
#define AT_EMPTY_PATH_ 0x1000U
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4U
#define MOVE_MOUNT_T_EMPTY_PATH_ 0x40U
#define MOUNT_ATTR_RDONLY_ 1ULL
#define MOUNT_ATTR_NOSUID_ 2ULL
#define MOUNT_ATTR_NODEV_ 4ULL
#define RESOLVE_NO_MAGICLINKS_ 0x02ULL
#define RESOLVE_IN_ROOT_ 0x10ULL
#define FLAG_PROC 1U
#define FLAG_DEV 2U

struct chroot_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* The sandbox's mount namespace (O_CLOEXEC), from sl_chroot_prepare until the command's
 * process joined it (sl_chroot_enter) and the launcher dropped its copy (sl_chroot_forked). */
static long chroot_ns = -1;
/* The new root's mount (the chroot directory's clone), held until after the fork: the
 * signal-scope layers grant refer beneath it (scope.c, sl_chroot_root). */
static long chroot_root = -1;

long sl_chroot_root(void) { return chroot_root; }

static const char *next_string(const uint8_t **cur, const uint8_t *end) {
  const char *s = (const char *)*cur;
  const char *nul = *cur < end ? sl_memchr(*cur, '\0', (size_t)(end - *cur)) : NULL;
  if (nul == NULL) return NULL;
  *cur = (const uint8_t *)nul + 1;
  return s;
}

/* A recursive clone of the tree at host path `path` (its planned real path, opened
 * following no symbolic link: one swapped in since planning fails the start with ELOOP). */
static long clone_tree(const char *path) {
  struct sl_open_how how = {.flags = O_PATH | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
  long fd = SC4(NR_openat2, AT_FDCWD, path, &how, sizeof how);
  if (fd < 0) return fd;
  long tree = SC3(NR_open_tree_, fd, "", OPEN_TREE_CLONE_ | AT_RECURSIVE_ | AT_EMPTY_PATH_ | O_CLOEXEC);
  SC1(NR_close, fd);
  return tree;
}

/* Attaches `tree` at `at` inside the new root, resolved from the new root (RESOLVE_IN_ROOT)
 * and through no symbolic link: planning split the grants around these mount points, so a
 * link swapped in since (by anything that can write the chroot) fails the start with ELOOP
 * instead of moving the host's /proc under a grant that covers it whole. The mount point
 * must exist in the chroot directory (nothing is created there). */
static long attach(long root, long tree, const char *at) {
  struct sl_open_how how = {.flags = O_PATH | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_IN_ROOT_ | RESOLVE_NO_MAGICLINKS_ | RESOLVE_NO_SYMLINKS};
  long target = SC4(NR_openat2, root, at, &how, sizeof how);
  if (target < 0) return target;
  long rc = SC5(NR_move_mount_, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH_ | MOVE_MOUNT_T_EMPTY_PATH_);
  SC1(NR_close, target);
  return rc;
}

/* Flags on every mount of a clone (AT_RECURSIVE). The sandbox cannot clear them:
 * mount_setattr is on the blocklist and it holds no capability. */
static long restrict_tree(long tree, uint64_t attrs) {
  struct chroot_mount_attr attr = {.attr_set = attrs, .attr_clr = 0, .propagation = 0, .userns_fd = 0};
  return SC5(NR_mount_setattr_, tree, "", AT_EMPTY_PATH_ | AT_RECURSIVE_, &attr, sizeof attr);
}

/* `attrs`: the fsMount trees are nodev and nosuid as the root is (build); read-only ones give
 * EROFS to every write whatever the grants say. The host's /proc and /dev keep their own. */
static long bind_into(long root, const char *host, const char *at, uint64_t attrs) {
  long tree = clone_tree(host);
  if (tree < 0) return tree;
  long rc = attrs != 0 ? restrict_tree(tree, attrs) : 0;
  if (rc == 0) rc = attach(root, tree, at);
  SC1(NR_close, tree);
  return rc;
}

/* The new namespace's content, built while the launcher is in it: the root's clone attached
 * over the chroot directory itself, the binds inside it, then pivot_root into it and the
 * old root detached, with everything beneath it. */
static long build(const char *dir, uint32_t flags, const uint8_t *cur, const uint8_t *end) {
  long rc = SC5(NR_mount_, NULL, "/", NULL, MS_REC_ | MS_PRIVATE_, NULL);
  if (rc < 0) return rc;
  struct sl_open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
  long dfd = SC4(NR_openat2, AT_FDCWD, dir, &how, sizeof how);
  if (dfd < 0) return dfd;
  long root = SC3(NR_open_tree_, dfd, "", OPEN_TREE_CLONE_ | AT_RECURSIVE_ | AT_EMPTY_PATH_ | O_CLOEXEC);
  /* nodev: a device node inside the chroot directory (a root file system's own /dev/sda,
   * made by root some day) opens nothing; the device allowlist covers the host's /dev only.
   * nosuid: nothing in the root gains privilege by exec (NO_NEW_PRIVS holds anyway). */
  rc = root < 0 ? root : restrict_tree(root, MOUNT_ATTR_NODEV_ | MOUNT_ATTR_NOSUID_);
  if (rc == 0) rc = SC5(NR_move_mount_, root, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH_ | MOVE_MOUNT_T_EMPTY_PATH_);
  SC1(NR_close, dfd);
  if (rc < 0) {
    if (root >= 0) SC1(NR_close, root);
    return rc;
  }
  chroot_root = root;
  /* fsMount, in the plan's order (a mount point inside another mount comes after it). */
  while (cur < end) {
    const char *mode = next_string(&cur, end);
    if (mode == NULL) return -EINVAL;
    if (mode[0] == '\0') break;
    const char *at = next_string(&cur, end), *host = next_string(&cur, end);
    if (at == NULL || host == NULL) return -EINVAL;
    rc = bind_into(root, host, at, MOUNT_ATTR_NODEV_ | MOUNT_ATTR_NOSUID_ | (mode[0] == 'r' ? MOUNT_ATTR_RDONLY_ : 0));
    if (rc < 0) return rc;
  }
  /* The host's /proc and /dev, when the policy grants a path in them: Landlock's rules
   * (the /proc view, the device allowlist) decide what of them the command reaches. */
  if (flags & FLAG_PROC) rc = bind_into(root, "/proc", "/proc", 0);
  if (rc == 0 && (flags & FLAG_DEV)) rc = bind_into(root, "/dev", "/dev", 0);
  if (rc == 0) rc = SC1(NR_fchdir_, root);
  if (rc == 0) rc = SC5(NR_pivot_root_, ".", ".", NULL, NULL, NULL);
  if (rc == 0) rc = SC2(NR_umount2_, ".", MNT_DETACH_);
  if (rc == 0) rc = SC1(NR_chdir, "/");
  return rc;
}

/*
 * Payload of SL_STEP_CHROOT: u32 uid, u32 gid, u32 flags (1: bind /proc, 2: bind /dev), u32
 * pad, the chroot directory\0, then per fsMount "r" or "w"\0 virtual\0 host\0, then "\0".
 * Run by the launcher before its signal scope (a Landlock domain handling any filesystem
 * access may not mount) and the fork, after the workdir's overlay and fsDenied's covers,
 * which the new root's recursive clone then carries along. The launcher:
 *  1. a private mount namespace A of its own (and a user namespace for a caller other than
 *     root: ns.c), unless the overlay or the covers made it already (`own`);
 *  2. unshare a second one, B, and build the root there (build);
 *  3. setns back into A: the launcher keeps the host's paths (/proc for teardown) and only
 *     holds B by a descriptor. The command's process joins B (sl_chroot_enter), which sets
 *     its root and working directory to B's root: the chroot directory.
 * In B the host's root is gone: ".." at the root stays at the root, absolute symlinks,
 * /proc/self/root, getcwd and openat2 with any RESOLVE flag resolve in the chroot, because
 * no other path exists there. mount, umount2, pivot_root, setns, unshare and the mount API
 * are refused by the seccomp blocklist afterwards, and DROP_CAPS empties every capability.
 */
long sl_chroot_prepare(const uint8_t *p, uint32_t len, int own) {
  if (len < 17) return -EINVAL;
  uint32_t uid, gid, flags;
  memcpy(&uid, p, 4);
  memcpy(&gid, p + 4, 4);
  memcpy(&flags, p + 8, 4);
  const uint8_t *cur = p + 16, *end = p + len;
  const char *dir = next_string(&cur, end);
  if (dir == NULL) return -EINVAL;
  long rc = own ? 0 : sl_ns_private_mounts(uid, gid);
  if (rc < 0) return rc;
  long a = SC4(NR_openat, AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC, 0);
  if (a < 0) return a;
  rc = SC1(NR_unshare_, CLONE_NEWNS_);
  if (rc == 0) {
    chroot_ns = SC4(NR_openat, AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC, 0);
    rc = chroot_ns < 0 ? chroot_ns : build(dir, flags, cur, end);
    /* Back to A whatever happened (the launcher's own paths), unless the unshare failed. */
    long back = SC2(NR_setns_, a, CLONE_NEWNS_);
    if (rc == 0) rc = back;
  }
  SC1(NR_close, a);
  return rc;
}

/* SL_STEP_CHROOT in the command's process: join B (root and cwd become its root). Before
 * DROP_CAPS (setns needs CAP_SYS_ADMIN over B's user namespace, which this process holds as
 * the launcher did) and before `user`'s own user namespace, from which B is out of reach. */
long sl_chroot_enter(void) {
  if (chroot_ns < 0) return -EINVAL;
  long rc = SC2(NR_setns_, chroot_ns, CLONE_NEWNS_);
  SC1(NR_close, chroot_ns);
  chroot_ns = -1;
  if (chroot_root >= 0) SC1(NR_close, chroot_root);
  chroot_root = -1;
  return rc;
}

/* The launcher, once the command's process exists: it needs neither descriptor. */
void sl_chroot_forked(void) {
  if (chroot_ns >= 0) SC1(NR_close, chroot_ns);
  if (chroot_root >= 0) SC1(NR_close, chroot_root);
  chroot_ns = chroot_root = -1;
}

/* Whether the workdir's overlay or fsDenied's covers (run before) made the launcher's
 * private mount namespace already: the chroot's namespace is then made from that one. */
int sl_chroot_namespace_made(const struct sl_plan *plan) {
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    if (plan->steps[i].op == SL_STEP_COW || plan->steps[i].op == SL_STEP_DENY) return 1;
  }
  return 0;
}
