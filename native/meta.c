/* The file-metadata calls the supervisor performs on the sandbox's behalf (chmod, chown,
 * times, extended attributes, inode flags) and the openat2 that pins their target, each
 * made with the calling thread's effective capabilities lowered to the sandboxed caller's
 * for the one call. Decisions are TypeScript's (src/supervise/handlers/fs-meta*.ts). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* The only system calls syscallAs makes: a generic entry point limited to what the
 * metadata supervisor needs, so no other caller can turn it into anything else. */
static const long ALLOWED[] = {
    SYS_openat2, SYS_fchmodat2, SYS_fchmod, SYS_fchownat, SYS_fchown, SYS_utimensat,
    SYS_setxattr, SYS_fsetxattr, SYS_removexattr, SYS_fremovexattr, SYS_ioctl,
    SYS_lgetxattr, /* the copy-on-write workdir reads its stage's user.overlay.* marks (cow/changes.ts) */
    SYS_mknodat,   /* ...and copies its whiteouts out of a maxDisk stage (cow/quota.ts): 0/0 only, below */
    SYS_lseek,     /* ...and its files' data extents only (SEEK_DATA/SEEK_HOLE: cow/beneath.ts copyData) */
    SYS_inotify_add_watch, /* a watch proved beneath a grant, through its pin (handlers/watches.ts) */
};

/* One argument: a number (an int64), a bigint (64 bits as they are), a Buffer (its
 * address: valid for this synchronous call only), or null/undefined (0). */
static bool arg_value(napi_env env, napi_value v, long *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) {
    *out = 0;
    return true;
  }
  if (t == napi_number) {
    int64_t n;
    if (napi_get_value_int64(env, v, &n) != napi_ok) return false;
    *out = (long)n;
    return true;
  }
  if (t == napi_bigint) {
    uint64_t n;
    bool lossless;
    if (napi_get_value_bigint_uint64(env, v, &n, &lossless) != napi_ok || !lossless) return false;
    *out = (long)n;
    return true;
  }
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return false;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) return false;
  *out = (long)(uintptr_t)data;
  return true;
}

/* The name operations the supervisor performs for protectedFiles
 * (src/supervise/handlers/names*.ts): creating, linking, renaming and removing names on a
 * parent directory it pinned and proved, and opening what it pinned. A second entry point
 * with its own list, so neither can be turned into the other's calls. */
static const long NAME_ALLOWED[] = {
    SYS_openat2, SYS_mkdirat, SYS_mknodat, SYS_symlinkat, SYS_linkat, SYS_renameat2,
    SYS_unlinkat, SYS_truncate, SYS_fchmod, SYS_fchmodat2,
    SYS_fcntl, /* F_SETFL only: a FIFO opened without blocking gets the caller's flags back */
};

/* The SysV gets the supervisor makes for a sandbox with sysv_ipc lifted in the supervised
 * view (src/supervise/handlers/sysv.ts): it creates each object itself, with the caller's
 * capabilities, so that it knows the object is the sandbox's (and removes it at the end). */
static const long IPC_ALLOWED[] = {SYS_shmget, SYS_msgget, SYS_semget};

enum sl_as { SL_AS_META, SL_AS_NAME, SL_AS_IPC };

/* Lowers the calling thread's effective capabilities to `want` (capabilities are per
 * thread), keeping the sets it had in `saved`: 1 when they changed, 0 when they were
 * `want` already, -EPERM when `want` holds one not permitted (never more than the thread
 * has), or -errno. */
static int lower_effective(uint64_t want, struct __user_cap_data_struct saved[2]) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capget, &hdr, saved) < 0) return -errno;
  uint64_t permitted = saved[0].permitted | (uint64_t)saved[1].permitted << 32;
  uint64_t effective = saved[0].effective | (uint64_t)saved[1].effective << 32;
  if ((want & ~permitted) != 0) return -EPERM;
  if (want == effective) return 0;
  struct __user_cap_data_struct lowered[2];
  memcpy(lowered, saved, sizeof lowered);
  lowered[0].effective = (uint32_t)want;
  lowered[1].effective = (uint32_t)(want >> 32);
  return syscall(SYS_capset, &hdr, lowered) < 0 ? -errno : 1;
}

/* syscallAs(nr, capEff: bigint | null, ...args) -> the call's result, or -errno.
 * With capEff, the calling thread's effective set is lowered to capEff for the call and
 * restored afterwards (capabilities are per thread: only Node's main thread, which is
 * inside this call, is affected); EPERM when capEff holds a capability this thread does
 * not have permitted (it never acts with more than it has). */
static napi_value syscall_as(napi_env env, napi_callback_info info, const long *list, size_t count, enum sl_as which) {
  static const char *const not_one[] = {"syscallAs: this syscall is not one of the metadata calls", "nameSyscallAs: this syscall is not one of the name calls",
                                        "ipcSyscallAs: this syscall is not one of the SysV gets"};
  bool meta = which == SL_AS_META;
  size_t argc = 8;
  napi_value argv[8];
  SL_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "SL_ARGS", "expected nr, capEff and the arguments");
    return NULL;
  }
  int64_t nr;
  if (napi_get_value_int64(env, argv[0], &nr) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 0 must be a syscall number");
    return NULL;
  }
  bool allowed = false;
  for (size_t i = 0; i < count; i++) allowed |= list[i] == nr;
  if (!allowed) {
    napi_throw_range_error(env, "SL_ARGS", not_one[which]);
    return NULL;
  }
  long a[6] = {0};
  for (size_t i = 2; i < argc; i++) {
    if (!arg_value(env, argv[i], &a[i - 2])) {
      napi_throw_type_error(env, "SL_ARGS", "syscallAs arguments must be numbers, bigints, Buffers or null");
      return NULL;
    }
  }
  /* mknodat makes overlay whiteouts only (a character device 0/0, which the kernel lets
   * anyone make); any other node is refused here, whatever the caller could do. */
  if (which == SL_AS_NAME && nr == SYS_fcntl && a[1] != F_SETFL) {
    napi_throw_range_error(env, "SL_ARGS", "nameSyscallAs: fcntl sets status flags (F_SETFL) only");
    return NULL;
  }
  if (meta && nr == SYS_mknodat && (a[2] != (long)S_IFCHR || a[3] != 0)) {
    napi_throw_range_error(env, "SL_ARGS", "syscallAs: mknodat makes whiteouts (S_IFCHR, 0/0) only");
    return NULL;
  }
  napi_valuetype ct;
  SL_CALL(env, napi_typeof(env, argv[1], &ct));
  bool lower = ct == napi_bigint;
  uint64_t want = 0;
  if (lower) {
    bool lossless;
    SL_CALL(env, napi_get_value_bigint_uint64(env, argv[1], &want, &lossless));
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct saved[2];
  if (lower) {
    int changed = lower_effective(want, saved);
    if (changed < 0) return sl_make_int(env, changed);
    lower = changed == 1; /* already the caller's: nothing to restore */
  }
  long rc;
  do {
    rc = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  } while (rc < 0 && errno == EINTR); /* each of these calls may simply be made again */
  int err = rc < 0 ? errno : 0;
  if (lower) {
    /* Raising the effective set back within the permitted one cannot fail; if it ever
     * did, the supervisor would go on with less privilege, never more. */
    if (syscall(SYS_capset, &hdr, saved) < 0) {
      if (rc >= 0 && nr == SYS_openat2) close((int)rc);
      return sl_make_int(env, -errno);
    }
  }
  return sl_make_int(env, rc < 0 ? -err : rc);
}

/* fileId(fd) or fileId(dirfd, path: Buffer (NUL-terminated), resolve) -> [dev, ino,
 * mode, nlink] (dev and ino as bigints: inode numbers may use all 64 bits) of fd, or of
 * what path names from dirfd (opened O_PATH|O_NOFOLLOW with these RESOLVE_* bits, then
 * closed); or -errno. One call where Node would need three and a Stats object. */
static napi_value sl_file_id(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  SL_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 0 must be a descriptor");
    return NULL;
  }
  int opened = -1;
  if (argc >= 3) {
    void *path;
    size_t len;
    int64_t resolve;
    if (napi_get_buffer_info(env, argv[1], &path, &len) != napi_ok || len == 0 || ((char *)path)[len - 1] != '\0' ||
        napi_get_value_int64(env, argv[2], &resolve) != napi_ok) {
      napi_throw_type_error(env, "SL_ARGS", "fileId(dirfd, path: NUL-terminated Buffer, resolve)");
      return NULL;
    }
    struct open_how how = {.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = (uint64_t)resolve};
    long rc;
    do {
      rc = syscall(SYS_openat2, fd, path, &how, sizeof how);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return sl_make_int(env, -errno);
    opened = fd = (int)rc;
  }
  struct stat st;
  int rc = fstat(fd, &st);
  int err = errno;
  if (opened >= 0) close(opened);
  if (rc < 0) return sl_make_int(env, -err);
  napi_value out, v;
  SL_CALL(env, napi_create_array_with_length(env, 4, &out));
  SL_CALL(env, napi_create_bigint_uint64(env, (uint64_t)st.st_dev, &v));
  SL_CALL(env, napi_set_element(env, out, 0, v));
  SL_CALL(env, napi_create_bigint_uint64(env, (uint64_t)st.st_ino, &v));
  SL_CALL(env, napi_set_element(env, out, 1, v));
  SL_CALL(env, napi_set_element(env, out, 2, sl_make_int(env, st.st_mode)));
  SL_CALL(env, napi_set_element(env, out, 3, sl_make_int(env, (int64_t)st.st_nlink)));
  return out;
}

/* mountId(fd) -> the id of the mount descriptor fd is on (statx's STATX_MNT_ID, the
 * mnt_id of its fdinfo), or -errno (-ENOSYS: a kernel that does not give it). Not read
 * from fdinfo, whose text lists the locks taken through the file. */
static napi_value sl_mount_id(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0) return sl_make_int(env, -errno);
  if ((stx.stx_mask & STATX_MNT_ID) == 0) return sl_make_int(env, -ENOSYS);
  return sl_make_int(env, (int64_t)stx.stx_mnt_id);
}

/* fdPath(fd) -> the kernel's path of this process's descriptor fd (readlink of
 * /proc/self/fd/N) as a Buffer, or -errno. */
static napi_value sl_fd_path(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  char link[32], buf[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof buf);
  if (n < 0) return sl_make_int(env, -errno);
  if ((size_t)n >= sizeof buf) return sl_make_int(env, -ENAMETOOLONG);
  napi_value out;
  void *data;
  SL_CALL(env, napi_create_buffer_copy(env, (size_t)n, buf, &data, &out));
  return out;
}

static napi_value sl_syscall_as(napi_env env, napi_callback_info info) {
  return syscall_as(env, info, ALLOWED, sizeof ALLOWED / sizeof ALLOWED[0], SL_AS_META);
}

/* nameSyscallAs: the same, for NAME_ALLOWED (mknodat of any node: the caller's lowered
 * capabilities decide what it may make, as they would for its own call). */
static napi_value sl_name_syscall_as(napi_env env, napi_callback_info info) {
  return syscall_as(env, info, NAME_ALLOWED, sizeof NAME_ALLOWED / sizeof NAME_ALLOWED[0], SL_AS_NAME);
}

/* ipcSyscallAs: the same, for IPC_ALLOWED. */
static napi_value sl_ipc_syscall_as(napi_env env, napi_callback_info info) {
  return syscall_as(env, info, IPC_ALLOWED, sizeof IPC_ALLOWED / sizeof IPC_ALLOWED[0], SL_AS_IPC);
}

/* unixBindAs: bind(2) of a unix socket (the supervisor's duplicate of the caller's) to a
 * path, as the caller's own bind would make it (src/supervise/handlers/net-unix.ts), on a
 * thread of its own made for the one call and joined: with its own filesystem context
 * (unshare CLONE_FS: the working directory and umask are per fs_struct, which Node's
 * threads share), the caller's working directory (a pinned descriptor: a relative path is
 * looked up from there) and umask (the socket file's mode), the caller's effective
 * capabilities, and a Landlock domain of its own (the thread's alone: NO_NEW_PRIVS and
 * restrict_self act on the calling thread) allowing MAKE_SOCK only beneath one directory:
 * the parent the supervisor pinned and proved beneath a writable grant. The kernel looks
 * the path up again at the bind; a component swapped in since the pin leads nowhere but
 * beneath that directory (EACCES elsewhere), and the address bound is the one copied. */
#define SL_LL_CREATE_RULESET 444
#define SL_LL_ADD_RULE 445
#define SL_LL_RESTRICT_SELF 446
#define SL_LL_MAKE_SOCK (1ull << 9)
#define SL_LL_RULE_PATH_BENEATH 1

struct unix_bind_job {
  int sock, cwd, beneath;
  unsigned mask;
  bool lower;
  uint64_t caps;
  struct sockaddr_un addr;
  socklen_t len;
  long rc;
};

static long unix_bind_run(struct unix_bind_job *j) {
  if (syscall(SYS_unshare, CLONE_FS) < 0) return -errno;
  if (j->cwd >= 0 && fchdir(j->cwd) < 0) return -errno;
  umask(j->mask);
  if (j->beneath >= 0) {
    struct {
      uint64_t handled_access_fs;
    } attr = {SL_LL_MAKE_SOCK};
    struct {
      uint64_t allowed_access;
      int32_t parent_fd;
    } __attribute__((packed)) rule = {SL_LL_MAKE_SOCK, j->beneath};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -errno;
    long rs = syscall(SL_LL_CREATE_RULESET, &attr, sizeof attr, 0);
    if (rs < 0) return -errno;
    long rc = syscall(SL_LL_ADD_RULE, rs, SL_LL_RULE_PATH_BENEATH, &rule, 0);
    if (rc == 0) rc = syscall(SL_LL_RESTRICT_SELF, rs, 0);
    int err = errno;
    close((int)rs);
    if (rc < 0) return -err;
  }
  if (j->lower) {
    /* This thread ends after the bind: nothing to restore. */
    struct __user_cap_data_struct saved[2];
    int rc = lower_effective(j->caps, saved);
    if (rc < 0) return rc;
  }
  return bind(j->sock, (const struct sockaddr *)&j->addr, j->len) < 0 ? -errno : 0;
}

static void *unix_bind_thread(void *arg) {
  struct unix_bind_job *j = arg;
  j->rc = unix_bind_run(j);
  return NULL;
}

/* unixBindAs(sock, path: Buffer (no NUL), cwd, beneath, umask, capEff: bigint | null) -> 0
 * or -errno. cwd: a directory descriptor a relative path starts from (-1: the
 * supervisor's, for an absolute path); beneath: the one directory MAKE_SOCK is allowed
 * beneath (-1: no Landlock domain, where the filesystem protection is not in force). */
static napi_value sl_unix_bind_as(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 6);
  struct unix_bind_job j = {.addr = {.sun_family = AF_UNIX}};
  SL_ARG_INT(env, 0, sock);
  SL_ARG_BUFFER(env, 1, path, len);
  SL_ARG_INT(env, 2, cwd);
  SL_ARG_INT(env, 3, beneath);
  SL_ARG_INT(env, 4, mask);
  if (len == 0 || len > sizeof j.addr.sun_path || memchr(path, 0, len) != NULL) return sl_make_int(env, -EINVAL);
  napi_valuetype ct;
  SL_CALL(env, napi_typeof(env, argv[5], &ct));
  if (ct == napi_bigint) {
    bool lossless;
    SL_CALL(env, napi_get_value_bigint_uint64(env, argv[5], &j.caps, &lossless));
    j.lower = true;
  } else if (ct != napi_null && ct != napi_undefined) {
    napi_throw_type_error(env, "SL_ARGS", "argument 5 must be a bigint or null");
    return NULL;
  }
  j.sock = sock;
  j.cwd = cwd;
  j.beneath = beneath;
  j.mask = (unsigned)mask & 0777;
  memcpy(j.addr.sun_path, path, len);
  /* With its NUL, as the kernel keeps it; a path of all 108 bytes goes without (the kernel
   * ends it itself). */
  j.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (len < sizeof j.addr.sun_path ? 1 : 0));
  pthread_t t;
  int err = pthread_create(&t, NULL, unix_bind_thread, &j);
  if (err != 0) return sl_make_int(env, -err);
  pthread_join(t, NULL);
  return sl_make_int(env, (int32_t)j.rc);
}

void sl_meta_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"syscallAs", NULL, sl_syscall_as, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nameSyscallAs", NULL, sl_name_syscall_as, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ipcSyscallAs", NULL, sl_ipc_syscall_as, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fileId", NULL, sl_file_id, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdPath", NULL, sl_fd_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mountId", NULL, sl_mount_id, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unixBindAs", NULL, sl_unix_bind_as, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
