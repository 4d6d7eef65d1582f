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

/* Applies every step of the plan in the command's process; never returns. */
/* Descriptors the command's process uses to talk to the launcher before exec. */
struct sl_child_fds {
  int report; /* close-on-exec pipe to the launcher: a failed step, or the listener */
  int ack;    /* the launcher's go-ahead once it holds the listener */
};

__attribute__((noreturn)) void sl_child_run(const struct sl_plan *plan, struct sl_child_fds fds, pid_t launcher);

/* Process-tree operations over every descendant of the launcher (tree.c). Each returns a
 * count, or -errno. */
int sl_tree_signal(int sig);
int sl_tree_stop(void);
int sl_tree_cpu(void);
int sl_tree_kill(pid_t root, int *root_status, int *root_reaped);

/* Wait-status decoding, as the W* macros do. */
#define SL_WIFEXITED(s) (((s) & 0x7f) == 0)
#define SL_WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define SL_WIFSIGNALED(s) (((s) & 0x7f) != 0 && ((s) & 0x7f) != 0x7f)
#define SL_WTERMSIG(s) ((s) & 0x7f)

#endif
