/* Finds every process of the sandbox and signals it. The launcher is a child subreaper,
 * so a process that double-forks or calls setsid is re-parented to the launcher, never to
 * the host's init: "descendants of the launcher" is exactly "processes of the sandbox".
 * This kernel has no /proc/<pid>/task/<tid>/children, so the tree comes from /proc/<pid>/stat. */
#include "launcher.h"

struct proc_entry {
  pid_t pid;
  pid_t ppid;
  long cpu; /* utime + stime + cutime + cstime, in clock ticks */
  char state;
  signed char mark; /* -1 unknown, 0 not ours, 1 descendant */
};

struct proc_table {
  struct proc_entry *v;
  size_t n, cap; /* cap in entries; the mapping is cap * sizeof entry bytes */
};

/* Reads pid's parent, state and CPU time from /proc/<pid>/stat. The command name may hold
 * spaces and parentheses, so fields are taken after the last ')'. */
static int read_stat(pid_t pid, pid_t *ppid, char *state, long *cpu) {
  char path[48], buf[512];
  sl_fmt_path(path, "/proc/", pid, "/stat");
  long fd = SC3(NR_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = SC3(NR_read, fd, buf, sizeof buf - 1);
  SC1(NR_close, fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char *close_paren = NULL;
  for (long i = 0; i < n; i++) {
    if (buf[i] == ')') close_paren = buf + i;
  }
  if (close_paren == NULL || close_paren + 4 > buf + n || close_paren[1] != ' ') return -1;
  *state = close_paren[2];
  *ppid = (pid_t)sl_parse_long(close_paren + 4, NULL);
  /* Fields 14-17 (utime, stime, cutime, cstime) are tokens 11-14 after the state. */
  const char *p = close_paren + 2;
  *cpu = 0;
  for (int token = 0; token <= 14 && p < buf + n; token++) {
    if (token >= 11) *cpu += sl_parse_long(p, NULL);
    while (p < buf + n && *p != ' ') p++;
    p++;
  }
  return 0;
}

static int grow(struct proc_table *t) {
  size_t cap = t->cap ? t->cap * 2 : 512;
  struct proc_entry *v = sl_alloc(cap * sizeof *v);
  if (v == NULL) return -1;
  if (t->n) memcpy(v, t->v, t->n * sizeof *v);
  sl_free(t->v, t->cap * sizeof *v);
  t->v = v;
  t->cap = cap;
  return 0;
}

static void release(struct proc_table *t) {
  sl_free(t->v, t->cap * sizeof *t->v);
  t->v = NULL;
  t->n = t->cap = 0;
}

/* Binary search: /proc lists pids in ascending order, so the table is sorted. */
static struct proc_entry *find(struct proc_table *t, pid_t pid) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->v[mid].pid == pid) return &t->v[mid];
    if (t->v[mid].pid < pid) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

/* Marks e (and its ancestors on the way) as descending from self or not. */
static int mark_descendant(struct proc_table *t, struct proc_entry *e, pid_t self) {
  struct proc_entry *chain[64];
  size_t depth = 0;
  int verdict;
  struct proc_entry *cur = e;
  for (;;) {
    if (cur->mark >= 0) {
      verdict = cur->mark;
      break;
    }
    if (cur->ppid == self) {
      verdict = 1;
      break;
    }
    struct proc_entry *parent = cur->ppid > 0 ? find(t, cur->ppid) : NULL;
    if (parent == NULL) {
      verdict = 0;
      break;
    }
    if (depth == sizeof chain / sizeof chain[0]) {
      /* Deeper than the chain buffer: resolve the rest recursively. */
      verdict = mark_descendant(t, parent, self);
      break;
    }
    chain[depth++] = cur;
    cur = parent;
  }
  cur->mark = (signed char)verdict;
  for (size_t i = 0; i < depth; i++) chain[i]->mark = (signed char)verdict;
  return verdict;
}

struct linux_dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

/* Fills t with every live descendant of the calling process. */
static int scan(struct proc_table *t) {
  t->n = 0;
  long dir = SC3(NR_openat, AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return (int)dir;
  char buf[8192] __attribute__((aligned(8)));
  for (;;) {
    long n = SC3(NR_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->reclen;
      if (d->name[0] < '1' || d->name[0] > '9') continue;
      struct proc_entry e = {.pid = (pid_t)sl_parse_long(d->name, NULL), .mark = -1};
      if (read_stat(e.pid, &e.ppid, &e.state, &e.cpu) < 0) continue; /* exited meanwhile */
      if (t->n == t->cap && grow(t) < 0) {
        SC1(NR_close, dir);
        return -ENOMEM;
      }
      t->v[t->n++] = e;
    }
  }
  SC1(NR_close, dir);
  pid_t self = (pid_t)SC0(NR_getpid);
  /* Mark everything first: the walk looks parents up in the full, sorted table. */
  for (size_t i = 0; i < t->n; i++) mark_descendant(t, &t->v[i], self);
  size_t kept = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (t->v[i].mark == 1) t->v[kept++] = t->v[i];
  }
  t->n = kept;
  return 0;
}

static void sleep_us(long us) {
  struct sl_timespec ts = {0, us * 1000};
  SC2(NR_nanosleep, &ts, NULL);
}

int sl_tree_signal(int sig) {
  struct proc_table t = {0};
  int rc = scan(&t);
  if (rc < 0) {
    release(&t);
    return rc;
  }
  int count = 0;
  for (size_t i = 0; i < t.n; i++) {
    if (t.v[i].state != 'Z' && SC2(NR_kill, t.v[i].pid, sig) == 0) count++;
  }
  release(&t);
  return count;
}

/* CPU time the sandbox has used, in clock ticks: the live (and zombie) processes' own and
 * reaped children's time, plus what the launcher collected from the children it reaped.
 * Saturates at INT32_MAX (over eight months of CPU at 100 Hz). */
int sl_tree_cpu(void) {
  struct proc_table t = {0};
  int rc = scan(&t);
  if (rc < 0) {
    release(&t);
    return rc;
  }
  long total = 0, self_cpu = 0;
  pid_t ppid;
  char state;
  if (read_stat((pid_t)SC0(NR_getpid), &ppid, &state, &self_cpu) == 0) total += self_cpu;
  for (size_t i = 0; i < t.n; i++) total += t.v[i].cpu;
  release(&t);
  return total > 0x7fffffff ? 0x7fffffff : (int)total;
}

/* Stops every process and returns once all of them are stopped. A process that forks
 * before its SIGSTOP lands leaves a running child; rescanning until no running process
 * is left catches it, and a stopped process cannot fork again. */
int sl_tree_stop(void) {
  struct proc_table t = {0};
  int stopped = 0;
  for (int round = 0; round < 5000; round++) {
    int rc = scan(&t);
    if (rc < 0) {
      release(&t);
      return rc;
    }
    int running = 0;
    stopped = 0;
    for (size_t i = 0; i < t.n; i++) {
      char s = t.v[i].state;
      if (s == 'T' || s == 't') {
        stopped++;
      } else if (s != 'Z' && s != 'X') {
        running++;
        SC2(NR_kill, t.v[i].pid, SIGSTOP);
      }
    }
    if (running == 0) break;
    sleep_us(200);
  }
  release(&t);
  return stopped;
}

/* Kills every process of the sandbox and reaps all of them. Rounds repeat until the
 * launcher has no child left: a process forking while it is killed cannot complete the
 * fork once SIGKILL is pending, and orphans of killed processes come back to the launcher
 * (subreaper) where the next round finds them. The root's wait status is recorded when
 * it is reaped here. Returns how many processes other than the root it reaped. */
int sl_tree_kill(pid_t root, int *root_status, int *root_reaped) {
  struct proc_table t = {0};
  int reaped = 0;
  for (;;) {
    /* /proc unreadable: nothing to signal, but keep reaping what dies. */
    if (scan(&t) < 0) t.n = 0;
    for (size_t i = 0; i < t.n; i++) {
      if (t.v[i].state != 'Z') SC2(NR_kill, t.v[i].pid, SIGKILL);
    }
    int status;
    long pid;
    int reaped_any = 0;
    while ((pid = SC4(NR_wait4, -1, &status, WALL | WNOHANG, 0)) > 0) {
      reaped_any = 1;
      if (pid != root) {
        reaped++;
      } else {
        *root_status = status;
        *root_reaped = 1;
      }
    }
    if (pid == -ECHILD) break;
    if (!reaped_any) sleep_us(100);
  }
  release(&t);
  return reaped;
}
