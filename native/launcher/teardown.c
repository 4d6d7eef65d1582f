/* Teardown: kill every process of the sandbox and reap them all, whatever the sandbox did
 * to itself or to the launcher (descriptors exhausted, /proc unreadable), without ever
 * spinning. With the launcher's signal scope (scope.c) one kill(-1, SIGKILL) reaches the
 * whole sandbox and nothing else; without it, rounds over /proc with a growing pause. */
#include "launcher.h"

struct reaping {
  pid_t root;
  int *root_status;
  int *root_reaped;
  int others; /* processes other than the root reaped here */
};

static void note(struct reaping *r, long pid, int status) {
  if (SL_WIFSTOPPED(status)) return; /* a traced process's stop (timeStart), not an end */
  if (pid == r->root) {
    *r->root_status = status;
    *r->root_reaped = 1;
  } else {
    r->others++;
  }
}

/* Reaps whatever has ended. Returns -ECHILD once the launcher has no child at all, else
 * how many were reaped. */
static long reap_ready(struct reaping *r) {
  long pid, n = 0;
  int status;
  while ((pid = SC4(NR_wait4, -1, &status, WALL | WNOHANG, 0)) > 0) {
    note(r, pid, status);
    n++;
  }
  return pid == -ECHILD ? -ECHILD : n;
}

/* kill(-1) skips the caller and, in the launcher's domain, every process outside the
 * sandbox; what it reaches dies, its orphans come back to the launcher (a subreaper), and
 * a fork racing with the kill cannot complete once SIGKILL is pending. Each round blocks
 * in wait4 until some child ends (no polling), then signals again, until no child is left:
 * every process of the sandbox descends from the launcher, so none is left at all. */
static void scoped_teardown(struct reaping *r) {
  for (;;) {
    SC2(NR_kill, -1, SIGKILL);
    int status;
    long pid = SL_RETRY(SC4(NR_wait4, -1, &status, WALL, 0));
    if (pid == -ECHILD) return;
    if (pid < 0) {
      sl_sleep_us(1000); /* cannot happen with valid arguments; never spin on it */
      continue;
    }
    note(r, pid, status);
    if (reap_ready(r) == -ECHILD) return;
  }
}

/* Without the scope: SIGKILL what /proc shows, reap, and pause between rounds that make
 * no progress, from 100 us up to 50 ms. A round whose list cannot be made (no descriptor
 * left even after raising the soft limit, /proc unreadable) still reaps, and the pause
 * keeps the launcher from spinning while it waits for the list to become possible. */
static void proc_teardown(struct reaping *r) {
  long pause_us = 100;
  for (;;) {
    int signalled = sl_tree_kill_round(); /* -errno: nothing signalled this round */
    long reaped = reap_ready(r);
    if (reaped == -ECHILD) return;
    (void)signalled;
    if (reaped > 0) {
      pause_us = 100;
      continue;
    }
    sl_sleep_us(pause_us);
    if (pause_us < 50000) pause_us *= 2;
  }
}

int sl_teardown(pid_t root, int *root_status, int *root_reaped, int scoped) {
  struct reaping r = {root, root_status, root_reaped, 0};
  if (scoped) scoped_teardown(&r);
  else proc_teardown(&r);
  return r.others;
}
