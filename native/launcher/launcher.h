/* Shared declarations of the launcher: the parsed plan, message output, tree operations. */
#ifndef SL_LAUNCHER_H
#define SL_LAUNCHER_H

#include "../sl_protocol.h"
#include "nolibc.h"

struct sl_step {
  uint32_t op;
  uint32_t len;
  const uint8_t *payload;
};

struct sl_plan {
  uint32_t nsteps;
  struct sl_step *steps;
};

/* Writes all of buf, retrying on EINTR and short writes. Returns 0 or -errno. */
long sl_write_all(int fd, const void *buf, size_t len);

/* The signals the launcher ignores for itself (main.c), and glibc's two internal ones
 * (32 and 33), which its posix_spawn leaves ignored in the launcher; every other
 * disposition is the default spawnLauncher sets (native/addon.c). The command's process
 * resets exactly these (steps.c). */
#define SL_LAUNCHER_IGNORED {SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE}
#define SL_SPAWN_IGNORED {32, 33}

/* Applies every step of the plan in the command's process; never returns. */
/* Descriptors the command's process uses to talk to the launcher before exec. */
struct sl_child_fds {
  int report; /* close-on-exec pipe to the launcher: a failed step, or the listener */
  int ack;    /* the launcher's go-ahead once it holds the listener */
};

/* `scoped`: the launcher is in its signal-scope domain (scope.c), and the command's process
 * must add a layer of its own unless its plan scopes signals already. */
__attribute__((noreturn)) void sl_child_run(const struct sl_plan *plan, struct sl_child_fds fds, pid_t launcher, int scoped);

/* Landlock's ruleset attributes, declared here so the build does not depend on the host's
 * kernel headers (Debian 12 ships headers older than the running kernel). */
struct sl_landlock_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

/* The launcher's signal scope (scope.c): sl_scope_self returns 1 when it is in force;
 * sl_scope_child adds the command's own layer when needed (0 or -errno). */
int sl_scope_self(const struct sl_plan *plan);
long sl_scope_child(const struct sl_plan *plan);
long sl_scope_view(const struct sl_plan *plan);

/* Process-tree operations over every descendant of the launcher, from /proc (tree.c). Each
 * returns a count (sl_tree_cpu: clock ticks; sl_tree_undumpable: a pid or 0), or -errno. */
void sl_tree_init(void);
int sl_tree_signal(int sig);
int sl_tree_count(void);
int sl_tree_stop(void);
int sl_tree_cpu(void);
int sl_tree_kill_round(void);
int sl_tree_undumpable(void);
int sl_tree_threads(void (*fn)(pid_t tid, void *arg), void *arg);

/* Kills and reaps every process of the sandbox (teardown.c); returns how many processes
 * other than the root it reaped, and records the root's wait status when it reaps it. */
int sl_teardown(pid_t root, int *root_status, int *root_reaped, int scoped);

/* The sandbox's CPU time (cpu.c): sl_cpu_counter_open returns 1 when the counter is in
 * force; sl_cpu_ms returns milliseconds or -errno (see there). */
int sl_cpu_counter_open(void);
long sl_cpu_ms(int32_t *pid);

/* The kernel-native view (ns.c): the clone flags the plan asks for (0: none), the step
 * itself, and the id maps the launcher writes for a root caller. */
unsigned long sl_ns_clone_flags(const struct sl_plan *plan);
unsigned long sl_ns_view_flags(void);
long sl_ns_view(const uint8_t *p, uint32_t len, int ack);
/* A standby's child: the part of the root no plan changes, built ahead (ns.c). */
void sl_ns_view_enter_ahead(const char *staging, uint32_t uid, uint32_t gid, int ack);
void sl_ns_map_child(pid_t child, int ack_wr);
/* The caller's own uid and gid mapped 1:1 in a new user namespace (ns.c, used by cow.c). */
long sl_ns_write_id_maps(uint32_t uid, uint32_t gid);
/* ns.c: a per-user limit ("max_...") of this process's user namespace, written in `dir`. */
long sl_ns_user_limit(const char *dir, const char *name, const char *value);
/* unshare a mount namespace (and a user namespace unless root), every mount private. */
long sl_ns_private_mounts(uint32_t uid, uint32_t gid);
long sl_ns_write_maps(uint32_t inner_uid, uint32_t outer_uid, uint32_t inner_gid, uint32_t outer_gid);

/* The kernel-native view's init (init.c): the exec step forks; pid 1 stays a reaper and
 * the command execs as pid 2. Its messages to the launcher travel on the report pipe and
 * never reach TypeScript: the command's exec (then the launcher answers on the ack pipe),
 * and the command's wait status (a = status, b = 1 when nothing else was left). */
#define SL_MSG_INIT_EXEC 0x101
#define SL_MSG_INIT_STATUS 0x102
long sl_init_fork(int *ex_rd, struct sl_child_fds fds);
long sl_init_exec(const char *path, char **argv, char **envp, struct sl_child_fds fds, int own_group, pid_t cmd, int ex_rd);
long sl_init_command_pid(pid_t init);

/* The copy-on-write workdir's overlay (cow.c): the SL_STEP_COW step. */
long sl_cow_mount(const uint8_t *p, uint32_t len);
/* maxDisk: the stage tmpfs's descriptor until TypeScript took it (SL_MSG_STAGE), else -1. */
extern long sl_cow_stage_fd;

/* fsDenied's covers (deny.c): the SL_STEP_DENY steps, then sl_deny_finish once; COW's
 * namespace is reused when sl_deny_namespace_ready was called. */
long sl_deny_mount(const uint8_t *p, uint32_t len);
long sl_deny_finish(void);
void sl_deny_namespace_ready(void);

/* chroot (chroot.c): the SL_STEP_CHROOT namespace, built by the launcher (`own`: it is in a
 * private mount namespace already); joined by the command's process; the new root's mount
 * until the fork (the scope layers grant refer beneath it), else -1. */
long sl_chroot_prepare(const uint8_t *p, uint32_t len, int own);
int sl_chroot_namespace_made(const struct sl_plan *plan);
long sl_chroot_enter(void);
void sl_chroot_forked(void);
long sl_chroot_root(void);

/* A launcher started ahead of its sandbox (standby.c): sl_standby_is says whether this is
 * one; sl_standby_fits whether a plan needs nothing the launcher does before its fork;
 * the child waits in sl_standby_child for the plan's memfd and its stdio. */
int sl_plan_load(int fd, struct sl_plan *plan, long *err);
int sl_standby_is(void);
int sl_standby_fits(const struct sl_plan *plan);
long sl_fds_send(int sock, const int *fds, int n);
long sl_fds_recv(int sock, int *fds, int n);

/* sendmsg and recvmsg's structures, and the socket constants the launcher uses. */
#define SOL_SOCKET_ 1
#define SCM_RIGHTS_ 1
#define MSG_DONTWAIT_ 0x40
#define MSG_NOSIGNAL_ 0x4000
#define MSG_CMSG_CLOEXEC_ 0x40000000
#define MSG_CTRUNC_ 0x8
struct sl_iovec {
  void *base;
  size_t len;
};
struct sl_msghdr {
  void *name;
  uint32_t namelen;
  struct sl_iovec *iov;
  size_t iovlen;
  void *control;
  size_t controllen;
  int flags;
};
struct sl_cmsghdr {
  size_t len;
  int level;
  int type;
};

/* capget/capset, version 3: two 32-bit words per set. */
struct sl_cap_header {
  uint32_t version;
  int32_t pid;
};
struct sl_cap_data {
  uint32_t effective;
  uint32_t permitted;
  uint32_t inheritable;
};
#define SL_CAP_VERSION_3 0x20080522u

/* broker.c: the inotify broker's life (argv[0] "sandlock-inotify"); returns its exit code. */
#define SL_INOTIFY_BROKER_NAME "sandlock-inotify"
int sl_inotify_broker(void);
/* sender.c: the broker that makes the sends carrying descriptors (argv[0]
 * "sandlock-sender"); returns its exit code. */
#define SL_SENDER_NAME "sandlock-sender"
int sl_sender(void);
__attribute__((noreturn)) void sl_standby_child(int handoff, struct sl_child_fds fds, pid_t launcher, const uint8_t *entered);
#define AF_UNIX_ 1
#define SOCK_SEQPACKET_ 5
#define SOCK_CLOEXEC_ 02000000

/* userns.c */
long sl_userns(const uint8_t *p, uint32_t len);

/* A checkpoint restore's stop instead of exec (restore.c): never returns on success. */
long sl_restore_stop(const uint8_t *p, uint32_t len);

/* timeStart's and policyFn's exec stop (vclock.c). */
long sl_vclock_init(const uint8_t *p, uint32_t len, int64_t *sec_out, int64_t *nsec_out);
long sl_vclock_seize(pid_t pid);
long sl_vclock_request(int report, int ack);
int sl_vclock_stopped(pid_t pid, int status, int32_t *tid);
void sl_vclock_verdict(pid_t pid, int go);
void sl_vclock_gone(pid_t pid);
int sl_vclock_active(void);
/* The hold of a traced sandbox (SL_CMD_HOLD, SL_CMD_RELEASE, SL_MSG_HELD): vclock.c. */
long sl_vclock_hold(void);
int sl_vclock_held(void);
int sl_vclock_release(void);
/* Rewrites a stopped program's vDSO clock functions (vdso.c): 0 or -errno. */
long sl_vdso_patch(pid_t pid, int64_t off_sec, int64_t off_nsec);

/* Wait-status decoding, as the W* macros do. */
#define SL_WIFEXITED(s) (((s) & 0x7f) == 0)
#define SL_WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define SL_WIFSIGNALED(s) (((s) & 0x7f) != 0 && ((s) & 0x7f) != 0x7f)
#define SL_WTERMSIG(s) ((s) & 0x7f)
#define SL_WIFSTOPPED(s) (((s) & 0xff) == 0x7f)

#endif
