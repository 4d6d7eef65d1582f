/* The kernel-native view (prototype, plan option): the command's process is cloned into new
 * user, mount, pid, net, uts, ipc and cgroup namespaces (main.c takes the flags from the step), and
 * this step builds its root: a tmpfs holding only the granted paths, a fresh procfs, lo. */
#include "launcher.h"

#define NR_ioctl_ 16
#define NR_socket 41
#define NR_mkdirat 258
#define NR_symlinkat 266
#define NR_pivot_root 155
#define NR_mount 165
#define NR_umount2 166
#define NR_sethostname 170
#define NR_geteuid_ 107
#define NR_unshare_ 272
#define O_CREAT_ 0100
#define O_EXCL_ 0200
#define O_NOFOLLOW_ 0400000
#define EEXIST_ 17
#define MS_RDONLY_ 1UL
#define MS_NOSUID_ 2UL
#define MS_NODEV_ 4UL
#define MS_NOEXEC_ 8UL
#define MS_REMOUNT_ 32UL
#define MS_BIND_ 4096UL
#define MS_REC_ 16384UL
#define MS_PRIVATE_ (1UL << 18)
#define MNT_DETACH_ 2
#define NR_open_tree_ 428
#define NR_move_mount_ 429
#define OPEN_TREE_CLONE_ 1U
#define AT_RECURSIVE_ 0x8000U
#define AT_EMPTY_PATH_ 0x1000U
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4U
#define SIOCGIFFLAGS_ 0x8913
#define SIOCSIFFLAGS_ 0x8914
#define IFF_UP_ 1

/* Which namespaces: user, mount, pid, net, uts, ipc and cgroup (clone(2) flags). The
 * cgroup namespace roots /proc/self/cgroup at the launcher's cgroup: without it the
 * sandbox read the host's cgroup path there (the eighteenth review). */
#define SL_NS_CLONE_FLAGS (0x10000000UL | 0x00020000UL | 0x20000000UL | 0x40000000UL | 0x04000000UL | 0x08000000UL | 0x02000000UL)

/* Payload of SL_STEP_NS_VIEW: u32 reserved, u32 outer uid, u32 outer gid, u32 pad, the
 * staging directory\0, then operations, each "<op char>\0" and its strings, then "\0". */

unsigned long sl_ns_view_flags(void) { return SL_NS_CLONE_FLAGS; }

unsigned long sl_ns_clone_flags(const struct sl_plan *plan) {
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    if (plan->steps[i].op == SL_STEP_NS_VIEW) return SL_NS_CLONE_FLAGS;
  }
  return 0;
}

#define PATH_MAX_ 4096
#define OLD "/old"
#define NEW "/new"

static long write_file(const char *path, const char *text, size_t len, int create) {
  long fd = SC4(NR_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT_ | O_EXCL_ | O_NOFOLLOW_ : 0), 0444);
  if (fd < 0) return fd;
  long rc = sl_write_all((int)fd, text, len);
  SC1(NR_close, fd);
  return rc;
}

/* Decimal "a b n\n" for the id maps. */
static size_t fmt_map(char *buf, uint32_t inner, uint32_t outer, uint32_t count) {
  uint32_t v[3] = {inner, outer, count};
  size_t n = 0;
  for (int k = 0; k < 3; k++) {
    char tmp[12];
    int t = 0;
    uint32_t x = v[k];
    do {
      tmp[t++] = (char)('0' + x % 10);
      x /= 10;
    } while (x != 0);
    while (t > 0) buf[n++] = tmp[--t];
    buf[n++] = k == 2 ? '\n' : ' ';
  }
  return n;
}

/* Run by the launcher right after the clone. As root (CAP_SETUID and CAP_SETGID in the
 * parent namespace, which the child lacks: "0 0 4294967295" written by the child itself is
 * EPERM) it maps the whole id range to itself, so every file shows its real owner; then it
 * tells the child on the ack pipe: 0 when the maps are written, else an errno, and the
 * child maps only itself. */
void sl_ns_map_child(pid_t child, int ack_wr) {
  int32_t answer = EPERM;
  if (SC0(NR_geteuid_) == 0) {
    char path[48], buf[40];
    size_t n = fmt_map(buf, 0, 0, 0xffffffffu);
    sl_fmt_path(path, "/proc/", child, "/uid_map");
    long rc = write_file(path, buf, n, 0);
    if (rc == 0) {
      sl_fmt_path(path, "/proc/", child, "/gid_map");
      rc = write_file(path, buf, n, 0);
    }
    answer = rc < 0 ? (int32_t)-rc : 0;
  }
  sl_write_all(ack_wr, &answer, sizeof answer);
}

/* The maps of a user namespace this process just made: one uid and one gid, `inner` in it
 * for `outer` (the caller's own) outside; everyone else's show as the overflow id (65534).
 * The one map the kernel lets the namespace's creator write without CAP_SETUID/CAP_SETGID
 * in the parent namespace (root included: the check is made with the new namespace's
 * creds). setgroups is denied first, as the kernel requires of such a gid map: the
 * supplementary groups stay, and cannot be dropped to get past a group-denied file. */
long sl_ns_write_maps(uint32_t inner_uid, uint32_t outer_uid, uint32_t inner_gid, uint32_t outer_gid) {
  char buf[40];
  long rc = write_file("/proc/self/setgroups", "deny", 4, 0);
  if (rc < 0) return rc;
  size_t n = fmt_map(buf, inner_uid, outer_uid, 1);
  rc = write_file("/proc/self/uid_map", buf, n, 0);
  if (rc < 0) return rc;
  n = fmt_map(buf, inner_gid, outer_gid, 1);
  return write_file("/proc/self/gid_map", buf, n, 0);
}

/* Without the launcher's maps: the caller's own uid and gid map to themselves (1:1), so its
 * files keep their owner. */
long sl_ns_write_id_maps(uint32_t uid, uint32_t gid) {
  return sl_ns_write_maps(uid, uid, gid, gid);
}

/* A mount namespace of the launcher's own, with every mount private (nothing mounted in it
 * reaches the host), and for a caller other than root a user namespace too, where only its
 * own uid and gid are mapped (unprivileged mounts need one). Root keeps the host's user
 * namespace: it holds CAP_SYS_ADMIN already, and every owner stays mapped. Used by the
 * workdir's overlay (cow.c) and fsDenied's covers (deny.c). */
long sl_ns_private_mounts(uint32_t uid, uint32_t gid) {
  int root = SC0(NR_geteuid_) == 0;
  long rc = SC1(NR_unshare_, 0x00020000UL /* CLONE_NEWNS */ | (root ? 0 : 0x10000000UL /* CLONE_NEWUSER */));
  if (rc < 0) return rc;
  if (!root) {
    rc = sl_ns_write_id_maps(uid, gid);
    if (rc < 0) return rc;
  }
  return SC5(NR_mount, NULL, "/", NULL, MS_REC_ | MS_PRIVATE_, NULL);
}

/* The new net namespace has only lo, down: bring it up so the sandbox can talk to itself. */
static long loopback_up(void) {
  struct {
    char name[16];
    short flags;
    char pad[22];
  } ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.name, "lo", 3);
  long fd = SC3(NR_socket, 2 /* AF_INET */, 2 /* SOCK_DGRAM */ | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  long rc = SC3(NR_ioctl_, fd, SIOCGIFFLAGS_, &ifr);
  if (rc == 0) {
    ifr.flags |= IFF_UP_;
    rc = SC3(NR_ioctl_, fd, SIOCSIFFLAGS_, &ifr);
  }
  SC1(NR_close, fd);
  return rc;
}

/* prefix + path into buf; paths are absolute. */
static int join(char *buf, const char *prefix, const char *path) {
  size_t a = sl_strlen(prefix), b = sl_strlen(path);
  if (a + b + 1 > PATH_MAX_ || path[0] != '/') return -EINVAL;
  memcpy(buf, prefix, a);
  memcpy(buf + a, path, b + 1);
  return 0;
}

/* mkdir -p, in the new root's tmpfs (never inside a bind: the plan orders binds after
 * their parents and binds nothing inside another bind). */
static long mkdirs(char *path, size_t from) {
  for (size_t i = from + 1;; i++) {
    char c = path[i];
    if (c != '/' && c != '\0') continue;
    path[i] = '\0';
    long rc = SC3(NR_mkdirat, AT_FDCWD, path, 0755);
    path[i] = c;
    if (rc < 0 && rc != -EEXIST_) return rc;
    if (c == '\0') return 0;
  }
}

static long parent_dirs(char *path, size_t from) {
  size_t end = sl_strlen(path);
  while (end > from && path[end] != '/') end--;
  if (end <= from) return 0;
  path[end] = '\0';
  long rc = mkdirs(path, from);
  path[end] = '/';
  return rc;
}

static long touch(const char *path) {
  long fd = SC4(NR_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC | O_CREAT_ | O_NOFOLLOW_, 0444);
  if (fd < 0) return fd;
  SC1(NR_close, fd);
  return 0;
}

/* A read-only bind of `src`, a file of the staging tmpfs, over `dst`. A bind copies its
 * source mount's flags, so the staging tmpfs is made read-only, nosuid, nodev and noexec
 * once, at the first such bind (pass 1: every content file exists by then), and each
 * bind is then one call instead of a bind and a remount of it: the mount is read-only
 * whatever the file's mode (its owner is root of the sandbox's own user namespace). */
static int staging_sealed;

static long bind_ro(const char *src, const char *dst) {
  if (!staging_sealed) {
    long rc = SC5(NR_mount, NULL, "/", NULL, MS_REMOUNT_ | MS_BIND_ | MS_RDONLY_ | MS_NOSUID_ | MS_NODEV_ | MS_NOEXEC_, NULL);
    if (rc < 0) return rc;
    staging_sealed = 1;
  }
  return SC5(NR_mount, src, dst, NULL, MS_BIND_, NULL);
}

static const char *next_string(const uint8_t **cur, const uint8_t *end) {
  const char *s = (const char *)*cur;
  const char *nul = *cur < end ? sl_memchr(*cur, '\0', (size_t)(end - *cur)) : NULL;
  if (nul == NULL) return NULL;
  *cur = (const uint8_t *)nul + 1;
  return s;
}

/* Writes `value` to the per-user limit `name` in `dir` (a /proc/sys/user/ of this
 * process's user namespace, through whichever procfs the caller reaches it by): the kernel
 * picks the table by the writer's user namespace, and the write needs CAP_SYS_RESOURCE
 * there. Only a "max_..." name without a slash. The limits are charged at every level of
 * user namespaces up to the host's, and a level refuses once its own is reached, so a
 * limit below the caller's leaves the rest to its uid's processes outside (the twentieth
 * review). Used by the kernel view's 'U' operation and the inotify broker (broker.c). */
long sl_ns_user_limit(const char *dir, const char *name, const char *value) {
  char path[128];
  size_t d = sl_strlen(dir), n = sl_strlen(name);
  if (n < 4 || n >= 40 || d + n >= sizeof path || memcmp(name, "max_", 4) != 0 || sl_memchr(name, '/', n) != NULL) return -EINVAL;
  memcpy(path, dir, d);
  memcpy(path + d, name, n + 1);
  return write_file(path, value, sl_strlen(value), 0);
}

/* One operation, in one of two passes. Pass 0 only creates, in the new root's tmpfs:
 * directories, symlinks, the empty files binds land on. Pass 1 only mounts. Since no
 * bind exists during pass 0, nothing the plan names can make the launcher create a file
 * in a granted host directory. `files` counts the content files of the staging tmpfs. */
static long run_op(char op, const uint8_t **cur, const uint8_t *end, int pass, int *files) {
  static char dst[PATH_MAX_ + 8], src[PATH_MAX_ + 8];
  const char *path = next_string(cur, end);
  if (path == NULL) return -EINVAL;
  /* the policy's name, in the sandbox's own uts namespace */
  if (op == 'N') return pass == 0 ? 0 : SC2(NR_sethostname, path, sl_strlen(path));
  if (op == 'U') {
    const char *value = next_string(cur, end);
    if (value == NULL) return -EINVAL;
    if (pass != 0) return 0;
    /* The sandbox's own namespace (the plan carries half of the caller's limits,
     * kernel-view.ts), written while this process holds CAP_SYS_RESOURCE there (until
     * DROP_CAPS), through the host's procfs at /old; a limit the kernel lacks is skipped. */
    long rc = sl_ns_user_limit(OLD "/proc/sys/user/", path, value);
    return rc == -ENOENT ? 0 : rc;
  }
  if (join(dst, NEW, path) < 0) return -EINVAL;
  const char *arg = NULL;
  if (op == 'L' || op == 'W') {
    arg = next_string(cur, end);
    if (arg == NULL) return -EINVAL;
  }
  size_t root = sl_strlen(NEW);
  long rc;
  if (pass == 0) {
    switch (op) {
      case 'D': /* an empty directory (an ancestor of grants, or the working directory) */
      case 'B':
      case 'P':
        return mkdirs(dst, root);
      case 'L': /* a symlink, as on the host (/lib -> usr/lib) */
        rc = parent_dirs(dst, root);
        if (rc < 0) return rc;
        rc = SC3(NR_symlinkat, arg, AT_FDCWD, dst);
        return rc == -EEXIST_ ? 0 : rc;
      case 'F':
        rc = parent_dirs(dst, root);
        return rc < 0 ? rc : touch(dst);
      case 'H':
        return 0;
      case 'W': {
        char name[32];
        sl_fmt_path(name, "/file", (*files)++, "");
        return write_file(name, arg, sl_strlen(arg), 1);
      }
      default:
        return -EINVAL;
    }
  }
  switch (op) {
    case 'B':   /* a granted directory, with every mount beneath it */
    case 'F': { /* a granted file or device node, bound onto an empty file */
      if (join(src, OLD, path) < 0) return -EINVAL;
      /* The planned real path, opened following no symbolic link: mount(2) would follow
       * one swapped in since planning and bind its target at the granted path, where the
       * Landlock rule (opened on the new root's path, no link there) would then grant it.
       * ELOOP fails the start instead, as the supervised view's rule step does. */
      struct sl_open_how how = {.flags = O_PATH | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_NO_SYMLINKS};
      long fd = SC4(NR_openat2, AT_FDCWD, src, &how, sizeof how);
      /* Gone since planning: it needs no bind (as a Landlock rule's ENOENT in steps.c). */
      if (fd == -ENOENT) return 0;
      if (fd < 0) return fd;
      long tree = SC3(NR_open_tree_, fd, "", OPEN_TREE_CLONE_ | AT_RECURSIVE_ | AT_EMPTY_PATH_ | O_CLOEXEC);
      SC1(NR_close, fd);
      if (tree < 0) return tree;
      rc = SC5(NR_move_mount_, tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH_);
      SC1(NR_close, tree);
      return rc;
    }
    case 'P': /* the fresh procfs: only this pid namespace's processes */
      return SC5(NR_mount, "proc", dst, "proc", MS_NOSUID_ | MS_NODEV_ | MS_NOEXEC_, NULL);
    case 'H': /* a hidden file: an empty read-only file over it */
      rc = bind_ro("/empty", dst);
      return rc == -ENOENT ? 0 : rc;
    case 'W': { /* a static virtual file: its content, read-only, over the real one */
      char name[32];
      sl_fmt_path(name, "/file", (*files)++, "");
      rc = bind_ro(name, dst);
      return rc == -ENOENT ? 0 : rc;
    }
    default:
      return 0; /* D, L: done in pass 0 */
  }
}

/*
 * Runs in the command's process, already in its new namespaces (pid 1 of its own pid
 * namespace, all capabilities in its own user namespace until DROP_CAPS). The order:
 *  1. id maps (the launcher's whole-range map for root, sl_ns_map_child), lo up;
 *  2. every mount private, so nothing done here propagates to the host;
 *  3. a staging tmpfs over the staging directory, pivoted to: the host's root is then at
 *     /old, the new root (a second tmpfs) at /new, the content files at /;
 *  4. the plan's operations, in two passes (run_op): every directory, symlink and empty
 *     file first, then the mounts (binds from /old into /new, the fresh procfs, the
 *     overmounts), so no operation can create anything inside a granted host directory;
 *  5. pivot_root into /new and detach the old root with everything under it: from here on
 *     no host path but the granted ones exists in this mount namespace;
 *  6. the new root's tmpfs read-only (the binds keep their own flags).
 * The mount, umount2, pivot_root, unshare and setns calls are refused afterwards by the
 * seccomp blocklist, and DROP_CAPS empties the capability sets: the sandbox cannot undo it.
 */
/* The part of the root's construction no plan changes: the id maps (the launcher's, or
 * the caller's own), lo up, every mount private, the staging tmpfs pivoted to (the host's
 * root at /old) and the new root's tmpfs at /new. A standby launcher's child runs it ahead
 * (standby.c); the NS_VIEW step then checks that its staging directory and ids are the
 * plan's. */
static struct {
  int done;    /* 1: entered already (by a standby's child), with these */
  long result; /* its outcome, reported by the NS_VIEW step */
  uint32_t uid, gid;
  char staging[256];
} entered;

long sl_ns_view_enter(const char *staging, uint32_t uid, uint32_t gid, int ack) {
  int32_t mapped = EIO;
  long rc = SL_RETRY(SC3(NR_read, ack, &mapped, sizeof mapped));
  if (rc != (long)sizeof mapped || mapped != 0) {
    rc = sl_ns_write_id_maps(uid, gid);
    if (rc < 0) return rc;
  }
  rc = loopback_up();
  if (rc < 0) return rc;
  rc = SC5(NR_mount, NULL, "/", NULL, MS_REC_ | MS_PRIVATE_, NULL);
  if (rc < 0) return rc;
  rc = SC5(NR_mount, "tmpfs", staging, "tmpfs", MS_NOSUID_ | MS_NODEV_, "mode=0755");
  if (rc < 0) return rc;
  rc = SC1(NR_chdir, staging);
  if (rc == 0) rc = SC3(NR_mkdirat, AT_FDCWD, "old", 0755);
  if (rc == 0) rc = SC3(NR_mkdirat, AT_FDCWD, "new", 0755);
  if (rc == 0) rc = SC5(NR_pivot_root, ".", "old", NULL, NULL, NULL);
  if (rc == 0) rc = SC1(NR_chdir, "/");
  if (rc == 0) rc = SC5(NR_mount, "tmpfs", NEW, "tmpfs", MS_NOSUID_ | MS_NODEV_, "mode=0755");
  if (rc == 0) rc = touch("/empty");
  return rc;
}

void sl_ns_view_enter_ahead(const char *staging, uint32_t uid, uint32_t gid, int ack) {
  size_t n = sl_strlen(staging);
  entered.done = 1;
  entered.uid = uid;
  entered.gid = gid;
  if (n >= sizeof entered.staging) {
    entered.result = -ENAMETOOLONG;
    return;
  }
  memcpy(entered.staging, staging, n + 1);
  entered.result = sl_ns_view_enter(staging, uid, gid, ack);
}

long sl_ns_view(const uint8_t *p, uint32_t len, int ack) {
  if (len < 16) return -EINVAL;
  uint32_t uid, gid;
  memcpy(&uid, p + 4, 4);
  memcpy(&gid, p + 8, 4);
  const uint8_t *cur = p + 16, *end = p + len;
  const char *staging = next_string(&cur, end);
  if (staging == NULL) return -EINVAL;
  long rc;
  if (entered.done) {
    /* Entered ahead: only for the same staging directory and ids. */
    if (entered.uid != uid || entered.gid != gid || sl_strlen(staging) != sl_strlen(entered.staging) || memcmp(staging, entered.staging, sl_strlen(staging)) != 0) return -EINVAL;
    rc = entered.result;
  } else {
    rc = sl_ns_view_enter(staging, uid, gid, ack);
  }
  if (rc < 0) return rc;
  const uint8_t *ops = cur;
  for (int pass = 0; pass < 2; pass++) {
    int files = 0;
    for (cur = ops; cur < end;) {
      const char *op = next_string(&cur, end);
      if (op == NULL) return -EINVAL;
      if (op[0] == '\0') break; /* the end */
      rc = run_op(op[0], &cur, end, pass, &files);
      if (rc < 0) return rc;
    }
  }
  rc = SC1(NR_chdir, NEW);
  if (rc == 0) rc = SC5(NR_pivot_root, ".", ".", NULL, NULL, NULL);
  if (rc == 0) rc = SC2(NR_umount2, ".", MNT_DETACH_);
  if (rc == 0) rc = SC1(NR_chdir, "/");
  if (rc == 0) rc = SC5(NR_mount, NULL, "/", NULL, MS_REMOUNT_ | MS_BIND_ | MS_RDONLY_ | MS_NOSUID_ | MS_NODEV_, NULL);
  return rc;
}
