/* Finds every process of the sandbox and signals it. The launcher is a child subreaper,
 * so a process that double-forks or calls setsid is re-parented to the launcher, never to
 * the host's init: "descendants of the launcher" is exactly "processes of the sandbox". */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"

struct proc_entry {
  pid_t pid;
  pid_t ppid;
  char state;
  signed char mark; /* -1 unknown, 0 not ours, 1 descendant */
};

struct proc_table {
  struct proc_entry *v;
  size_t n, cap;
};

/* Reads pid's parent and state from /proc/<pid>/stat. The command name may hold spaces
 * and parentheses, so fields are taken after the last ')'. */
static int read_stat(pid_t pid, pid_t *ppid, char *state) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *close_paren = strrchr(buf, ')');
  if (close_paren == NULL || close_paren[1] != ' ' || close_paren[2] == '\0') return -1;
  *state = close_paren[2];
  *ppid = (pid_t)strtol(close_paren + 4, NULL, 10);
  return 0;
}

static int cmp_pid(const void *a, const void *b) {
  pid_t x = ((const struct proc_entry *)a)->pid, y = ((const struct proc_entry *)b)->pid;
  return (x > y) - (x < y);
}

static struct proc_entry *find(struct proc_table *t, pid_t pid) {
  struct proc_entry key = {.pid = pid};
  return bsearch(&key, t->v, t->n, sizeof key, cmp_pid);
}

/* 1 when e descends from self. Iterative walk up the parent chain, memoised in mark. */
static int is_descendant(struct proc_table *t, struct proc_entry *e, pid_t self) {
  struct proc_entry *chain[64];
  size_t depth = 0;
  int verdict = 0;
  struct proc_entry *cur = e;
  for (;;) {
    if (cur->mark >= 0) {
      verdict = cur->mark;
      break;
    }
    if (cur->ppid == self) {
      verdict = 1;
      cur->mark = 1;
      break;
    }
    struct proc_entry *parent = cur->ppid > 0 ? find(t, cur->ppid) : NULL;
    if (parent == NULL || depth == sizeof chain / sizeof chain[0]) {
      /* Deeper than the chain buffer: fall back to the unmemoised walk. */
      if (parent != NULL) {
        verdict = is_descendant(t, parent, self);
      }
      cur->mark = (signed char)verdict;
      break;
    }
    chain[depth++] = cur;
    cur = parent;
  }
  for (size_t i = 0; i < depth; i++) chain[i]->mark = (signed char)verdict;
  return verdict;
}

/* Fills t with every live descendant of the calling process. */
static int scan(struct proc_table *t) {
  t->n = 0;
  DIR *d = opendir("/proc");
  if (d == NULL) return -1;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
    struct proc_entry e = {.pid = pid, .mark = -1};
    if (read_stat(pid, &e.ppid, &e.state) < 0) continue; /* exited meanwhile */
    if (t->n == t->cap) {
      size_t cap = t->cap ? t->cap * 2 : 256;
      struct proc_entry *v = realloc(t->v, cap * sizeof *v);
      if (v == NULL) {
        closedir(d);
        return -1;
      }
      t->v = v;
      t->cap = cap;
    }
    t->v[t->n++] = e;
  }
  closedir(d);
  qsort(t->v, t->n, sizeof *t->v, cmp_pid);
  pid_t self = getpid();
  /* Mark everything first: the walk looks parents up in the full, sorted table. */
  for (size_t i = 0; i < t->n; i++) is_descendant(t, &t->v[i], self);
  size_t kept = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (t->v[i].mark == 1) t->v[kept++] = t->v[i];
  }
  t->n = kept;
  return 0;
}

static void sleep_us(long us) {
  struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

int sl_tree_signal(int sig) {
  struct proc_table t = {0};
  if (scan(&t) < 0) return -1;
  int count = 0;
  for (size_t i = 0; i < t.n; i++) {
    if (t.v[i].state != 'Z' && kill(t.v[i].pid, sig) == 0) count++;
  }
  free(t.v);
  return count;
}

/* Stops every process and returns once all of them are stopped. A process that forks
 * before its SIGSTOP lands leaves a running child; rescanning until no running process
 * is left catches it, and a stopped process cannot fork again. */
int sl_tree_stop(void) {
  struct proc_table t = {0};
  int stopped = 0;
  for (int round = 0; round < 5000; round++) {
    if (scan(&t) < 0) {
      free(t.v);
      return -1;
    }
    int running = 0;
    stopped = 0;
    for (size_t i = 0; i < t.n; i++) {
      char s = t.v[i].state;
      if (s == 'T' || s == 't') {
        stopped++;
      } else if (s != 'Z' && s != 'X') {
        running++;
        kill(t.v[i].pid, SIGSTOP);
      }
    }
    if (running == 0) break;
    sleep_us(200);
  }
  free(t.v);
  return stopped;
}

/* Kills every process of the sandbox and reaps all of them. Rounds repeat until the
 * launcher has no child left: a process forking while it is killed cannot complete the
 * fork once SIGKILL is pending, and orphans of killed processes come back to the launcher
 * (subreaper) where the next round finds them. The root's wait status is recorded when
 * it is reaped here. Returns how many processes other than the root it reaped. */
int sl_tree_kill(pid_t root, int *root_status, int *root_reaped) {
  struct proc_table t = {0};
  int killed = 0;
  for (;;) {
    if (scan(&t) < 0) {
      /* /proc unreadable: kill what we can reach directly and keep reaping. */
      t.n = 0;
    }
    for (size_t i = 0; i < t.n; i++) {
      if (t.v[i].state != 'Z') kill(t.v[i].pid, SIGKILL);
    }
    int status;
    pid_t pid;
    int reaped_any = 0;
    while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0) {
      reaped_any = 1;
      if (pid != root) {
        killed++;
      } else {
        *root_status = status;
        *root_reaped = 1;
      }
    }
    if (pid < 0 && errno == ECHILD) break;
    if (!reaped_any) sleep_us(100);
  }
  free(t.v);
  return killed;
}
