/* Shared by the addon's source files: the argument-checking macros and small value
 * helpers every entry point uses. */
#ifndef SL_ADDON_H
#define SL_ADDON_H

#include <node_api.h>
#include <stdint.h>

/* ---- argument and error macros: one family for every entry point ---- */

#define SL_CALL(env, call)                                  \
  do {                                                      \
    if ((call) != napi_ok) {                                \
      napi_throw_error((env), "SL_NAPI", "napi call failed: " #call); \
      return NULL;                                          \
    }                                                       \
  } while (0)

#define SL_ARGS(env, info, n)                                              \
  size_t argc_ = (n);                                                      \
  napi_value argv[(n) > 0 ? (n) : 1];                                      \
  SL_CALL((env), napi_get_cb_info((env), (info), &argc_, argv, NULL, NULL)); \
  if (argc_ < (n)) {                                                       \
    napi_throw_type_error((env), "SL_ARGS", "expected " #n " arguments"); \
    return NULL;                                                           \
  }

#define SL_ARG_INT(env, i, out)                                                         \
  int32_t out;                                                                          \
  if (napi_get_value_int32((env), argv[(i)], &out) != napi_ok) {                        \
    napi_throw_type_error((env), "SL_ARGS", "argument " #i " must be an integer");     \
    return NULL;                                                                        \
  }

#define SL_ARG_BUFFER(env, i, ptr, len)                                               \
  void *ptr;                                                                          \
  size_t len;                                                                         \
  if (napi_get_buffer_info((env), argv[(i)], &ptr, &len) != napi_ok) {                \
    napi_throw_type_error((env), "SL_ARGS", "argument " #i " must be a Buffer");     \
    return NULL;                                                                      \
  }

#define SL_ARG_I64(env, i, out)                                                       \
  int64_t out;                                                                        \
  if (napi_get_value_int64((env), argv[(i)], &out) != napi_ok) {                      \
    napi_throw_type_error((env), "SL_ARGS", "argument " #i " must be a number");     \
    return NULL;                                                                      \
  }

/* Throws an Error carrying code "SL_ERRNO", errno (number) and syscall (name). */
napi_value sl_throw_errno(napi_env env, const char *syscall_name, int err);
napi_value sl_make_int(napi_env env, int64_t v);
napi_value sl_make_pair(napi_env env, int64_t a, int64_t b);
/* A syscall's return as a number: the value, or -errno when it failed. */
napi_value sl_result(napi_env env, long rc);

/* Registers userKey (keyring.c, the checkpoint seal's key). */
void sl_keyring_register(napi_env env, napi_value exports);
/* addon.c: a posix_spawn attribute set for a program of ours (default signal
 * dispositions, nothing blocked); the caller destroys it. */
#include <spawn.h>
void sl_spawn_attr_defaults(posix_spawnattr_t *attr);
/* addon.c: posix_spawn of a program of ours, argv {name}, no environment; destroys fa and
 * attr; 0 or the errno. */
int sl_spawn_ours(pid_t *pid, const char *path, posix_spawn_file_actions_t *fa, posix_spawnattr_t *attr, const char *name);
/* addon.c: the launcher's path from argument v into path (size bytes, NUL-terminated);
 * 0, or -1 with a TypeError pending (not a string, empty, or too long). */
int sl_arg_launcher_path(napi_env env, napi_value v, char *path, size_t size);
/* addon.c: a program of ours started as `name` with a socket pair's end (of `type`) at its
 * descriptor 3, /dev/null at 0, 1 and 2 and nothing else; *sock gets the other end
 * (close-on-exec). 0 or -errno. */
int sl_spawn_with_socket(const char *path, const char *name, int type, pid_t *pid, int *sock);
/* inotify-broker.c: the supervised view's inotify broker (spawnInotifyBroker, brokerInotify). */
void sl_inotify_broker_register(napi_env env, napi_value exports);

/* Registers timerfdSettime (timer.c, timeStart). */
void sl_timer_register(napi_env env, napi_value exports);

/* Registers the seccomp-notify, memory and pidfd functions (notify.c). */
void sl_notify_register(napi_env env, napi_value exports);

/* Registers the network supervisor's socket calls and the sealed memfd (net.c). */
void sl_net_register(napi_env env, napi_value exports);
/* The sender of sends with descriptors (sender.c): one send, or -errno; registered by
 * sl_net_register. */
long sl_sender_send(int fd, int pin, uint32_t limit, const void *name, size_t namelen, const void *data, size_t datalen, const void *control, size_t controllen, int flags);
void sl_sender_register(napi_env env, napi_value exports);

/* Registers the host interface calls: netlink dump, interface ioctls (net-host.c); called
 * by sl_net_register. */
void sl_net_host_register(napi_env env, napi_value exports);

/* Registers the filtering proxy's splice thread (splice.c); called by sl_net_register. */
void sl_splice_register(napi_env env, napi_value exports);
/* net.c: a detached thread with every signal blocked and a stack of `stack` bytes; 0 or an errno. */
int sl_spawn_detached(void *(*fn)(void *), void *arg, size_t stack);

/* Registers getdents, lseek, openat2, uname, sched_getaffinity and read-only memfds (procfs.c). */
void sl_procfs_register(napi_env env, napi_value exports);

/* Registers the zygote's fork, descriptor passing and reaping calls (fork.c). */
void sl_fork_register(napi_env env, napi_value exports);

/* Registers the checkpoint's ptrace calls: seize, interrupt, wait, get regset, detach (ptrace.c). */
void sl_ptrace_register(napi_env env, napi_value exports);
/* Registers the restore's ptrace calls: set regset, resume to the next syscall stop (ptrace-restore.c). */
void sl_ptrace_restore_register(napi_env env, napi_value exports);

/* native/files.c: file calls the memory supervisor performs on its duplicates. */
void sl_files_register(napi_env env, napi_value exports);

/* native/meta.c: the file-metadata calls the supervisor performs with the caller's capabilities. */
void sl_meta_register(napi_env env, napi_value exports);
/* native/answer.c: capget on a sandbox process, a pseudo-terminal's peer. */
void sl_answer_register(napi_env env, napi_value exports);
/* native/kmem.c: sockets and pipes the memory supervisor charges (sock_diag, fd tables). */
void sl_kmem_register(napi_env env, napi_value exports);
/* native/startfile.c: the CLI's bundle and code cache read in one populated pass. */
void sl_startfile_register(napi_env env, napi_value exports);
/* native/populated.c: zeroed memory with its pages backed, for the watchdog's tables. */
void sl_populated_register(napi_env env, napi_value exports);

#endif
