/* Node-API addon: the few system calls JavaScript cannot make (posix_spawn of the
 * launcher with an exact fd layout, pidfds, memfd, Landlock probing, fd readiness on the
 * event loop). Arguments are validated in TypeScript; here only their types are checked. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <time.h>
#include <fcntl.h>
#include <node_api.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"
#include "fastpath.h"
#include "memcredit.h"
#include "proccredit.h"
#include "notify-thread.h"
#include "sl_protocol.h"


#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Throws an Error carrying code "SL_ERRNO", errno (number) and syscall (name). */
napi_value sl_throw_errno(napi_env env, const char *syscall_name, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall_name, strerror(err));
  napi_value m, code, e, num, sys;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, "SL_ERRNO", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, m, &e);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, e, "errno", num);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, e, "syscall", sys);
  napi_throw(env, e);
  return NULL;
}

napi_value sl_make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

napi_value sl_result(napi_env env, long rc) {
  return sl_make_int(env, rc < 0 ? -errno : rc);
}

napi_value sl_make_pair(napi_env env, int64_t a, int64_t b) {
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, sl_make_int(env, a));
  napi_set_element(env, arr, 1, sl_make_int(env, b));
  return arr;
}


/* ---- spawnLauncher(path, [stdin, stdout, stderr, plan, status, control]) -> [pid, pidfd] ---- */

/* Starts a program of ours at `path` with argv {name} and no environment, under `fa` and
 * `attr` (both destroyed here): 0 and *pid, or the errno. */
int sl_spawn_ours(pid_t *pid, const char *path, posix_spawn_file_actions_t *fa, posix_spawnattr_t *attr, const char *name) {
  char argv0[64];
  size_t n = strlen(name);
  if (n >= sizeof argv0) n = sizeof argv0 - 1;
  memcpy(argv0, name, n);
  argv0[n] = '\0';
  char *const args[] = {argv0, NULL};
  char *const noenv[] = {NULL};
  int err = posix_spawn(pid, path, fa, attr, args, noenv);
  posix_spawn_file_actions_destroy(fa);
  posix_spawnattr_destroy(attr);
  return err;
}

int sl_spawn_with_socket(const char *path, const char *name, int type, pid_t *pid, int *sock) {
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
  /* Above 3 first, so the dup2 below always makes a new descriptor (without close-on-exec). */
  int theirs = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
  close(sv[1]);
  if (theirs < 0) {
    int err = errno;
    close(sv[0]);
    return -err;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  sl_spawn_attr_defaults(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&fa, 0, 1);
  posix_spawn_file_actions_adddup2(&fa, 0, 2);
  posix_spawn_file_actions_adddup2(&fa, theirs, 3);
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);
  int err = sl_spawn_ours(pid, path, &fa, &attr, name);
  close(theirs);
  if (err != 0) {
    close(sv[0]);
    return -err;
  }
  *sock = sv[0];
  return 0;
}

/* Node ignores SIGPIPE and may block signals; a program of ours starts from defaults. */
void sl_spawn_attr_defaults(posix_spawnattr_t *attr) {
  posix_spawnattr_init(attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(attr, &all);
  posix_spawnattr_setsigmask(attr, &none);
  posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
}

int sl_arg_launcher_path(napi_env env, napi_value v, char *path, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, path, size, &len) != napi_ok || len == 0 || len >= size - 1) {
    napi_throw_type_error(env, "SL_ARGS", "launcher path must be a non-empty string");
    return -1;
  }
  return 0;
}

static napi_value sl_spawn_launcher(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  char path[4096];
  if (sl_arg_launcher_path(env, argv[0], path, sizeof path) < 0) return NULL;
  int fds[SL_FD_FIRST_FREE];
  int top = SL_FD_FIRST_FREE;
  for (uint32_t i = 0; i < SL_FD_FIRST_FREE; i++) {
    napi_value v;
    SL_CALL(env, napi_get_element(env, argv[1], i, &v));
    if (napi_get_value_int32(env, v, &fds[i]) != napi_ok || fds[i] < 0) {
      napi_throw_type_error(env, "SL_ARGS", "fd layout must hold six descriptors");
      return NULL;
    }
    if (fds[i] >= top) top = fds[i] + 1;
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  sl_spawn_attr_defaults(&attr);
  /* Two passes: first lift every source above all of them, then place each one; a source
   * that already sits on a target number can never be overwritten before it is read. */
  for (int i = 0; i < SL_FD_FIRST_FREE; i++) posix_spawn_file_actions_adddup2(&fa, fds[i], top + i);
  for (int i = 0; i < SL_FD_FIRST_FREE; i++) posix_spawn_file_actions_adddup2(&fa, top + i, i);
  posix_spawn_file_actions_addclosefrom_np(&fa, SL_FD_FIRST_FREE);

  /* No environment and the bare name (eighth review): the launcher reads neither (the
   * command's environment and path come from the plan), and under the kernel view its
   * child's fork, the sandbox's init, never execs, so /proc/1/environ and /proc/1/cmdline
   * showed the sandbox this process's whole environment and the launcher's host path,
   * whatever cleanEnv gave the command. */
  pid_t pid;
  int err = sl_spawn_ours(&pid, path, &fa, &attr, "sandlock-launcher");
  if (err != 0) return sl_throw_errno(env, "posix_spawn", err);
  /* Race-free: the launcher is our unreaped child, its pid cannot be reused yet. */
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return sl_throw_errno(env, "pidfd_open", err);
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return sl_make_pair(env, pid, pidfd);
}

/* ---- selfState() -> string: what a process started now would inherit from this one ----
 * /proc/self/status, limits, cgroup, oom_score_adj and timerslack_ns, the UTS namespace's
 * host and domain names, then the ns links of mnt, user, net, cgroup and pid_for_children
 * and the root directory's link,
 * each section ended by "\n\x1e\n", then the scheduling policy, its priority and the I/O
 * priority (standby.ts compares two readings, keeping only status's inherited lines). One call, no JavaScript per file: the
 * reading is on the path of every start that takes a standby over. */

static size_t append_file(char *out, size_t at, size_t cap, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n;
    while (at < cap && (n = read(fd, out + at, cap - at)) > 0) at += (size_t)n;
    close(fd);
  }
  return at;
}

static napi_value sl_self_state(napi_env env, napi_callback_info info) {
  (void)info;
  static const char *const files[] = {"/proc/self/status", "/proc/self/limits", "/proc/self/cgroup", "/proc/self/oom_score_adj", "/proc/self/timerslack_ns", "/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname"};
  static const char *const links[] = {"/proc/self/ns/mnt", "/proc/self/ns/user", "/proc/self/ns/net", "/proc/self/ns/cgroup", "/proc/self/ns/pid_for_children", "/proc/self/root"};
  size_t cap = 32768, at = 0;
  char *out = malloc(cap);
  if (out == NULL) return sl_throw_errno(env, "malloc", ENOMEM);
  const char sep[] = "\n\x1e\n";
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    at = append_file(out, at, cap - sizeof sep, files[i]);
    memcpy(out + at, sep, sizeof sep - 1);
    at += sizeof sep - 1;
  }
  for (size_t i = 0; i < sizeof links / sizeof links[0] && at + 64 + sizeof sep < cap; i++) {
    ssize_t n = readlink(links[i], out + at, 64);
    if (n > 0) at += (size_t)n;
    memcpy(out + at, sep, sizeof sep - 1);
    at += sizeof sep - 1;
  }
  /* The calling thread's scheduling policy and priority and its I/O priority: a spawned
   * process inherits them, and none is in /proc/self/status. */
  struct sched_param sp = {0};
  int policy = sched_getscheduler(0);
  if (sched_getparam(0, &sp) < 0) sp.sched_priority = -1;
  long ioprio = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
  if (at + 96 < cap) at += (size_t)snprintf(out + at, 96, "sched %d %d ioprio %ld", policy, sp.sched_priority, ioprio);
  napi_value v;
  napi_status st = napi_create_string_latin1(env, out, at, &v);
  free(out);
  if (st != napi_ok) return NULL;
  return v;
}

/* ---- pipe() -> [read, write], both close-on-exec ---- */

static napi_value sl_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return sl_throw_errno(env, "pipe2", errno);
  return sl_make_pair(env, p[0], p[1]);
}

/* ---- memfd(buffer) -> fd holding a copy of the bytes ---- */

static napi_value sl_memfd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "memfd expects a Buffer");
    return NULL;
  }
  int fd = (int)syscall(SYS_memfd_create, "sandlock-plan", MFD_CLOEXEC);
  if (fd < 0) return sl_throw_errno(env, "memfd_create", errno);
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return sl_throw_errno(env, "write(memfd)", err);
    }
    p += n;
    left -= (size_t)n;
  }
  return sl_make_int(env, fd);
}

/* ---- waitPidfd(pidfd) -> null while running, else [exitCode or -1, signal or 0] ---- */

static napi_value sl_wait_pidfd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, pidfd);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0) return sl_throw_errno(env, "waitid", errno);
  napi_value out;
  if (si.si_pid == 0) {
    napi_get_null(env, &out);
    return out;
  }
  if (si.si_code == CLD_EXITED) return sl_make_pair(env, si.si_status, 0);
  return sl_make_pair(env, -1, si.si_status);
}

/* ---- schedSetaffinity(tid, mask) -> 0 or -errno: cpuCores' bound (handlers/affinity.ts) ---- */

static napi_value sl_sched_setaffinity(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, tid);
  SL_ARG_BUFFER(env, 1, mask, len);
  return sl_result(env, syscall(SYS_sched_setaffinity, tid, len, mask) < 0 ? -errno : 0);
}

/* ---- landlockAbi() -> ABI version, or -errno when Landlock is unavailable ---- */

static napi_value sl_landlock_abi(napi_env env, napi_callback_info info) {
  (void)info;
  long abi = syscall(444 /* landlock_create_ruleset */, NULL, 0, 1u /* LANDLOCK_CREATE_RULESET_VERSION */);
  return sl_make_int(env, abi < 0 ? -errno : abi);
}

/* ---- isatty(fd) -> boolean (without loading node:tty and node:net) ---- */

static napi_value sl_isatty(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  napi_value out;
  napi_get_boolean(env, isatty(fd) == 1, &out);
  return out;
}

/* ---- ignoreSigttou() -> boolean: SIGTTOU ignored from now on ----
 * Why: src/confine/terminal-stops.ts. Ignored dispositions survive exec, but the launcher
 * is spawned with every signal set back to its default (spawnLauncher) and libuv does the
 * same for the children it spawns. */

static napi_value sl_ignore_sigttou(napi_env env, napi_callback_info info) {
  (void)info;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  napi_value out;
  napi_get_boolean(env, sigaction(SIGTTOU, &sa, NULL) == 0, &out);
  return out;
}

/* ---- pollFd(fd, callback) -> handle: callback(status, events) on each readiness ---- */

struct sl_poll {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  int closed;
  /* With a fast path (pollFast): the listener's notifications are received here, into
   * notif (a Buffer of TypeScript's, kept alive by notif_ref), and those fastpath.c
   * answers never reach JavaScript. */
  struct sl_fast *fast;
  int fd;
  void *notif;
  napi_ref notif_ref;
  /* With a receiving thread (pollFast, threaded): the poll handle is stopped and the
   * thread delivers what the fast path leaves. Freed once both handles have closed. */
  struct sl_recv_thread *thread;
  int open_handles;
  struct sl_poll *prev, *next; /* the open handles, closed when the environment goes */
};

static struct sl_poll *open_polls;
static int cleanup_hooked;

static void poll_release(void *arg) {
  struct sl_poll *p = arg;
  if (--p->open_handles > 0) return;
  napi_delete_reference(p->env, p->callback);
  if (p->notif_ref) napi_delete_reference(p->env, p->notif_ref);
  sl_fast_free(p->fast);
  free(p);
}

static void poll_closed(uv_handle_t *h) {
  poll_release(h->data);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void call_js(struct sl_poll *p, int argc, int status, int events, int received) {
  napi_handle_scope scope;
  napi_open_handle_scope(p->env, &scope);
  napi_value cb, global, args[3], result;
  napi_get_reference_value(p->env, p->callback, &cb);
  napi_get_global(p->env, &global);
  args[0] = sl_make_int(p->env, status);
  args[1] = sl_make_int(p->env, events);
  args[2] = sl_make_int(p->env, received);
  /* An exception thrown by the callback, or by what runs after it in the same scope
   * (process.nextTick callbacks: a stream's 'error' event without a listener), must
   * surface as an uncaught exception, as for any other event-loop callback. Node-API
   * instead keeps it as the environment's pending exception, and while one is pending
   * every later napi_make_callback returns at once without calling JavaScript: the
   * readiness that called us is never consumed, so the loop spun on it with no
   * JavaScript running. Hand it to Node's uncaught-exception handling. */
  if (napi_make_callback(p->env, NULL, global, cb, (size_t)argc, args, &result) == napi_pending_exception) {
    napi_value error;
    if (napi_get_and_clear_last_exception(p->env, &error) == napi_ok) napi_fatal_exception(p->env, error);
  }
  napi_close_handle_scope(p->env, scope);
}

/* From the receiving thread, on the event loop. */
static void thread_deliver(void *arg, const void *notif, int ended, int failure) {
  struct sl_poll *p = arg;
  if (p->closed) return;
  if (ended) {
    call_js(p, 3, failure, 0, 0);
    return;
  }
  memcpy(p->notif, notif, sizeof(struct seccomp_notif));
  call_js(p, 3, 0, UV_READABLE, 0);
}

static void poll_ready(uv_poll_t *h, int status, int events) {
  struct sl_poll *p = h->data;
  int argc = 2;
  int received = 0;
  if (p->fast != NULL && status == 0 && (events & UV_READABLE)) {
    /* One RECV per readiness event (it blocks even on a non-blocking descriptor). */
    uint64_t t0 = now_ns();
    memset(p->notif, 0, sizeof(struct seccomp_notif));
    received = ioctl(p->fd, SECCOMP_IOCTL_NOTIF_RECV, p->notif) < 0 ? -errno : 0;
    if (received == 0 && sl_fast_try(p->fast, p->fd, p->notif)) {
      sl_fast_add_ns(p->fast, now_ns() - t0);
      return;
    }
    argc = 3;
  }
  call_js(p, argc, status, events, received);
}

static void poll_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct sl_poll *p = data;
  if (!p->closed) {
    p->closed = 1;
    if (p->prev) p->prev->next = p->next;
    else open_polls = p->next;
    if (p->next) p->next->prev = p->prev;
    if (p->thread != NULL) sl_recv_thread_stop(p->thread, poll_release, p);
    p->thread = NULL;
    uv_close((uv_handle_t *)&p->handle, poll_closed);
  }
}

/* When Node tears the environment down, handles that did not keep the loop alive (see
 * pollRef) may still be open: close them before a late readiness calls into a dying
 * JavaScript environment. */
static void close_all_polls(void *arg) {
  (void)arg;
  while (open_polls) poll_finalize(open_polls->env, open_polls, NULL);
  sl_recv_threads_shutdown();
}

static napi_value sl_poll_fd(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, fd);
  napi_valuetype t;
  SL_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, "SL_ARGS", "pollFd expects a callback");
    return NULL;
  }
  uv_loop_t *loop;
  SL_CALL(env, napi_get_uv_event_loop(env, &loop));
  struct sl_poll *p = calloc(1, sizeof *p);
  if (p == NULL) return sl_throw_errno(env, "calloc", ENOMEM);
  p->env = env;
  p->fd = fd;
  p->open_handles = 1;
  int rc = uv_poll_init(loop, &p->handle, fd);
  if (rc != 0) {
    free(p);
    return sl_throw_errno(env, "uv_poll_init", -rc);
  }
  p->handle.data = p;
  napi_create_reference(env, argv[1], 1, &p->callback);
  if (!cleanup_hooked) {
    cleanup_hooked = 1;
    napi_add_env_cleanup_hook(env, close_all_polls, NULL);
  }
  p->next = open_polls;
  if (open_polls) open_polls->prev = p;
  open_polls = p;
  rc = uv_poll_start(&p->handle, UV_READABLE | UV_DISCONNECT, poll_ready);
  if (rc != 0) {
    poll_finalize(env, p, NULL);
    return sl_throw_errno(env, "uv_poll_start", -rc);
  }
  napi_value ext;
  SL_CALL(env, napi_create_external(env, p, NULL, NULL, &ext));
  return ext;
}

/* The poll handle in an argument, or NULL with a TypeError saying `expects` pending. */
static struct sl_poll *poll_arg(napi_env env, napi_value v, const char *expects) {
  void *data;
  if (napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", expects);
    return NULL;
  }
  return data;
}

static napi_value sl_poll_close(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  struct sl_poll *p = poll_arg(env, argv[0], "pollClose expects a poll handle");
  if (p == NULL) return NULL;
  poll_finalize(env, p, NULL);
  return NULL;
}

/* pollRef(handle, ref): whether the handle keeps the event loop alive (uv_ref/uv_unref). */
static napi_value sl_poll_ref(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  static const char expects[] = "pollRef expects a poll handle and a boolean";
  struct sl_poll *p = poll_arg(env, argv[0], expects);
  if (p == NULL) return NULL;
  bool ref;
  if (napi_get_value_bool(env, argv[1], &ref) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", expects);
    return NULL;
  }
  if (!p->closed) {
    if (ref) uv_ref((uv_handle_t *)&p->handle);
    else uv_unref((uv_handle_t *)&p->handle);
    if (p->thread != NULL) sl_recv_thread_ref(p->thread, ref);
  }
  return NULL;
}

/* Reads a JavaScript array of strings into a NULL-padded C array (freed by the caller
 * with free_strings); -1 with an exception pending. */
static int read_strings(napi_env env, napi_value arr, char ***out, uint32_t *n) {
  *out = NULL;
  *n = 0;
  bool is_array;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, n) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "expected an array of strings");
    return -1;
  }
  *out = calloc(*n ? *n : 1, sizeof **out);
  if (*out == NULL) {
    sl_throw_errno(env, "calloc", ENOMEM);
    return -1;
  }
  for (uint32_t i = 0; i < *n; i++) {
    napi_value v;
    size_t len;
    if (napi_get_element(env, arr, i, &v) != napi_ok || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
      napi_throw_type_error(env, "SL_ARGS", "expected an array of strings");
      return -1;
    }
    (*out)[i] = malloc(len + 1);
    if ((*out)[i] == NULL) {
      sl_throw_errno(env, "malloc", ENOMEM);
      return -1;
    }
    napi_get_value_string_utf8(env, v, (*out)[i], len + 1, &len);
  }
  return 0;
}

static void free_strings(char **s, uint32_t n) {
  if (s == NULL) return;
  for (uint32_t i = 0; i < n; i++) free(s[i]);
  free(s);
}

/* pollFast(handle, notif: Buffer(80), trees: string[], exacts: string[], procDevs: bigint[],
 * opens: bool, getdents: bool, threaded: bool, memory: bool, writeOpensToTs: bool,
 * procs: number (1 processes, 2 threads: proccredit.c)): from now on the handle receives each
 * notification itself (threaded: on a thread of its own, notify-thread.c; otherwise in
 * the poll callback)
 * into notif, answers what fastpath.c can, and calls back (status, events, received) with
 * received 0 (a notification waits in notif) or -errno of the receive. */
static napi_value sl_poll_fast(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 11);
  struct sl_poll *p = poll_arg(env, argv[0], "pollFast expects a poll handle");
  if (p == NULL) return NULL;
  SL_ARG_BUFFER(env, 1, notif, notif_len);
  if (notif_len < sizeof(struct seccomp_notif)) {
    napi_throw_range_error(env, "SL_ARGS", "notification buffer must hold 80 bytes");
    return NULL;
  }
  char **trees = NULL, **exacts = NULL;
  uint32_t ntrees = 0, nexacts = 0, ndevs = 0;
  uint64_t *devs = NULL;
  bool opens = false, getdents = false, threaded = false, memory = false, write_opens = false;
  uint32_t procs = 0;
  napi_value result = NULL;
  if (read_strings(env, argv[2], &trees, &ntrees) < 0 || read_strings(env, argv[3], &exacts, &nexacts) < 0) goto out;
  if (napi_get_array_length(env, argv[4], &ndevs) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", "argument 4 must be an array of bigints");
    goto out;
  }
  devs = calloc(ndevs ? ndevs : 1, sizeof *devs);
  if (devs == NULL) {
    sl_throw_errno(env, "calloc", ENOMEM);
    goto out;
  }
  for (uint32_t i = 0; i < ndevs; i++) {
    napi_value v;
    bool lossless;
    if (napi_get_element(env, argv[4], i, &v) != napi_ok || napi_get_value_bigint_uint64(env, v, &devs[i], &lossless) != napi_ok) {
      napi_throw_type_error(env, "SL_ARGS", "argument 4 must be an array of bigints");
      goto out;
    }
  }
  if (napi_get_value_bool(env, argv[5], &opens) != napi_ok || napi_get_value_bool(env, argv[6], &getdents) != napi_ok ||
      napi_get_value_bool(env, argv[7], &threaded) != napi_ok || napi_get_value_bool(env, argv[8], &memory) != napi_ok ||
      napi_get_value_bool(env, argv[9], &write_opens) != napi_ok || napi_get_value_uint32(env, argv[10], &procs) != napi_ok ||
      procs > (SL_PROCS_PROCESSES | SL_PROCS_THREADS | SL_PROCS_EPOLL | SL_PROCS_PIPES | SL_PROCS_SPLICE)) {
    napi_throw_type_error(env, "SL_ARGS", "arguments 5 to 9 must be booleans, argument 10 a set of SL_PROCS_* kinds");
    goto out;
  }
  if (p->closed || p->fast != NULL) {
    napi_throw_error(env, "SL_ARGS", "pollFast: handle closed or already fast");
    goto out;
  }
  p->fast = sl_fast_new((const char *const *)trees, ntrees, (const char *const *)exacts, nexacts, devs, ndevs, opens ? (write_opens ? 2 : 1) : 0, getdents, memory, (int)procs);
  if (p->fast == NULL) {
    sl_throw_errno(env, "sl_fast_new", ENOMEM);
    goto out;
  }
  p->notif = notif;
  napi_create_reference(env, argv[1], 1, &p->notif_ref);
  if (threaded) {
    uv_loop_t *loop;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      napi_throw_error(env, "SL_NAPI", "pollFast: no event loop");
      goto out;
    }
    /* The thread receives from now on: the poll handle stops first, so only one of the
     * two ever takes a notification. Without a thread, the poll callback goes on. */
    uv_poll_stop(&p->handle);
    p->thread = sl_recv_thread_start(loop, p->fd, p->fast, thread_deliver, p);
    if (p->thread == NULL) {
      uv_poll_start(&p->handle, UV_READABLE | UV_DISCONNECT, poll_ready);
    } else {
      p->open_handles++;
      if (!uv_has_ref((uv_handle_t *)&p->handle)) sl_recv_thread_ref(p->thread, 0);
    }
  }
  napi_get_undefined(env, &result);
out:
  free_strings(trees, ntrees);
  free_strings(exacts, nexacts);
  free(devs);
  return result;
}

/* pollFastStats(handle) -> [answered, ns]: what the fast path answered so far, and the
 * time it spent (receive to answer). */
static napi_value sl_poll_fast_stats(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  struct sl_poll *p = poll_arg(env, argv[0], "pollFastStats expects a poll handle");
  if (p == NULL) return NULL;
  uint64_t answered = 0, ns = 0;
  if (p->fast != NULL) sl_fast_stats(p->fast, &answered, &ns);
  return sl_make_pair(env, (int64_t)answered, (int64_t)ns);
}

/* pollMemory(handle, op, grant) on the memory credit (memcredit.c): op 0 "settle": a
 * forwarded growth call was decided, grant bytes (a number) -> undefined; op 1 "revoke"
 * -> undefined; op 2 "spent" -> bytes continued in C since the last grant. A handle
 * without a credit: undefined for each (nothing to do), 0 for "spent". */
static napi_value sl_poll_memory(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  static const char expects[] = "pollMemory expects a poll handle, an op (0 settle, 1 revoke, 2 spent) and a grant in bytes";
  struct sl_poll *p = poll_arg(env, argv[0], expects);
  if (p == NULL) return NULL;
  int32_t op;
  double grant;
  if (napi_get_value_int32(env, argv[1], &op) != napi_ok || op < 0 || op > 2 || napi_get_value_double(env, argv[2], &grant) != napi_ok ||
      !(grant >= -9.2e18 && grant <= 9.2e18)) {
    napi_throw_type_error(env, "SL_ARGS", expects);
    return NULL;
  }
  struct sl_mem *m = p->closed ? NULL : sl_fast_mem(p->fast);
  napi_value out;
  napi_get_undefined(env, &out);
  if (op == 2) return sl_make_int(env, m == NULL ? 0 : (int64_t)sl_mem_spent(m));
  if (m == NULL) return out;
  if (op == 1) sl_mem_revoke(m);
  else sl_mem_settle(m, (int64_t)grant);
  return out;
}

/* pollProcs(handle, op, n) on the fork credits (proccredit.c): op 0 "grant": n process
 * forks may be continued in C -> undefined; op 1 "take": ends that credit -> [tid, nr, tid,
 * nr...] of the forks continued in C since its last take; ops 2 and 3 the same for thread
 * clones, 4 and 5 for epoll_ctl adds, 6 and 7 for pipes; op 8 makes thread n one whose
 * sendfile and copy_file_range C continues (0: none), op 9 takes nothing. A handle without
 * the credit: undefined, []. */
static napi_value sl_poll_procs(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  static const char expects[] = "pollProcs expects a poll handle, an op (0 grant, 1 take; 2, 3 for threads; 4, 5 for epoll adds; 6, 7 for pipes; 8 a splicing thread) and a number";
  struct sl_poll *p = poll_arg(env, argv[0], expects);
  if (p == NULL) return NULL;
  int32_t op;
  uint32_t n;
  if (napi_get_value_int32(env, argv[1], &op) != napi_ok || op < 0 || op >= 2 * SL_PROCS_KINDS || napi_get_value_uint32(env, argv[2], &n) != napi_ok) {
    napi_throw_type_error(env, "SL_ARGS", expects);
    return NULL;
  }
  struct sl_procs *c = p->closed ? NULL : sl_fast_procs(p->fast);
  napi_value out;
  int kind = op / 2;
  if (op % 2 == 0) {
    if (c != NULL) sl_procs_grant(c, kind, n);
    napi_get_undefined(env, &out);
    return out;
  }
  int32_t taken[2 * SL_PROCS_CREDIT_MAX]; /* 2 KiB; not static: workers' supervisors call this too */
  uint32_t got = c == NULL ? 0 : sl_procs_take(c, kind, taken, SL_PROCS_CREDIT_MAX);
  napi_create_array_with_length(env, 2 * got, &out);
  for (uint32_t i = 0; i < 2 * got; i++) {
    napi_value v;
    napi_create_int32(env, taken[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

/* ---- module ---- */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"spawnLauncher", NULL, sl_spawn_launcher, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pipe", NULL, sl_pipe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"selfState", NULL, sl_self_state, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memfd", NULL, sl_memfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitPidfd", NULL, sl_wait_pidfd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"schedSetaffinity", NULL, sl_sched_setaffinity, NULL, NULL, NULL, napi_enumerable, NULL},
      {"landlockAbi", NULL, sl_landlock_abi, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isatty", NULL, sl_isatty, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ignoreSigttou", NULL, sl_ignore_sigttou, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollFd", NULL, sl_poll_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollClose", NULL, sl_poll_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollRef", NULL, sl_poll_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollFast", NULL, sl_poll_fast, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollFastStats", NULL, sl_poll_fast_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollMemory", NULL, sl_poll_memory, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollProcs", NULL, sl_poll_procs, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  sl_notify_register(env, exports);
  sl_timer_register(env, exports);
  sl_net_register(env, exports);
  sl_procfs_register(env, exports);
  sl_fork_register(env, exports);
  sl_ptrace_register(env, exports);
  sl_ptrace_restore_register(env, exports);
  sl_files_register(env, exports);
  sl_meta_register(env, exports);
  sl_answer_register(env, exports);
  sl_kmem_register(env, exports);
  sl_startfile_register(env, exports);
  sl_populated_register(env, exports);
  sl_keyring_register(env, exports);
  sl_inotify_broker_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
