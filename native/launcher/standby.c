/* A launcher started ahead of its sandbox (src/confine/standby.ts). Under the kernel-native
 * view most of a start is the launcher's exec, the clone into six new namespaces (the
 * network namespace alone about 0.35 ms here) and the id maps; none of it depends on the
 * plan. A standby launcher is started with a socket where the plan's memfd would be, does
 * all of that, and waits: its child sits in the new namespaces, maps written, blocked in
 * sl_standby_child until the sandbox that takes the launcher over sends the plan's memfd and
 * the command's stdin, stdout and stderr (main.c's standby_wait receives them, checks the
 * plan with sl_standby_fits and passes the four on). From then on both run exactly as a
 * launcher started with that plan: the child applies every step, NS_VIEW first.
 *
 * The child also builds ahead the part of the root no plan changes (ns.c
 * sl_ns_view_enter_ahead: the id maps, lo up, the staging tmpfs pivoted to, the new root's
 * tmpfs), with the ids and staging directory of the launcher's first message; a plan's
 * NS_VIEW step must name the same (standby.ts checks before the take-over, ns.c again).
 *
 * What the child holds while it waits: the launcher's no_new_privs, its blocked signals and
 * ignored dispositions (reset by the steps as in any start), /dev/null as 0, 1 and 2, and
 * the two pipes to the launcher. It runs nothing but this file and that part of ns.c until
 * the plan arrives, and dies with the launcher (PR_SET_PDEATHSIG, and EOF on its socket). */
#include "launcher.h"

#define SL_HANDOFF_FDS 4

/* Room for one control message carrying SL_HANDOFF_FDS descriptors. */
union sl_fd_control {
  struct sl_cmsghdr h;
  unsigned char buf[sizeof(struct sl_cmsghdr) + SL_HANDOFF_FDS * sizeof(int)];
};

int sl_standby_is(void) {
  struct sl_stat st;
  return SC2(NR_fstat, SL_FD_PLAN, &st) == 0 && (st.mode & SL_S_IFMT) == SL_S_IFSOCK;
}

/* The plan may be applied by a standby launcher only when the launcher would have done
 * nothing with it before its fork but what the standby did: the kernel-native view, and
 * none of the steps the launcher itself runs first (the copy-on-write overlay, fsDenied's
 * covers, a chroot, a user namespace, the CPU counter every process inherits) or a
 * restore. TypeScript asks for a standby only for such plans (standby.ts); this is the
 * launcher's own check. */
int sl_standby_fits(const struct sl_plan *plan) {
  int view = 0;
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    switch (plan->steps[i].op) {
      case SL_STEP_NS_VIEW:
        view = 1;
        break;
      case SL_STEP_COW:
      case SL_STEP_DENY:
      case SL_STEP_CHROOT:
      case SL_STEP_USERNS:
      case SL_STEP_CPU_COUNTER:
      case SL_STEP_RESTORE:
        return 0;
      default:
        break;
    }
  }
  return view;
}

long sl_fds_send(int sock, const int *fds, int n) {
  if (n <= 0 || n > SL_HANDOFF_FDS) return -EINVAL;
  union sl_fd_control c;
  memset(&c, 0, sizeof c);
  c.h.len = sizeof(struct sl_cmsghdr) + (size_t)n * sizeof(int);
  c.h.level = SOL_SOCKET_;
  c.h.type = SCM_RIGHTS_;
  memcpy(c.buf + sizeof(struct sl_cmsghdr), fds, (size_t)n * sizeof(int));
  char byte = 'P';
  struct sl_iovec iov = {&byte, 1};
  struct sl_msghdr m = {.iov = &iov, .iovlen = 1, .control = c.buf, .controllen = c.h.len};
  long rc = SL_RETRY(SC3(NR_sendmsg, sock, &m, MSG_NOSIGNAL_));
  return rc < 0 ? rc : 0;
}

/* Receives exactly n descriptors (close-on-exec) sent with one byte; anything else closes
 * what came and fails: EOF is ECONNRESET. */
long sl_fds_recv(int sock, int *fds, int n) {
  if (n <= 0 || n > SL_HANDOFF_FDS) return -EINVAL;
  union sl_fd_control c;
  memset(&c, 0, sizeof c);
  char byte = 0;
  struct sl_iovec iov = {&byte, 1};
  struct sl_msghdr m = {.iov = &iov, .iovlen = 1, .control = c.buf, .controllen = sizeof c.buf};
  long rc = SL_RETRY(SC3(NR_recvmsg, sock, &m, MSG_CMSG_CLOEXEC_));
  if (rc < 0) return rc;
  int count = 0;
  if (m.controllen >= sizeof(struct sl_cmsghdr) && c.h.level == SOL_SOCKET_ && c.h.type == SCM_RIGHTS_ && c.h.len >= sizeof(struct sl_cmsghdr)) {
    count = (int)((c.h.len - sizeof(struct sl_cmsghdr)) / sizeof(int));
    if (count > SL_HANDOFF_FDS) count = SL_HANDOFF_FDS;
  }
  int got[SL_HANDOFF_FDS];
  memcpy(got, c.buf + sizeof(struct sl_cmsghdr), (size_t)count * sizeof(int));
  if (rc == 0 || count != n || (m.flags & MSG_CTRUNC_)) {
    for (int i = 0; i < count; i++) SC1(NR_close, got[i]);
    return rc == 0 ? -ECONNRESET : -EBADMSG;
  }
  memcpy(fds, got, (size_t)n * sizeof(int));
  return 0;
}

/* The standby's child: waits for the plan's memfd and the command's stdio, puts them in
 * place and applies the plan. A failure is reported on the report pipe as a setup failure
 * before any step (index -1), and the child exits. */
__attribute__((noreturn)) void sl_standby_child(int handoff, struct sl_child_fds fds, pid_t launcher, const uint8_t *entered) {
  SC2(NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
  /* The namespaces' first part, as the NS_VIEW step would build it (its outcome is that
   * step's to report): `entered` is the head of an NS_VIEW payload, checked by main.c. */
  uint32_t uid, gid;
  memcpy(&uid, entered + 4, 4);
  memcpy(&gid, entered + 8, 4);
  sl_ns_view_enter_ahead((const char *)entered + 16, uid, gid, fds.ack);
  int got[SL_HANDOFF_FDS];
  long rc = sl_fds_recv(handoff, got, SL_HANDOFF_FDS);
  if (rc == -ECONNRESET) sl_exit_group(0); /* the launcher gave up: nobody to tell */
  SC1(NR_close, handoff);
  struct sl_plan plan = {0};
  if (rc == 0) {
    for (int i = 0; i < 3 && rc == 0; i++) {
      rc = SC3(NR_dup3, got[i + 1], i, 0);
      if (rc > 0) rc = 0;
    }
    for (int i = 1; i < SL_HANDOFF_FDS; i++) SC1(NR_close, got[i]);
  }
  if (rc == 0) {
    long err = 0;
    if (sl_plan_load(got[0], &plan, &err) != 0) rc = err < 0 ? err : -EINVAL;
    SC1(NR_close, got[0]);
  }
  if (rc < 0) {
    struct sl_msg m = {SL_MSG_SETUP_FAILED, -1, (int32_t)-rc, 0};
    sl_write_all(fds.report, &m, sizeof m);
    sl_exit_group(125);
  }
  sl_child_run(&plan, fds, launcher, 0);
}
