/* Finds every process of the sandbox from /proc and signals, stops, times or inspects it.
 * The launcher is a child subreaper, so a process that double-forks or calls setsid is
 * re-parented to the launcher, never to the host's init: "descendants of the launcher" is
 * exactly "processes of the sandbox". Where the kernel lists each thread's children
 * (/proc/<pid>/task/<tid>/children) the tree is walked down from the launcher (walk); where
 * it does not, or a walk does not settle, it comes from every process's /proc/<pid>/stat
 * (scan_host). A list that cannot be made whole is an error, never a shorter list. */
#include "launcher.h"

struct proc_entry {
  pid_t pid;
  pid_t ppid;
  long cpu; /* utime + stime + cutime + cstime, in clock ticks */
  unsigned long flags; /* PF_* */
  long threads; /* num_threads: the group's threads, an exited leader included */
  char state;
  signed char mark; /* -1 unknown, 0 not ours (a walk: gone), 1 descendant */
  int depth; /* a walk's: how many lists down from the launcher it was found */
};

struct proc_table {
  struct proc_entry *v;
  size_t n, cap; /* cap in entries; the mapping is cap * sizeof entry bytes */
};

#define PF_EXITING 0x4

/* /proc, opened once at start: listing it later needs no new descriptor. */
static long proc_dir = -1;

void sl_tree_init(void) {
  proc_dir = SC3(NR_openat, AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Out of descriptors: raise the soft RLIMIT_NOFILE to the hard one (no privilege needed),
 * or, when the hard limit itself is too low, both to 64 (works only for a launcher with
 * CAP_SYS_RESOURCE, i.e. started by root). Returns whether there is room to try again. */
static int more_descriptors(void) {
  uint64_t lim[2];
  if (SC4(NR_prlimit64, 0, RLIMIT_NOFILE, NULL, lim) < 0) return 0;
  if (lim[0] < lim[1]) {
    lim[0] = lim[1];
  } else if (lim[1] < 64) {
    lim[0] = lim[1] = 64;
  } else {
    return 0;
  }
  return SC4(NR_prlimit64, 0, RLIMIT_NOFILE, lim, NULL) == 0;
}

/* openat that retries once with a raised descriptor limit. */
static long open_retry(long dir, const char *path, int flags) {
  long fd = SC3(NR_openat, dir, path, flags);
  if ((fd == -EMFILE || fd == -ENFILE) && more_descriptors()) fd = SC3(NR_openat, dir, path, flags);
  return fd;
}

/* Reads a stat file (relative to /proc) into e: parent, state, flags, CPU time, threads.
 * The command name may hold spaces and parentheses, so fields are taken after the last
 * ')'. Returns 0, or -errno: ENOENT/ESRCH when the task is gone, anything else is a
 * failure to read. */
/* Reads up to size - 1 bytes of a file relative to /proc into buf, NUL-terminated.
 * Returns the bytes read, or -errno (ESRCH for an empty read: the task is gone). */
static long read_proc_file(const char *rel, char *buf, size_t size) {
  char path[80];
  long fd;
  if (proc_dir >= 0) {
    fd = open_retry(proc_dir, rel, O_RDONLY | O_CLOEXEC);
  } else {
    static const char prefix[] = "/proc/";
    size_t n = sl_strlen(rel);
    if (sizeof prefix + n > sizeof path) return -EIO;
    memcpy(path, prefix, sizeof prefix - 1);
    memcpy(path + sizeof prefix - 1, rel, n + 1);
    fd = open_retry(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return fd;
  long n = SC3(NR_read, fd, buf, size - 1);
  SC1(NR_close, fd);
  if (n < 0) return n;
  if (n == 0) return -ESRCH;
  buf[n] = '\0';
  return n;
}

static int read_stat_file(const char *rel, struct proc_entry *e) {
  char buf[512];
  long n = read_proc_file(rel, buf, sizeof buf);
  if (n < 0) return (int)n;
  const char *close_paren = NULL;
  for (long i = 0; i < n; i++) {
    if (buf[i] == ')') close_paren = buf + i;
  }
  if (close_paren == NULL || close_paren + 4 > buf + n || close_paren[1] != ' ') return -EIO;
  e->state = close_paren[2];
  e->ppid = (pid_t)sl_parse_long(close_paren + 4, NULL);
  /* Token k after the state is field 3 + k: flags (9) is token 6; utime, stime, cutime
   * and cstime (14-17) are tokens 11-14; num_threads (20) is token 17. */
  const char *p = close_paren + 2;
  e->cpu = 0;
  e->flags = 0;
  e->threads = 1;
  for (int token = 0; token <= 17 && p < buf + n; token++) {
    if (token == 6) e->flags = (unsigned long)sl_parse_long(p, NULL);
    if (token >= 11 && token <= 14) e->cpu += sl_parse_long(p, NULL);
    if (token == 17) e->threads = sl_parse_long(p, NULL);
    while (p < buf + n && *p != ' ') p++;
    p++;
  }
  return 0;
}

static int read_stat(pid_t pid, struct proc_entry *e) {
  char rel[48];
  sl_fmt_path(rel, "", pid, "/stat");
  return read_stat_file(rel, e);
}

struct linux_dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static int is_running(char s) { return s != 'T' && s != 't' && s != 'Z' && s != 'X'; }
static int is_stopped(char s) { return s == 'T' || s == 't'; }
static int is_group_stopped(char s) { return s == 'T'; }

/* The state of the first thread of pid (in /proc's order) that pick accepts, or 0 when
 * none does or pid is gone. */
static char thread_state(pid_t pid, int (*pick)(char)) {
  char rel[48], trel[80];
  sl_fmt_path(rel, proc_dir >= 0 ? "" : "/proc/", pid, "/task");
  long dir = open_retry(proc_dir >= 0 ? proc_dir : AT_FDCWD, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  char found = 0;
  char buf[4096] __attribute__((aligned(8)));
  while (found == 0) {
    long n = SC3(NR_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n && found == 0;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->reclen;
      if (d->name[0] < '1' || d->name[0] > '9') continue;
      sl_fmt_path(trel, "", pid, "/task/");
      size_t at = sl_strlen(trel);
      sl_fmt_path(trel + at, "", sl_parse_long(d->name, NULL), "/stat");
      struct proc_entry t;
      if (read_stat_file(trel, &t) == 0 && pick(t.state)) found = t.state;
    }
  }
  SC1(NR_close, dir);
  return found;
}

/*
 * The state of a process whose thread-group leader has exited while other threads go on
 * (SYS_exit from the main thread): /proc/<pid>/stat then shows the leader, a zombie, though
 * the process runs. Judged by that line alone, such a process was never counted for
 * maxProcesses, never stopped by the CPU throttle and never killed by a /proc teardown
 * round (second review of issue 9). Returns the state of its threads: the first one that
 * is neither stopped nor dead ('R', 'S', 'D'...), else 'T' when one is stopped, else 'Z'.
 */
static char group_state(pid_t pid) {
  char s = thread_state(pid, is_running);
  if (s != 0) return s;
  return thread_state(pid, is_stopped) != 0 ? 'T' : 'Z';
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

/* Whether e's parent has changed since e was read, e.ppid updated if so. A parent missing
 * from the table has exited since e was read (listed later in pid order: after the pid
 * counter wraps, a child can have the lower pid), and the kernel gives its children to a
 * subreaper (this launcher) before the parent's /proc entry goes: e's stat read again
 * names the new parent. Taken as outside the sandbox without it, e and all it made were
 * missing from the count (the seventeenth review, docs/security.md). */
static int reparented(struct proc_entry *e) {
  struct proc_entry again = {.pid = e->pid};
  if (read_stat(e->pid, &again) < 0 || again.ppid == e->ppid) return 0;
  e->ppid = again.ppid;
  return 1;
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
    if (parent == NULL && cur->ppid > 1 && reparented(cur)) continue;
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

/* Fills t with every live descendant of the calling process from a pass over every
 * process of the host. Fails rather than returning a partial list when a process's stat
 * cannot be read for any reason but its exit. */
static int scan_host(struct proc_table *t) {
  t->n = 0;
  long dir = proc_dir;
  if (dir >= 0) {
    if (SC3(NR_lseek, dir, 0, SEEK_SET) < 0) return -EIO;
  } else {
    dir = open_retry(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return (int)dir;
  }
  int rc = 0;
  char buf[8192] __attribute__((aligned(8)));
  for (;;) {
    long n = SC3(NR_getdents64, dir, buf, sizeof buf);
    if (n < 0) rc = (int)n;
    if (n <= 0) break;
    for (long off = 0; off < n && rc == 0;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->reclen;
      if (d->name[0] < '1' || d->name[0] > '9') continue;
      struct proc_entry e = {.pid = (pid_t)sl_parse_long(d->name, NULL), .mark = -1};
      int err = read_stat(e.pid, &e);
      if (err == -ENOENT || err == -ESRCH) continue; /* exited meanwhile */
      /* A zombie leader with threads left: the process is as alive as they are. */
      if (err == 0 && (e.state == 'Z' || e.state == 'X') && e.threads > 1) e.state = group_state(e.pid);
      if (err < 0) rc = err;
      else if (t->n == t->cap && grow(t) < 0) rc = -ENOMEM;
      else t->v[t->n++] = e;
    }
    if (rc < 0) break;
  }
  if (dir != proc_dir) SC1(NR_close, dir);
  if (rc < 0) return rc;
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

/* ---- the walk down the launcher's own tree ---- */

/* Whether the kernel lists each thread's children (CONFIG_PROC_CHILDREN): 1, 0, or -1 not
 * known yet. */
static int children_listed = -1;

static int lists_children(void) {
  if (children_listed < 0) {
    long fd = proc_dir >= 0 ? SC3(NR_openat, proc_dir, "thread-self/children", O_RDONLY | O_CLOEXEC) : SC3(NR_openat, AT_FDCWD, "/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      SC1(NR_close, fd);
      children_listed = 1;
    } else if (fd == -ENOENT) {
      children_listed = 0;
    } else {
      return 0; /* out of descriptors, say: the host pass this time */
    }
  }
  return children_listed;
}

/* The pids a walk has found (open addressing; 0 is an empty slot). */
struct pid_set {
  pid_t *v;
  size_t cap, n;
};

static int pid_set_add(struct pid_set *s, pid_t pid) {
  if (2 * (s->n + 1) > s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 256;
    pid_t *v = sl_alloc(cap * sizeof *v);
    if (v == NULL) return -ENOMEM;
    memset(v, 0, cap * sizeof *v);
    for (size_t i = 0; i < s->cap; i++) {
      if (s->v[i] == 0) continue;
      size_t j = (size_t)s->v[i] * 2654435761u & (cap - 1);
      while (v[j] != 0) j = (j + 1) & (cap - 1);
      v[j] = s->v[i];
    }
    sl_free(s->v, s->cap * sizeof *s->v);
    s->v = v;
    s->cap = cap;
  }
  size_t j = (size_t)pid * 2654435761u & (s->cap - 1);
  while (s->v[j] != 0) {
    if (s->v[j] == pid) return 0;
    j = (j + 1) & (s->cap - 1);
  }
  s->v[j] = pid;
  s->n++;
  return 1;
}

/* Appends to t, at `depth`, each pid a children file lists ("12 34 ") that the walk has
 * not found yet. Returns 0, -errno when the read failed (the thread went: -ESRCH,
 * -ENOENT), or -ENOMEM. */
static int walk_children(long fd, struct proc_table *t, struct pid_set *known, int depth) {
  char buf[4096];
  long num = 0;
  int digits = 0;
  for (;;) {
    long got = SL_RETRY(SC3(NR_read, fd, buf, sizeof buf));
    if (got < 0) return (int)got;
    for (long i = 0; i <= got; i++) {
      if (i < got && buf[i] >= '0' && buf[i] <= '9') {
        num = num * 10 + (buf[i] - '0');
        digits = 1;
        continue;
      }
      if (!digits || (i == got && got > 0)) continue; /* a number may go on in the next read */
      int added = pid_set_add(known, (pid_t)num);
      if (added < 0) return added;
      if (added && t->n == t->cap && grow(t) < 0) return -ENOMEM;
      if (added) t->v[t->n++] = (struct proc_entry){.pid = (pid_t)num, .mark = -1, .depth = depth};
      num = 0;
      digits = 0;
    }
    if (got == 0) return 0;
  }
}

/* Reads the lists of children of every thread of pid, new children appended to t one
 * deeper, then (for an entry of t, at index `at`) its stat: alive then, it was alive while
 * its lists were read. Returns 1 when what the walk knew may have moved (pid gone, newly
 * a zombie, or a thread gone during the read), 0, or -errno (a list or stat that could not
 * be read but for an exit). */
static int walk_read(struct proc_table *t, struct pid_set *known, pid_t pid, size_t at, int depth) {
  char rel[80];
  sl_fmt_path(rel, proc_dir >= 0 ? "" : "/proc/", pid, "/task");
  long base = proc_dir >= 0 ? proc_dir : AT_FDCWD;
  long dir = open_retry(base, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int changed = 0, rc = 0;
  if (dir == -ENOENT || dir == -ESRCH) {
    if (at == (size_t)-1) return 0; /* the launcher's own: cannot be */
    t->v[at].mark = 0;
    return 1;
  }
  if (dir < 0) return (int)dir;
  char dents[4096] __attribute__((aligned(8)));
  int dead = 0;
  for (;;) {
    long n = SC3(NR_getdents64, dir, dents, sizeof dents);
    if (n == -ENOENT || n == -ESRCH) dead = 1; /* the process went while listed */
    else if (n < 0) rc = (int)n;
    if (n <= 0) break;
    for (long off = 0; off < n && rc == 0;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
      off += d->reclen;
      if (d->name[0] < '1' || d->name[0] > '9') continue;
      char crel[112];
      sl_fmt_path(crel, "", sl_parse_long(d->name, NULL), "/children");
      long fd = open_retry(dir, crel, O_RDONLY | O_CLOEXEC);
      if (fd == -ENOENT || fd == -ESRCH) {
        changed = 1; /* the thread went: its children went to another one */
        continue;
      }
      if (fd < 0) {
        rc = (int)fd;
        break;
      }
      int r = walk_children(fd, t, known, depth + 1);
      SC1(NR_close, fd);
      if (r == -ENOENT || r == -ESRCH) changed = 1;
      else if (r < 0) rc = r;
    }
    if (rc < 0) break;
  }
  SC1(NR_close, dir);
  if (rc < 0) return rc;
  if (dead && at != (size_t)-1) {
    t->v[at].mark = 0;
    return 1;
  }
  if (at == (size_t)-1) return changed;
  struct proc_entry e = {.pid = pid, .mark = 1, .depth = t->v[at].depth};
  int err = read_stat(pid, &e);
  if (err == -ENOENT || err == -ESRCH) {
    t->v[at].mark = 0;
    return 1;
  }
  if (err < 0) return err;
  /* A zombie leader with threads left: the process is as alive as they are. */
  if ((e.state == 'Z' || e.state == 'X') && e.threads > 1) e.state = group_state(pid);
  /* A zombie gave its children away as it exited: seen for the first time, every list
   * is read after that. */
  int was_zombie = t->v[at].mark == 1 && (t->v[at].state == 'Z' || t->v[at].state == 'X');
  if ((e.state == 'Z' || e.state == 'X') && !was_zombie) changed = 1;
  t->v[at] = e;
  return changed;
}

/* Passes of re-reads a walk may take before the host pass serves instead. */
#define WALK_PASSES 8

/*
 * Fills t with every descendant of the calling process by walking down its lists of
 * children, in proportion to the sandbox rather than to the host. Lists are read one at a
 * time while processes exit, and an exiting process's children are given to the nearest
 * live subreaper above it (this launcher, the kernel view's init, or one of the sandbox's),
 * or to another thread of their process, often to a list read already; the parent may even
 * be reaped before its own parent's list is read. So every list is read again, deepest
 * first, until a whole pass finds no new process and none found gone, newly exited or with
 * a thread gone (src/supervise/members.ts walkTree does the same; its unit test holds the
 * logic against a model of exits, reaps, forks and subreapers). Returns 0, 1 when the
 * walk did not settle (the caller passes over the host), or -errno.
 */
static int walk(struct proc_table *t) {
  t->n = 0;
  struct pid_set known = {0};
  pid_t self = (pid_t)SC0(NR_getpid);
  int rc = pid_set_add(&known, self) < 0 ? -ENOMEM : 0;
  size_t next = 0, seen = (size_t)-1;
  int changed = rc == 0 ? walk_read(t, &known, self, (size_t)-1, 0) : 0;
  if (changed < 0) rc = changed;
  for (int pass = 0; rc == 0; pass++) {
    for (; next < t->n && rc == 0; next++) {
      int r = walk_read(t, &known, t->v[next].pid, next, t->v[next].depth);
      if (r < 0) rc = r;
      else changed |= r;
    }
    if (rc != 0) break;
    if (pass > 0 && !changed && t->n == seen) break;
    if (pass > WALK_PASSES) {
      rc = 1;
      break;
    }
    seen = t->n;
    changed = 0;
    int deepest = 0;
    for (size_t i = 0; i < t->n; i++) {
      if (t->v[i].depth > deepest) deepest = t->v[i].depth;
    }
    for (int d = deepest; d >= 1 && rc == 0; d--) {
      for (size_t i = 0; i < seen && rc == 0; i++) {
        if (t->v[i].depth != d || t->v[i].mark == 0) continue;
        int r = walk_read(t, &known, t->v[i].pid, i, d);
        if (r < 0) rc = r;
        else changed |= r;
      }
    }
    if (rc == 0) {
      int r = walk_read(t, &known, self, (size_t)-1, 0);
      if (r < 0) rc = r;
      else changed |= r;
    }
  }
  sl_free(known.v, known.cap * sizeof *known.v);
  if (rc != 0) return rc;
  size_t kept = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (t->v[i].mark == 1) t->v[kept++] = t->v[i];
  }
  t->n = kept;
  return 0;
}

/* Fills t with every live descendant of the calling process (zombies included), walked
 * where the kernel lists children, else from a pass over the host. */
static int scan(struct proc_table *t) {
  if (lists_children()) {
    int rc = walk(t);
    if (rc <= 0) return rc;
  }
  return scan_host(t);
}

/* Sends sig to every process of the sandbox that kill() still reaches, and counts them. A
 * zombie is passed over (nothing to signal), unless `zombies` asks for those whose parent
 * is not this launcher (see sl_tree_count). */
static int signal_tree(int sig, int zombies) {
  struct proc_table t = {0};
  int rc = scan(&t);
  if (rc < 0) {
    release(&t);
    return rc;
  }
  pid_t self = (pid_t)SC0(NR_getpid);
  int count = 0;
  for (size_t i = 0; i < t.n; i++) {
    if (t.v[i].state == 'Z' && (!zombies || t.v[i].ppid == self)) continue;
    /* ESRCH: reaped or gone since the scan. */
    if (SC2(NR_kill, t.v[i].pid, sig) == 0) count++;
  }
  release(&t);
  return count;
}

int sl_tree_signal(int sig) { return signal_tree(sig, 0); }

/* maxProcesses' count (SL_CMD_COUNT): every process of the sandbox that still holds its
 * pid. A zombie does until its parent reaps it, so it counts while its parent is one of
 * the sandbox's processes: a program that forks children and never waits for them would
 * otherwise hold any number of pids (400 under maxProcesses 10, and the host's pid_max
 * under the default 64, in the eleventh review). A zombie whose parent is this launcher
 * (the command in the supervised view, an orphan given to this subreaper, the kernel
 * view's init) is not counted: the launcher reaps it. */
int sl_tree_count(void) { return signal_tree(0, 1); }

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
  long total = 0;
  struct proc_entry self;
  if (read_stat((pid_t)SC0(NR_getpid), &self) == 0) total += self.cpu;
  for (size_t i = 0; i < t.n; i++) total += t.v[i].cpu;
  release(&t);
  return total > 0x7fffffff ? 0x7fffffff : (int)total;
}

/* Whether pid's SIGSTOP is already on its way: still queued for the process (ShdPnd), or
 * taken by one of its threads, which is then stopped ('T') while the others follow. The
 * queue is read first: the kernel takes SIGSTOP off it and stops the taking thread under
 * one hold of the signal lock, so a queue found empty means that thread's state is
 * already 'T', or the stop was undone by a SIGCONT (from a process of the sandbox not yet
 * stopped) or never sent. 0 when the stop must be sent (again), 1 when it is under way. */
static int stop_under_way(pid_t pid) {
  char rel[48], buf[4096];
  sl_fmt_path(rel, "", pid, "/status");
  long n = read_proc_file(rel, buf, sizeof buf);
  if (n < 0) return 0;
  static const char key[] = "\nShdPnd:";
  for (long i = 0; i + (long)sizeof key - 1 < n; i++) {
    if (memcmp(buf + i, key, sizeof key - 1) != 0) continue;
    const char *p = buf + i + sizeof key - 1;
    while (*p == ' ' || *p == '\t') p++;
    /* 16 hex digits, signal s at bit s - 1: SIGSTOP's digit is the fifth from the end. */
    const char *end = p;
    while ((*end >= '0' && *end <= '9') || (*end >= 'a' && *end <= 'f')) end++;
    if (end - p >= 5) {
      char d = end[-5];
      int v = d <= '9' ? d - '0' : d - 'a' + 10;
      if (v & (1 << ((SIGSTOP - 1) % 4))) return 1;
    }
    break;
  }
  return thread_state(pid, is_group_stopped) != 0;
}

/* Stops every process and returns once all of them are stopped. A process that forks
 * before its SIGSTOP lands leaves a running child; rescanning until no running process
 * is left catches it, and a stopped process cannot fork again. A process still shown
 * running on a rescan is sent SIGSTOP again only when its first one is no longer on its
 * way (stop_under_way): a second sent while a multi-threaded process's group stop is
 * still reaching its leader stayed queued once it stopped, and a checkpoint of the
 * paused sandbox recorded it as a pending signal. */
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
        if (round == 0 || !stop_under_way(t.v[i].pid)) SC2(NR_kill, t.v[i].pid, SIGSTOP);
      }
    }
    if (running == 0) break;
    sl_sleep_us(200);
  }
  release(&t);
  return stopped;
}

/* Calls fn with every live thread of every live process of the sandbox (a zombie
 * leader's other threads included), from /proc/<pid>/task. Returns how many, or -errno
 * when the list could not be made. */
int sl_tree_threads(void (*fn)(pid_t tid, void *arg), void *arg) {
  struct proc_table t = {0};
  int rc = scan(&t);
  int count = 0;
  char rel[48];
  char buf[4096] __attribute__((aligned(8)));
  for (size_t i = 0; rc == 0 && i < t.n; i++) {
    if (t.v[i].state == 'Z' || t.v[i].state == 'X') continue;
    sl_fmt_path(rel, proc_dir >= 0 ? "" : "/proc/", t.v[i].pid, "/task");
    long dir = open_retry(proc_dir >= 0 ? proc_dir : AT_FDCWD, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir == -ENOENT || dir == -ESRCH) continue; /* gone meanwhile */
    if (dir < 0) {
      rc = (int)dir;
      break;
    }
    for (;;) {
      long n = SC3(NR_getdents64, dir, buf, sizeof buf);
      if (n < 0) rc = (int)n;
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
        off += d->reclen;
        if (d->name[0] < '1' || d->name[0] > '9') continue;
        pid_t tid = (pid_t)sl_parse_long(d->name, NULL);
        /* An exited thread (a zombie leader's own) is not one to stop. */
        char trel[80];
        struct proc_entry te;
        sl_fmt_path(trel, "", t.v[i].pid, "/task/");
        sl_fmt_path(trel + sl_strlen(trel), "", tid, "/stat");
        if (read_stat_file(trel, &te) < 0 || te.state == 'Z' || te.state == 'X') continue;
        fn(tid, arg);
        count++;
      }
    }
    SC1(NR_close, dir);
  }
  release(&t);
  return rc < 0 ? rc : count;
}

/* One round of the /proc teardown: SIGKILL every live descendant. Returns how many were
 * signalled, or -errno when the list could not be made. */
int sl_tree_kill_round(void) {
  struct proc_table t = {0};
  int rc = scan(&t);
  int count = 0;
  for (size_t i = 0; rc == 0 && i < t.n; i++) {
    if (t.v[i].state != 'Z' && SC2(NR_kill, t.v[i].pid, SIGKILL) == 0) count++;
  }
  release(&t);
  return rc < 0 ? rc : count;
}

/* struct pidfd_info up to coredump_mask (Linux 6.16), for PIDFD_GET_INFO. */
struct sl_pidfd_info {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t ids[11]; /* pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid */
  int32_t exit_code;
  uint32_t coredump_mask;
  uint32_t spare;
};
#define SL_PIDFD_GET_INFO ((3UL << 30) | ((unsigned long)sizeof(struct sl_pidfd_info) << 16) | (0xFFUL << 8) | 11)
#define SL_PIDFD_INFO_COREDUMP (1ULL << 4)
#define SL_PIDFD_COREDUMP_USER (1U << 2)

/* Whether pid's memory is marked not dumpable (it executed a file it may not read): the
 * kernel then detaches inherited perf counters from it (fs/exec.c). A process that is
 * exiting has no memory left and reads as not dumpable too, so the answer counts only
 * while its stat shows it neither exiting nor a zombie, read after the question. Kernels
 * without PIDFD_INFO_COREDUMP give no answer (0). */
static int undumpable(pid_t pid) {
  long fd = SC2(NR_pidfd_open, pid, 0);
  if (fd < 0) return 0;
  struct sl_pidfd_info info;
  memset(&info, 0, sizeof info);
  info.mask = SL_PIDFD_INFO_COREDUMP;
  long rc = SC3(NR_ioctl, fd, SL_PIDFD_GET_INFO, &info);
  SC1(NR_close, fd);
  if (rc < 0 || !(info.mask & SL_PIDFD_INFO_COREDUMP) || (info.coredump_mask & SL_PIDFD_COREDUMP_USER)) return 0;
  struct proc_entry e;
  if (read_stat(pid, &e) < 0 || e.state == 'Z' || e.state == 'X' || (e.flags & PF_EXITING)) return 0;
  return 1;
}

/* The first live descendant that is not dumpable, 0 when there is none, or -errno. */
int sl_tree_undumpable(void) {
  struct proc_table t = {0};
  int rc = scan(&t);
  for (size_t i = 0; rc == 0 && i < t.n; i++) {
    if (t.v[i].state == 'Z' || t.v[i].state == 'X' || (t.v[i].flags & PF_EXITING)) continue;
    if (undumpable(t.v[i].pid)) rc = t.v[i].pid;
  }
  release(&t);
  return rc;
}
