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

static long scope_signals(void) {
  struct sl_landlock_ruleset_attr attr = {.handled_access_fs = 0, .handled_access_net = 0, .scoped = SL_LANDLOCK_SCOPE_SIGNAL};
  long ruleset = SC3(NR_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (ruleset < 0) return ruleset;
  long rc = SC2(NR_landlock_restrict_self, ruleset, 0);
  SC1(NR_close, ruleset);
  return rc;
}

int sl_scope_self(void) {
  /* Needed for landlock_restrict_self without CAP_SYS_ADMIN; the command gets it anyway
   * (the plan always sets it), and the launcher never executes anything. */
  if (SC2(NR_prctl, PR_SET_NO_NEW_PRIVS, 1) < 0) return 0;
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
