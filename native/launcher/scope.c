/* The launcher's own signal scope. Before it forks the command, the launcher enters a
 * Landlock domain that restricts nothing but signals (LANDLOCK_SCOPE_SIGNAL, ABI 6). From
 * then on every process of the sandbox lives in that domain or in one nested in it, and
 * no other process does: domains pass only from parent to child at fork. Two things follow.
 *  - kill(-1, SIGKILL) from the launcher reaches exactly the sandbox: the kernel skips
 *    the caller itself, and Landlock refuses every target outside the launcher's domain
 *    (the supervising Node process, other sandboxes, the rest of the host). Teardown then
 *    needs no /proc, no descriptor and no memory, whatever the sandbox did to the launcher.
 *  - No process of the sandbox can signal outside the launcher's domain, whatever its own
 *    policy says; and unless its own Landlock ruleset scopes signals already, the command's
 *    process adds one more layer that does, so the launcher itself is outside too. */
#include "launcher.h"

#define SL_LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#define SL_LANDLOCK_ACCESS_FS_REFER (1ULL << 13)

struct scope_rule {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

/* Whether the plan builds the kernel-native view's root (ns.c), which mounts after the fork. */
static int plan_mounts(const struct sl_plan *plan) {
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    if (plan->steps[i].op == SL_STEP_NS_VIEW) return 1;
  }
  return 0;
}

/*
 * The layer restricts signals only; but a layer that does not handle LANDLOCK_ACCESS_FS_REFER
 * refuses every rename and link across directories with EXDEV (Landlock's compatibility
 * rule for ABI 1 rulesets), in every writable grant, whatever the command's own layer
 * allows. So the layer handles refer and grants it beneath "/": it restricts nothing, and
 * reparenting is decided by the command's own layer. A layer handling any filesystem
 * access forbids mount, so a plan that still mounts after the fork (the kernel-native
 * view, ns.c) gets it only once its root is built (sl_scope_view).
 */
static long scope_signals(void) {
  struct sl_landlock_ruleset_attr attr = {.handled_access_fs = SL_LANDLOCK_ACCESS_FS_REFER, .handled_access_net = 0, .scoped = SL_LANDLOCK_SCOPE_SIGNAL};
  long ruleset = SC3(NR_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (ruleset < 0) return ruleset;
  long root = SC4(NR_openat, AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0);
  long rc = root;
  if (root >= 0) {
    struct scope_rule rule = {.allowed_access = SL_LANDLOCK_ACCESS_FS_REFER, .parent_fd = (int32_t)root};
    rc = SC4(NR_landlock_add_rule, ruleset, 1 /* LANDLOCK_RULE_PATH_BENEATH */, &rule, 0);
    SC1(NR_close, root);
    /* chroot: in the sandbox's namespace the walk up from a file ends at the chroot's root,
     * never at the host's "/": the same rule there (chroot.c). */
    long croot = sl_chroot_root();
    if (rc >= 0 && croot >= 0) {
      struct scope_rule crule = {.allowed_access = SL_LANDLOCK_ACCESS_FS_REFER, .parent_fd = (int32_t)croot};
      rc = SC4(NR_landlock_add_rule, ruleset, 1 /* LANDLOCK_RULE_PATH_BENEATH */, &crule, 0);
    }
  }
  if (rc >= 0) rc = SC2(NR_landlock_restrict_self, ruleset, 0);
  SC1(NR_close, ruleset);
  return rc;
}

int sl_scope_self(const struct sl_plan *plan) {
  /* Needed for landlock_restrict_self without CAP_SYS_ADMIN; the command gets it anyway
   * (the plan always sets it), and the launcher never executes anything. */
  if (SC2(NR_prctl, PR_SET_NO_NEW_PRIVS, 1) < 0) return 0;
  /* The kernel-native view: the launcher stays outside any domain. Its layer would pass to
   * the command's process at the clone, before that process mounts its root: handling
   * refer it would forbid the mounts, not handling it every rename across directories
   * (EXDEV). Without the scope the launcher signals and tears down from /proc (tree.c,
   * teardown.c), which is exact there: every process of the sandbox is in its own pid
   * namespace, under its init (orphans come to the init, never leave the tree), and the
   * init's SIGKILL ends the namespace. The command's process scopes its own signals once
   * its root is built (sl_scope_view), before any of the command's code runs. */
  if (plan_mounts(plan)) return 0;
  /* Older kernels (no ABI 6) refuse the scope with EINVAL: the launcher then tears down
   * from /proc as before. */
  return scope_signals() == 0;
}

/* Whether the plan's own Landlock ruleset scopes signals already. */
static int plan_scopes_signals(const struct sl_plan *plan) {
  for (uint32_t i = 0; i < plan->nsteps; i++) {
    const struct sl_step *st = &plan->steps[i];
    if (st->op != SL_STEP_LANDLOCK_CREATE || st->len < 24) continue;
    uint64_t scoped;
    memcpy(&scoped, st->payload + 16, sizeof scoped);
    return (scoped & SL_LANDLOCK_SCOPE_SIGNAL) != 0;
  }
  return 0;
}

long sl_scope_child(const struct sl_plan *plan) {
  if (plan_scopes_signals(plan)) return 0;
  return scope_signals();
}

/* The kernel-native view, right after its root is built (steps.c, NS_VIEW): the layer the
 * launcher could not pass on. Hosts without the scope (Landlock ABI below 6) go without,
 * as the launcher does there. */
long sl_scope_view(const struct sl_plan *plan) {
  long abi = SC3(NR_landlock_create_ruleset, NULL, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */);
  if (abi < 6) return 0;
  return sl_scope_child(plan);
}
