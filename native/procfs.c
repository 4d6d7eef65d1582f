/* The /proc and identity supervisor's system calls: getdents, lseek, openat2 with RESOLVE_*, the
 * host's uname, sched_getaffinity's answer size, read-only memfds for virtual files. Each
 * returns the kernel's answer (>= 0 or -errno); decisions are TypeScript's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "addon.h"

/* The struct utsname layout TypeScript rewrites (src/supervise/handlers/identity.ts). */
_Static_assert(sizeof(struct utsname) == 390, "struct utsname is six 65-byte fields");

/* getdents(fd, out: Buffer, legacy: 0|1) -> bytes read into out, or -errno. legacy picks
 * getdents(2) (struct linux_dirent) over getdents64(2). The fd is the supervisor's
 * duplicate of the sandboxed one: they share the directory offset. */
static napi_value sl_getdents(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_BUFFER(env, 1, out, len);
  SL_ARG_INT(env, 2, legacy);
  if (len > 0x7fffffff) len = 0x7fffffff;
  long rc;
  do {
    rc = syscall(legacy ? SYS_getdents : SYS_getdents64, fd, out, (unsigned int)len);
  } while (rc < 0 && errno == EINTR);
  return sl_result(env, rc);
}

/* lseek(fd, offset: bigint, whence) -> the new offset as a bigint, or -errno. A
 * directory's offset is an opaque 64-bit cookie (a hash on some filesystems): a bigint
 * carries it whole. The /proc listing saves the offset its duplicate shares with the
 * caller before reading, and restores it when the caller never received the entries. */
static napi_value sl_lseek(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  int64_t offset;
  bool lossless;
  if (napi_get_value_bigint_int64(env, argv[1], &offset, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, "SL_ARGS", "argument 1 must be a 64-bit bigint");
    return NULL;
  }
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 2, whence);
  off_t rc = lseek(fd, (off_t)offset, whence);
  napi_value out;
  SL_CALL(env, napi_create_bigint_int64(env, rc < 0 ? -(int64_t)errno : (int64_t)rc, &out));
  return out;
}

/* The arguments openat2 and openat2As share: (dirfd, path, flags, mode, resolve). Returns
 * 0, -ENAMETOOLONG, or -1 with a JavaScript exception pending. */
struct open_args {
  int dirfd;
  char path[4096];
  struct open_how how;
};

static int read_open_args(napi_env env, napi_value *argv, struct open_args *a) {
  if (napi_get_value_int32(env, argv[0], &a->dirfd) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 0 must be an integer");
    return -1;
  }
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[1], a->path, sizeof a->path, &plen) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 1 must be a string");
    return -1;
  }
  if (plen >= sizeof a->path - 1) return -ENAMETOOLONG;
  int64_t v[3];
  for (int i = 0; i < 3; i++) {
    if (napi_get_value_int64(env, argv[2 + i], &v[i]) != napi_ok) {
      static const char *const msg[] = {"argument 2 must be a number", "argument 3 must be a number", "argument 4 must be a number"};
      napi_throw_type_error(env, "SL_ARGS", msg[i]);
      return -1;
    }
  }
  a->how = (struct open_how){.flags = (uint64_t)v[0], .mode = (uint64_t)v[1], .resolve = (uint64_t)v[2]};
  return 0;
}

static long open_with(const struct open_args *a) {
  long rc;
  do {
    rc = syscall(SYS_openat2, a->dirfd, a->path, &a->how, sizeof a->how);
  } while (rc < 0 && errno == EINTR);
  return rc;
}

/* openat2(dirfd, path, flags, mode, resolve) -> fd or -errno. The caller adds O_CLOEXEC
 * itself when it wants it; RESOLVE_* bounds what the path may cross. */
static napi_value sl_openat2(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 5);
  struct open_args a;
  int bad = read_open_args(env, argv, &a);
  if (bad == -1) return NULL;
  if (bad < 0) return sl_make_int(env, bad);
  return sl_result(env, open_with(&a));
}

/* openat2As(dirfd, path, flags, mode, resolve, capEff: bigint) -> fd or -errno: openat2
 * made with the calling thread's effective capabilities lowered to capEff for the
 * duration of the call, so the file is opened (and its f_cred recorded) with no more
 * privilege than a sandboxed caller holding capEff has. Capabilities are per thread: only
 * Node's main thread, which is inside this call, is affected. EPERM when capEff holds a
 * capability this thread does not have permitted (it cannot act with more). */
static napi_value sl_openat2_as(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 6);
  struct open_args a;
  int bad = read_open_args(env, argv, &a);
  if (bad == -1) return NULL;
  if (bad < 0) return sl_make_int(env, bad);
  uint64_t want = 0;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, argv[5], &want, &lossless) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 5 must be a bigint");
    return NULL;
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct saved[2], lowered[2];
  if (syscall(SYS_capget, &hdr, saved) < 0) return sl_make_int(env, -errno);
  uint64_t permitted = saved[0].permitted | (uint64_t)saved[1].permitted << 32;
  if ((want & ~permitted) != 0) return sl_make_int(env, -EPERM);
  memcpy(lowered, saved, sizeof lowered);
  lowered[0].effective = (uint32_t)want;
  lowered[1].effective = (uint32_t)(want >> 32);
  if (syscall(SYS_capset, &hdr, lowered) < 0) return sl_make_int(env, -errno);
  long rc = open_with(&a);
  int err = rc < 0 ? errno : 0;
  /* Raising the effective set back within the permitted one cannot fail; if it ever did,
   * the supervisor would go on with less privilege, never more. */
  hdr.pid = 0;
  if (syscall(SYS_capset, &hdr, saved) < 0) {
    if (rc >= 0) close((int)rc);
    return sl_make_int(env, -errno);
  }
  return sl_make_int(env, rc < 0 ? -err : rc);
}

/* uname() -> the host's struct utsname as a 390-byte Buffer. */
static napi_value sl_uname(napi_env env, napi_callback_info info) {
  (void)info;
  struct utsname u;
  if (uname(&u) < 0) return sl_throw_errno(env, "uname", errno);
  napi_value buf;
  void *data;
  SL_CALL(env, napi_create_buffer_copy(env, sizeof u, &u, &data, &buf));
  return buf;
}

/* schedGetaffinity(tid, len) -> the byte count the kernel's sched_getaffinity(tid, len)
 * returns (its mask size), or -errno (EINVAL for a too small or misaligned len, ESRCH). */
static napi_value sl_sched_getaffinity(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_I64(env, 1, len);
  /* The kernel refuses a length that is not a whole number of longs (EINVAL) and copies
   * at most its cpumask size, which 1 KiB covers (NR_CPUS 8192): asking for less than a
   * larger len changes neither answer. */
  if (len < 0 || len > 0xffffffffLL || (len & 7) != 0) return sl_make_int(env, -EINVAL);
  unsigned long mask[128];
  unsigned int ask = len > (int64_t)sizeof mask ? (unsigned int)sizeof mask : (unsigned int)len;
  return sl_result(env, syscall(SYS_sched_getaffinity, tid, ask, mask));
}

/* A close-on-exec memfd that may be sealed, named by the string `name_arg`; -1 with a
 * JavaScript exception pending on failure. */
static int sl_memfd_named(napi_env env, napi_value name_arg) {
  char name[64];
  size_t nlen = 0;
  if (napi_get_value_string_utf8(env, name_arg, name, sizeof name, &nlen) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 0 must be a string");
    return -1;
  }
  int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) sl_throw_errno(env, "memfd_create(MFD_ALLOW_SEALING)", errno);
  return fd;
}

/* Seals fd against any change (no write, growth or shrinking) and puts its offset at 0:
 * 0, or an errno. */
static int sl_memfd_sealed(int fd) {
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) return errno;
  return lseek(fd, 0, SEEK_SET) < 0 ? errno : 0;
}

/* memfdReadonly(name, data) -> a close-on-exec memfd holding data, sealed against any
 * change, its offset at 0: what a virtual file's opener reads. Throws on failure. */
static napi_value sl_memfd_readonly(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_BUFFER(env, 1, data, len);
  int fd = sl_memfd_named(env, argv[0]);
  if (fd < 0) return NULL;
  const char *p = data;
  size_t left = len;
  int err = 0;
  while (left > 0 && err == 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    p += n;
    left -= (size_t)n;
  }
  if (err == 0) err = sl_memfd_sealed(fd);
  if (err != 0) {
    close(fd);
    return sl_throw_errno(env, "memfd (virtual file)", err);
  }
  return sl_make_int(env, fd);
}

/* ---- memfdWritable(name) -> fd: an empty memfd that memfdSeal seals later, for a virtual
 * file written in parts ---- */
static napi_value sl_memfd_writable(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  int fd = sl_memfd_named(env, argv[0]);
  return fd < 0 ? NULL : sl_make_int(env, fd);
}

/* ---- memfdSeal(fd): sealed as memfdReadonly's are, its offset back at 0 ---- */
static napi_value sl_memfd_seal(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  int err = sl_memfd_sealed(fd);
  return err != 0 ? sl_throw_errno(env, "memfd seals (virtual file)", err) : NULL;
}

/* ---- fileSeals(fd) -> the file's seals (fcntl F_GET_SEALS), or -errno (EINVAL: a file
 * that takes none, not a memfd) ---- */
static napi_value sl_file_seals(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  int seals = fcntl(fd, F_GET_SEALS);
  return sl_make_int(env, seals < 0 ? -errno : seals);
}

/* ---- pipeHasPeer(fd) -> 1 while the pipe has a file at its other end (a writer, for a read
 * end; a reader, for a write end), 0 once none does (poll's POLLHUP on a read end, POLLERR
 * on a write end: nothing is read or written), or -errno ---- */
static napi_value sl_pipe_has_peer(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  struct pollfd p = {.fd = fd, .events = 0};
  int n = poll(&p, 1, 0);
  if (n < 0) return sl_make_int(env, -errno);
  if (p.revents & POLLNVAL) return sl_make_int(env, -EBADF);
  return sl_make_int(env, (p.revents & (POLLHUP | POLLERR)) ? 0 : 1);
}

/* Appends the pids a children file lists ("12 34 ") to o[*n...cap); -E2BIG when o is full,
 * -errno when the read fails (the thread went), 0 otherwise. */
static int read_children(int fd, int32_t *o, size_t *n, size_t cap) {
  char buf[4096];
  int32_t num = 0;
  bool digits = false;
  for (;;) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -errno;
    for (ssize_t i = 0; i <= got; i++) {
      if (i < got && buf[i] >= '0' && buf[i] <= '9') {
        num = num * 10 + (buf[i] - '0');
        digits = true;
      } else if (digits && (i < got || got == 0)) {
        if (*n >= cap) return -E2BIG;
        o[(*n)++] = num;
        num = 0;
        digits = false;
      }
    }
    if (got == 0) return 0;
  }
}

/* processChildren(pid, out: Buffer of int32) -> how many int32 were written, or -errno (the
 * process gone: its task directory or stat unreadable; -E2BIG: out is too small). out[0]:
 * the parent from /proc/pid/stat, out[1]: its state letter, out[2]: 1 when every thread's
 * list of children was read (0: a thread went between the listing and its read), then the
 * children of all its threads. The stat is read after the lists: a process still alive
 * then was alive while they were read (supervise/members.ts walkTree). */
static napi_value sl_process_children(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, pid);
  SL_ARG_BUFFER(env, 1, out, len);
  int32_t *o = out;
  size_t cap = len / sizeof *o, n = 3;
  if (cap < 3 || ((uintptr_t)out & 3) != 0) return sl_result(env, -EINVAL);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return sl_result(env, -errno);
  int whole = 1;
  long rc = 0;
  char dents[4096];
  for (;;) {
    long got = syscall(SYS_getdents64, dir, dents, sizeof dents);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got < 0) rc = -errno;
      break;
    }
    for (long off = 0; off < got && rc == 0;) {
      const struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (const void *)(dents + off);
      off += d->reclen;
      if (d->name[0] < '0' || d->name[0] > '9') continue;
      char rel[48];
      snprintf(rel, sizeof rel, "%.16s/children", d->name);
      int fd = openat(dir, rel, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        whole = 0;
        continue;
      }
      int r = read_children(fd, o, &n, cap);
      close(fd);
      if (r == -E2BIG) rc = r;
      else if (r < 0) whole = 0;
    }
    if (rc != 0) break;
  }
  close(dir);
  if (rc != 0) return sl_result(env, rc);
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sl_result(env, -errno);
  char stat[1024];
  ssize_t got;
  do got = read(fd, stat, sizeof stat - 1);
  while (got < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (got < 0) return sl_result(env, -err);
  stat[got] = 0;
  const char *close_paren = strrchr(stat, ')');
  if (close_paren == NULL || close_paren[1] != ' ' || close_paren[2] == 0 || close_paren[3] != ' ') return sl_result(env, -ESRCH);
  o[1] = (unsigned char)close_paren[2];
  o[0] = (int32_t)strtol(close_paren + 4, NULL, 10);
  o[2] = whole;
  return sl_result(env, (long)n);
}

void sl_procfs_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"getdents", NULL, sl_getdents, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lseek", NULL, sl_lseek, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openat2", NULL, sl_openat2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openat2As", NULL, sl_openat2_as, NULL, NULL, NULL, napi_enumerable, NULL},
      {"uname", NULL, sl_uname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"schedGetaffinity", NULL, sl_sched_getaffinity, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memfdReadonly", NULL, sl_memfd_readonly, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memfdWritable", NULL, sl_memfd_writable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memfdSeal", NULL, sl_memfd_seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fileSeals", NULL, sl_file_seals, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pipeHasPeer", NULL, sl_pipe_has_peer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"processChildren", NULL, sl_process_children, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
