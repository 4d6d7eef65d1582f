/* Shared declarations of the launcher: the parsed plan and small I/O helpers. */
#ifndef SL_LAUNCHER_H
#define SL_LAUNCHER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sl_protocol.h"

struct sl_step {
  uint32_t op;
  uint32_t len;
  const uint8_t *payload;
};

struct sl_plan {
  uint32_t nsteps;
  struct sl_step *steps;
};

/* Writes all of buf, retrying on EINTR and short writes. Returns 0 or -1. */
int sl_write_all(int fd, const void *buf, size_t len);

/* Applies every step of the plan in the command's process; never returns. */
void sl_child_run(const struct sl_plan *plan, int report_fd) __attribute__((noreturn));

/* Process-tree operations over every descendant of the launcher (launcher_tree.c). */
int sl_tree_signal(int sig);
int sl_tree_stop(void);
int sl_tree_kill(pid_t root, int *root_status, int *root_reaped);

#endif
