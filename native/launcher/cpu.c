/* CPU time of the sandbox for maxCpu. A process's time reaches its parent's cutime only
 * when the parent waits for it; a parent that ignores SIGCHLD (or sets SA_NOCLDWAIT) has
 * its children reaped by the kernel, and their time is lost to /proc. So the launcher
 * opens a software task-clock perf counter on itself with `inherit` before it forks: every
 * task created below it inherits the counter, and when a task ends, however it ends (exit,
 * signal, reaped by anyone or by no one), the kernel adds its count to the launcher's
 * counter (perf_event_exit_task). One read gives every nanosecond the sandbox ran, in
 * user and kernel mode (task-clock counts the time a task is on a CPU, exclude_kernel
 * only hides samples; it lets the call work at perf_event_paranoid 2 without privilege).
 * The kernel detaches the counter from a task that executes a file it may not read (the
 * task becomes not dumpable): such a task is reported, never silently missed. */
#include "launcher.h"

#define SL_PERF_TYPE_SOFTWARE 1
#define SL_PERF_COUNT_SW_TASK_CLOCK 1
#define SL_PERF_ATTR_INHERIT (1ULL << 1)
#define SL_PERF_ATTR_EXCLUDE_KERNEL (1ULL << 5)
#define SL_PERF_ATTR_EXCLUDE_HV (1ULL << 6)
#define SL_PERF_FLAG_FD_CLOEXEC 8

/* struct perf_event_attr as first published (PERF_ATTR_SIZE_VER0, 64 bytes). */
struct sl_perf_attr {
  uint32_t type;
  uint32_t size;
  uint64_t config;
  uint64_t sample_period;
  uint64_t sample_type;
  uint64_t read_format;
  uint64_t flags;
  uint32_t wakeup_events;
  uint32_t bp_type;
  uint64_t config1;
};

static long counter = -1;

int sl_cpu_counter_open(void) {
  struct sl_perf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.type = SL_PERF_TYPE_SOFTWARE;
  attr.size = sizeof attr;
  attr.config = SL_PERF_COUNT_SW_TASK_CLOCK;
  attr.flags = SL_PERF_ATTR_INHERIT | SL_PERF_ATTR_EXCLUDE_KERNEL | SL_PERF_ATTR_EXCLUDE_HV;
  counter = SC5(NR_perf_event_open, &attr, 0, -1, -1, SL_PERF_FLAG_FD_CLOEXEC);
  return counter >= 0;
}

/* Milliseconds of CPU the sandbox has used, saturating at INT32_MAX (24 days), or
 * -errno; -EPERM with *pid set when a live process of the sandbox escapes the counter.
 * Without the counter (perf_event_open refused: perf_event_paranoid 3, or no perf), the
 * sum over /proc: live and zombie processes' own and children's time, plus what the
 * launcher reaped, which misses the time of children the kernel reaped on its own. */
long sl_cpu_ms(int32_t *pid) {
  long ms;
  if (counter >= 0) {
    uint64_t ns = 0;
    long n = SL_RETRY(SC3(NR_read, counter, &ns, sizeof ns));
    if (n != (long)sizeof ns) return n < 0 ? n : -EIO;
    int bad = sl_tree_undumpable();
    if (bad < 0) return bad;
    if (bad > 0) {
      *pid = bad;
      return -EPERM;
    }
    ms = (long)(ns / 1000000);
  } else {
    int ticks = sl_tree_cpu();
    if (ticks < 0) return ticks;
    ms = (long)ticks * 10; /* USER_HZ is 100 on x86_64 */
  }
  return ms > 0x7fffffff ? 0x7fffffff : ms;
}
