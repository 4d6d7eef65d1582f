/* The inotify broker of a supervised-view sandbox (src/supervise/handlers/inotify-init.ts):
 * the launcher binary started as "sandlock-inotify" with a SOCK_SEQPACKET socket at fd 3.
 *
 * inotify instances and watches are counted per user at each level of user namespaces,
 * against the limits of /proc/sys/user of that level, and charged to the namespace of the
 * process that made the instance, whoever holds it later. A sandbox of the supervised view
 * shares its caller's namespace, so it could hold every instance of the uid (EMFILE for the
 * uid's editors and watchers: the twentieth review). The broker makes them instead, in a
 * user namespace of its own whose limits are half of the caller's: the sandbox's instances
 * and every watch added to them (by the supervisor, which performs inotify_add_watch) stop
 * there, the other half stays with the uid's processes outside.
 *
 * Protocol: the supervisor sends the limits (u32 instances, u32 watches); the broker enters
 * its namespace, writes them and answers an i32 (0, or -errno: the supervisor then lets the
 * sandbox's calls go to the kernel as before). Then, for each u32 of inotify_init1 flags,
 * an i32: 0 followed by the instance's descriptor (one byte with SCM_RIGHTS), or -errno.
 * EOF ends it; so does its parent's death (PR_SET_PDEATHSIG). It holds nothing of the
 * sandbox's and nothing is asked of it but instances. */
#include "launcher.h"

#define NR_getuid_ 102
#define NR_getgid_ 104
#define NR_unshare_ 272
#define NR_inotify_init1_ 294
#define CLONE_NEWUSER_ 0x10000000UL
#define IN_NONBLOCK_ 04000
#define IN_CLOEXEC_ 02000000
#define BROKER_FD 3

static long reply(int32_t v) {
  long rc = SL_RETRY(SC3(NR_write, BROKER_FD, &v, sizeof v));
  return rc < 0 ? rc : 0;
}

/* The limit `name` of this process's user namespace, in decimal. */
static long set_limit(const char *name, uint32_t value) {
  char text[24];
  sl_fmt_path(text, "", value, "");
  return sl_ns_user_limit("/proc/sys/user/", name, text);
}

static long enter(uint32_t instances, uint32_t watches) {
  uint32_t uid = (uint32_t)SC0(NR_getuid_), gid = (uint32_t)SC0(NR_getgid_);
  long rc = SC1(NR_unshare_, CLONE_NEWUSER_);
  if (rc < 0) return rc;
  rc = sl_ns_write_id_maps(uid, gid);
  if (rc < 0) return rc;
  rc = set_limit("max_inotify_instances", instances);
  if (rc < 0) return rc;
  return set_limit("max_inotify_watches", watches);
}

int sl_inotify_broker(void) {
  SC2(NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (SC0(NR_getppid) == 1) return 1; /* the supervisor is gone already */
  uint32_t limits[2];
  long got = SL_RETRY(SC3(NR_read, BROKER_FD, limits, sizeof limits));
  if (got != (long)sizeof limits) return 1;
  long rc = enter(limits[0], limits[1]);
  if (reply((int32_t)rc) < 0 || rc < 0) return 1;
  for (;;) {
    uint32_t flags;
    got = SL_RETRY(SC3(NR_read, BROKER_FD, &flags, sizeof flags));
    if (got != (long)sizeof flags) return 0; /* EOF: the sandbox has ended */
    long fd = SC1(NR_inotify_init1_, (flags & ~(uint32_t)IN_CLOEXEC_) | IN_CLOEXEC_);
    if (fd < 0) {
      if (reply((int32_t)fd) < 0) return 1;
      continue;
    }
    int one = (int)fd;
    rc = reply(0);
    if (rc == 0) rc = sl_fds_send(BROKER_FD, &one, 1);
    SC1(NR_close, fd);
    if (rc < 0) return 1;
  }
}
