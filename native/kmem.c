/* Kernel buffers the memory supervisor charges (src/supervise/kernel-buffers.ts): the
 * host's unix and IP sockets with their queued bytes (NETLINK_SOCK_DIAG, which needs no
 * privilege), the sockets and pipes in a process's descriptor table, and the int socket
 * options it performs on a duplicate. Each returns what the kernel said, or -errno;
 * decisions are TypeScript's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "addon.h"

/* Records are gathered as u32 words into one growing array; no host lists more than this. */
#define SL_WORDS_MAX (16u << 20)

struct words {
  uint32_t *w;
  size_t len, cap;
};

static int words_push(struct words *o, uint32_t v) {
  if (o->len == o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 4096;
    if (cap > SL_WORDS_MAX) return -ENOBUFS;
    uint32_t *grown = realloc(o->w, cap * sizeof *grown);
    if (grown == NULL) return -ENOMEM;
    o->w = grown;
    o->cap = cap;
  }
  o->w[o->len++] = v;
  return 0;
}

/* The words as a Buffer (copied), or rc when it is an error; frees the words. */
static napi_value words_result(napi_env env, struct words *o, int rc) {
  napi_value out = NULL;
  if (rc < 0) {
    free(o->w);
    return sl_make_int(env, rc);
  }
  void *copy = NULL;
  napi_status st = napi_create_buffer_copy(env, o->len * sizeof(uint32_t), o->len ? (void *)o->w : (void *)"", &copy, &out);
  free(o->w);
  if (st != napi_ok) {
    napi_throw_error(env, "SL_NAPI", "napi_create_buffer_copy failed");
    return NULL;
  }
  return out;
}

static uint64_t mono_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* A fresh NETLINK_SOCK_DIAG socket with req sent on it, or -errno. */
static int diag_send(const void *req, size_t len) {
  int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (s < 0) return -errno;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent;
  do {
    sent = sendto(s, req, len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    int e = -errno;
    close(s);
    return e;
  }
  return s;
}

/* Hands each reply message on socket s to `each` until NLMSG_DONE (a dump) or the first
 * reply (an exact request): *done is then 1. With budget_us not 0, returns after the first
 * receive that finds that many microseconds spent, *done 0: the kernel makes the next
 * messages of a dump when the socket is read again (netlink_recvmsg), so a dump goes on
 * where it stopped. 0 or -errno. */
static int diag_recv(int s, int dump, int (*each)(struct nlmsghdr *, struct words *), struct words *o, long budget_us, int *done) {
  uint64_t start = budget_us > 0 ? mono_us() : 0;
  *done = 0;
  /* Node calls from its main thread only. */
  static char buf[1 << 16] __attribute__((aligned(8)));
  for (;;) {
    ssize_t got = recv(s, buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -errno;
    if (got == 0) {
      *done = 1;
      return 0;
    }
    int left = (int)got;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        *done = 1;
        return 0;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        *done = 1;
        return e->error;
      }
      int rc = each(h, o);
      if (rc < 0) return rc;
      if (!dump) {
        *done = 1;
        return 0;
      }
    }
    if (budget_us > 0 && mono_us() - start >= (uint64_t)budget_us) return 0;
  }
}

/* Sends req on a fresh NETLINK_SOCK_DIAG socket and hands each reply message to `each`
 * until NLMSG_DONE (a dump) or the first reply (an exact request). */
static int diag_run(const void *req, size_t len, int dump, int (*each)(struct nlmsghdr *, struct words *), struct words *o) {
  int s = diag_send(req, len);
  if (s < 0) return s;
  int done;
  int rc = diag_recv(s, dump, each, o, 0, &done);
  close(s);
  return rc;
}

/* One unix socket as words: ino, type, state, peer, rqueue, wmem_alloc, vfs inode (0: not
 * bound to a path), flags (1: it has a name, a path or an abstract one), then the count of
 * pending connections and their inodes (a listener's). */
static int unix_each(struct nlmsghdr *h, struct words *o) {
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg))) return 0;
  struct unix_diag_msg *m = NLMSG_DATA(h);
  uint32_t peer = 0, rq = 0, wmem = 0, vfs = 0, flags = 0, nicons = 0;
  const uint32_t *icons = NULL;
  int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
  for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    size_t n = RTA_PAYLOAD(a);
    if (a->rta_type == UNIX_DIAG_PEER && n >= 4) memcpy(&peer, RTA_DATA(a), 4);
    if (a->rta_type == UNIX_DIAG_RQLEN && n >= sizeof(struct unix_diag_rqlen)) {
      struct unix_diag_rqlen q;
      memcpy(&q, RTA_DATA(a), sizeof q);
      rq = q.udiag_rqueue;
    }
    if (a->rta_type == UNIX_DIAG_MEMINFO && n >= (SK_MEMINFO_WMEM_ALLOC + 1) * 4) memcpy(&wmem, (char *)RTA_DATA(a) + SK_MEMINFO_WMEM_ALLOC * 4, 4);
    if (a->rta_type == UNIX_DIAG_VFS && n >= sizeof(struct unix_diag_vfs)) {
      struct unix_diag_vfs v;
      memcpy(&v, RTA_DATA(a), sizeof v);
      vfs = v.udiag_vfs_ino;
    }
    if (a->rta_type == UNIX_DIAG_NAME && n > 0) flags |= 1;
    if (a->rta_type == UNIX_DIAG_ICONS) {
      icons = RTA_DATA(a);
      nicons = (uint32_t)(n / 4);
    }
  }
  /* A listening socket's RQLEN is its count of pending connections, not bytes. */
  if (m->udiag_state == 10 /* TCP_LISTEN */) rq = 0;
  uint32_t rec[] = {m->udiag_ino, m->udiag_type, m->udiag_state, peer, rq, wmem, vfs, flags, nicons};
  for (size_t i = 0; i < sizeof rec / sizeof rec[0]; i++) {
    int rc = words_push(o, rec[i]);
    if (rc < 0) return rc;
  }
  for (uint32_t i = 0; i < nicons; i++) {
    uint32_t ino;
    memcpy(&ino, icons + i, 4);
    int rc = words_push(o, ino);
    if (rc < 0) return rc;
  }
  return 0;
}

struct unix_req {
  struct nlmsghdr h;
  struct unix_diag_req r;
};

/* The request for unix socket ino, or (ino 0) a dump of every one. */
static void unix_request(struct unix_req *req, uint32_t ino) {
  memset(req, 0, sizeof *req);
  req->h.nlmsg_len = sizeof *req;
  req->h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req->h.nlmsg_flags = NLM_F_REQUEST | (ino == 0 ? NLM_F_DUMP : 0);
  req->r.sdiag_family = AF_UNIX;
  req->r.udiag_states = ~0u;
  req->r.udiag_ino = ino;
  req->r.udiag_cookie[0] = req->r.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
  req->r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_MEMINFO | UDIAG_SHOW_VFS | UDIAG_SHOW_ICONS;
}

/* unixSockets(ino) -> Buffer of u32 records (see unix_each), or -errno. ino 0: every unix
 * socket of this network namespace (a dump); otherwise that one socket (ENOENT: none). */
static napi_value sl_unix_sockets(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_I64(env, 0, ino);
  struct unix_req req;
  unix_request(&req, (uint32_t)ino);
  struct words o = {0};
  int rc = diag_run(&req, sizeof req, ino == 0, unix_each, &o);
  return words_result(env, &o, rc);
}

/* One IP socket as words: ino (0: not yet accepted, or orphaned), state, local port,
 * rmem_alloc, wmem_queued, wmem_alloc. */
static int inet_each(struct nlmsghdr *h, struct words *o) {
  if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) return 0;
  struct inet_diag_msg *m = NLMSG_DATA(h);
  uint32_t mem[SK_MEMINFO_VARS];
  memset(mem, 0, sizeof mem);
  int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
  for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    size_t n = RTA_PAYLOAD(a);
    if (a->rta_type == INET_DIAG_SKMEMINFO) memcpy(mem, RTA_DATA(a), n < sizeof mem ? n : sizeof mem);
  }
  uint32_t rec[] = {m->idiag_inode, m->idiag_state, ntohs(m->id.idiag_sport), mem[SK_MEMINFO_RMEM_ALLOC], mem[SK_MEMINFO_WMEM_QUEUED], mem[SK_MEMINFO_WMEM_ALLOC]};
  for (size_t i = 0; i < sizeof rec / sizeof rec[0]; i++) {
    int rc = words_push(o, rec[i]);
    if (rc < 0) return rc;
  }
  return 0;
}

struct inet_req {
  struct nlmsghdr h;
  struct inet_diag_req_v2 r;
  struct nlattr a;
  struct inet_diag_bc_op bc[4];
};

/* The dump request of inetSockets; returns its length. */
static size_t inet_request(struct inet_req *req, int family, int protocol, int states, int port) {
  memset(req, 0, sizeof *req);
  size_t len = offsetof(struct inet_req, a);
  if (port > 0 && port <= 65535) {
    /* local port >= port (else past the end: no match), then <= port (the same). A jump
     * that lands exactly on the end accepts; one beyond it rejects (inet_diag_bc_run). */
    req->bc[0] = (struct inet_diag_bc_op){.code = INET_DIAG_BC_S_GE, .yes = 8, .no = 20};
    req->bc[1] = (struct inet_diag_bc_op){.no = (unsigned short)port};
    req->bc[2] = (struct inet_diag_bc_op){.code = INET_DIAG_BC_S_LE, .yes = 8, .no = 12};
    req->bc[3] = (struct inet_diag_bc_op){.no = (unsigned short)port};
    req->a.nla_type = INET_DIAG_REQ_BYTECODE;
    req->a.nla_len = (uint16_t)(sizeof req->a + sizeof req->bc);
    len = sizeof *req;
  }
  req->h.nlmsg_len = (uint32_t)len;
  req->h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req->r.sdiag_family = (uint8_t)family;
  req->r.sdiag_protocol = (uint8_t)protocol;
  req->r.idiag_states = (uint32_t)states;
  req->r.idiag_ext = 1u << (INET_DIAG_SKMEMINFO - 1);
  return len;
}

/* inetSockets(family, protocol, states, port) -> Buffer of u32 records (see inet_each) for
 * every socket of that family and protocol (IPPROTO_TCP, IPPROTO_UDP) in this network
 * namespace whose state is in the mask `states` (bit N: TCP state N; -1 every state) and,
 * unless `port` is 0, whose local port is `port`; or -errno. The kernel leaves the others
 * out (listeners only: only the listening table is walked; a port: a filter the kernel
 * runs on each socket, so only the matches are sent). */
static napi_value sl_inet_sockets(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 4);
  SL_ARG_INT(env, 0, family);
  SL_ARG_INT(env, 1, protocol);
  SL_ARG_INT(env, 2, states);
  SL_ARG_INT(env, 3, port);
  struct inet_req req;
  size_t len = inet_request(&req, family, protocol, states, port);
  struct words o = {0};
  int rc = diag_run(&req, len, 1, inet_each, &o);
  return words_result(env, &o, rc);
}

/* diagDumpStart(family, protocol) -> the descriptor of a NETLINK_SOCK_DIAG socket with a
 * dump asked for, to be read with diagDumpPart and closed by the caller; or -errno. AF_UNIX
 * (protocol 0): every unix socket, as unixSockets(0); AF_INET or AF_INET6 with IPPROTO_TCP
 * or IPPROTO_UDP: every such socket, as inetSockets(family, protocol, -1, 0). Anything
 * else: -EINVAL. */
static napi_value sl_diag_dump_start(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, family);
  SL_ARG_INT(env, 1, protocol);
  int s = -EINVAL;
  if (family == AF_UNIX && protocol == 0) {
    struct unix_req req;
    unix_request(&req, 0);
    s = diag_send(&req, sizeof req);
  } else if ((family == AF_INET || family == AF_INET6) && (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP)) {
    struct inet_req req;
    size_t len = inet_request(&req, family, protocol, -1, 0);
    s = diag_send(&req, len);
  }
  return sl_make_int(env, s);
}

/* diagDumpPart(fd, family, budgetUs) -> Buffer: its first u32 1 once the dump is over, then
 * the records read this time (unixSockets's format for AF_UNIX, inetSockets's otherwise),
 * reading until `budgetUs` microseconds are spent (one receive at least); or -errno. A
 * host's socket tables are as long as its processes make them, a sandbox's among them:
 * 128,000 unix sockets took 300 ms in one call. */
static napi_value sl_diag_dump_part(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, family);
  SL_ARG_INT(env, 2, budget_us);
  struct words o = {0};
  int rc = words_push(&o, 0);
  int done = 0;
  if (rc == 0) rc = diag_recv(fd, 1, family == AF_UNIX ? unix_each : inet_each, &o, budget_us > 0 ? budget_us : 1, &done);
  if (rc == 0) o.w[0] = (uint32_t)done;
  return words_result(env, &o, rc);
}

/* The watches of the epoll file at /proc/<pid>/fdinfo/<fd>: its "tfd:" lines. */
static uint32_t epoll_watches(int pid, const char *fd) {
  char path[300];
  snprintf(path, sizeof path, "/proc/%d/fdinfo/%.255s", pid, fd);
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return 0;
  uint32_t count = 0;
  char buf[16384];
  int at_line = 1; /* at the start of a line */
  int matched = 0; /* characters of "tfd:" matched at this line's start */
  for (;;) {
    ssize_t n = read(f, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\n') {
        at_line = 1;
        matched = 0;
        continue;
      }
      if (!at_line) continue;
      if (c == "tfd:"[matched]) {
        if (++matched == 4) {
          count++;
          at_line = 0;
        }
      } else {
        at_line = 0;
      }
    }
  }
  close(f);
  return count;
}

/* The inode in a descriptor link "socket:[N]" or "pipe:[N]": 1 or 2 in *kind; an epoll
 * file (anon_inode:[eventpoll], whose inode all anonymous files share): 3; a path ending
 * in "/ptmx": 5; a path whose last name is a number (a terminal /dev/pts/N, or anything
 * so named): 4, with the number; the same name removed since ("N (deleted)": a terminal
 * whose multiplexer was closed, still held by its other end): 7, with the number; else 0. */
static uint32_t link_object(const char *link, uint32_t *kind) {
  const char *rest = NULL;
  if (strcmp(link, "anon_inode:[eventpoll]") == 0) {
    *kind = 3;
    return 0;
  }
  if (link[0] == '/') {
    const char *last = strrchr(link, '/') + 1;
    size_t len = strlen(last);
    *kind = 0;
    static const char deleted[] = " (deleted)";
    const size_t dlen = sizeof deleted - 1;
    size_t digits = strspn(last, "0123456789");
    int number = digits > 0 && digits <= 9 && (last[0] != '0' || digits == 1);
    if (strcmp(last, "ptmx") == 0) *kind = 5;
    else if (number && digits == len) *kind = 4;
    else if (number && len == digits + dlen && strcmp(last + digits, deleted) == 0) *kind = 7;
    return *kind == 4 || *kind == 7 ? (uint32_t)strtoul(last, NULL, 10) : 0;
  }
  if (strncmp(link, "socket:[", 8) == 0) {
    *kind = 1;
    rest = link + 8;
  } else if (strncmp(link, "pipe:[", 6) == 0) {
    *kind = 2;
    rest = link + 6;
  } else {
    *kind = 0;
    return 0;
  }
  return (uint32_t)strtoul(rest, NULL, 10);
}

/* Appends (descriptor, kind, value) for every descriptor of /proc/<pid>/fd that link_object
 * classifies as one of `kinds` (bit k set: kind k; an epoll file's fdinfo, whose text holds a
 * line per watch and which the kernel makes whole at the first read, is read only when kind
 * 3 is asked for), from descriptor `from` on, stopping after `max` descriptors or, when
 * `budget_us` is not 0, once that many microseconds are spent (the clock is read before
 * each descriptor but the first: one descriptor can cost much more than another, an epoll
 * file's watches being counted in its fdinfo): *next is then the descriptor to go on from,
 * else 0 (the table's end). At least one descriptor is read, so a walk always moves on.
 * -errno when the directory cannot be read (ENOENT: the process is gone). A fd directory's
 * offset is the descriptor number plus 2 (fs/proc/fd.c), so a seek there resumes at the
 * first descriptor >= from. */
static int fd_objects_of(int pid, long from, long max, long budget_us, uint32_t kinds, long *next, long *seen_out, struct words *o) {
  uint64_t start = budget_us > 0 ? mono_us() : 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  *next = 0;
  *seen_out = 0;
  int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -errno;
  if (from > 0 && lseek(dir, (off_t)from + 2, SEEK_SET) < 0) {
    int e = -errno;
    close(dir);
    return e;
  }
  int rc = 0;
  long seen = 0;
  char buf[8192] __attribute__((aligned(8)));
  for (;;) {
    long got = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      rc = -errno;
      break;
    }
    if (got == 0) break;
    for (long at = 0; at < got && rc == 0;) {
      struct dirent64 *d = (struct dirent64 *)(buf + at);
      at += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      if (seen == max || (budget_us > 0 && seen > 0 && mono_us() - start >= (uint64_t)budget_us)) {
        *next = strtol(d->d_name, NULL, 10);
        break;
      }
      seen++;
      char link[4096];
      ssize_t n = readlinkat(dir, d->d_name, link, sizeof link - 1);
      if (n <= 0) continue; /* closed meanwhile */
      link[n] = '\0';
      uint32_t kind;
      uint32_t ino = link_object(link, &kind);
      /* Kind 6: an epoll file listed, its watches not read (one read per instance: the
       * caller finds which descriptors share one). */
      if (kind == 3 && (kinds & (1u << 3)) == 0 && (kinds & (1u << 6)) != 0) kind = 6;
      if (kind == 0 || (kinds & (1u << kind)) == 0) continue;
      if (kind == 3) ino = epoll_watches(pid, d->d_name);
      if ((rc = words_push(o, (uint32_t)strtoul(d->d_name, NULL, 10))) < 0 || (rc = words_push(o, kind)) < 0) break;
      rc = words_push(o, ino);
    }
    if (rc < 0 || *next != 0) break;
  }
  close(dir);
  *seen_out = seen;
  return rc;
}

/* One part of fdObjectsFrom into o: the descriptor to go on from, the descriptors read,
 * then the triples; 0 or -errno (a process gone has nothing more). */
static int fd_objects_part(int pid, long from, long max, long budget_us, uint32_t kinds, struct words *o) {
  int rc = words_push(o, 0);
  if (rc == 0) rc = words_push(o, 0);
  long next = 0, seen = 0;
  if (rc == 0) rc = fd_objects_of(pid, from, max, budget_us, kinds, &next, &seen, o);
  if (rc == -ENOENT || rc == -ESRCH) rc = 0; /* gone: nothing more */
  if (rc == 0) {
    o->w[0] = (uint32_t)next;
    o->w[1] = (uint32_t)seen;
  }
  return rc;
}

/* fdObjectsFrom(pid, from, max, budgetUs, kinds) -> Buffer: its first u32 the descriptor to go on from (0:
 * the table was read to its end), its second the descriptors read, then (descriptor, kind, value) triples (kind 1 a socket,
 * 2 a pipe, with its inode; 3 an epoll file, with its count of watches; 4 a path whose last
 * name is a number, with the number; 5 a path ending in "/ptmx"; 6 an epoll file, 0: its
 * watches not read, when bit 6 is asked for and bit 3 is not; 7 a path whose last name is
 * a number and " (deleted)", with the number), those of `kinds` (bit k:
 * kind k) only, for at most
 * `max` descriptors of process pid from descriptor `from` on, ending early once `budgetUs`
 * microseconds are spent (0: no bound in time); or -errno. A long table is read in parts so
 * that no one call holds the event loop for long (19,000 descriptors of one process: 55-100
 * ms in one call; 2,048 of them 16-20 ms on a slow VM, hence the bound in time). */
static napi_value sl_fd_objects_from(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 5);
  SL_ARG_INT(env, 0, pid);
  SL_ARG_INT(env, 1, from);
  SL_ARG_INT(env, 2, max);
  SL_ARG_INT(env, 3, budget_us);
  SL_ARG_INT(env, 4, kinds);
  struct words o = {0};
  return words_result(env, &o, fd_objects_part(pid, from, max, budget_us, (uint32_t)kinds, &o));
}

/* ---- the same, off the event loop ----
 * A sandbox decides how long one descriptor takes to read: an epoll file's fdinfo holds a
 * line per watch and the kernel makes the whole text at the first read (about 0.7 us a
 * watch here), and an epoll file's watches are bounded by memory and
 * fs.epoll.max_user_watches, not by the descriptors its process may hold (a watch lives
 * while its open file does, whatever became of the descriptor it was made on). A memory
 * watchdog that counts them therefore reads on a thread of Node's pool (napi async work)
 * and the event loop only parses what came back. */

struct fd_walk {
  napi_async_work work;
  napi_deferred deferred;
  /* fdObjectsFromAsync: the walk's arguments; epollWatchesAsync: pid -1 and fd the
   * supervisor's duplicate of the epoll file, closed once counted; fdinfoHeadsAsync: pid
   * and the descriptors (`fds`, `nfds`) whose heads to read; fdinfoQueuedAsync: the same,
   * with `inos` (the inode each descriptor was found at). */
  int pid, fd;
  int32_t *fds;
  uint32_t *inos;
  size_t nfds;
  long from, max, budget_us;
  uint32_t kinds;
  int rc;
  uint32_t watches;
  uint64_t cpu_us; /* the CPU time of the work, on its thread */
  struct words o;
};

/* fdLocksAsync's walk: `kinds` is a bit mask of kinds 1 to 5 for the others. */
#define SL_WALK_LOCKS 0x80000000u

static uint64_t thread_cpu_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* The head of /proc/<pid>/fdinfo/<fd> into o: fd, 0 or errno, flags, mnt_id, pos (low, high
 * words). Only its first lines are asked for, but the kernel makes the whole text at the
 * read (a line per epoll watch, per lock taken through the file): hence on the pool. */
static int fdinfo_head(int pid, int32_t fd, struct words *o) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
  int err = 0;
  unsigned long long pos = 0;
  unsigned int flags = 0;
  int mnt = -1;
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) {
    err = errno;
  } else {
    ssize_t n = read(f, buf, sizeof buf - 1);
    err = n < 0 ? errno : 0;
    close(f);
    if (n >= 0) {
      buf[n] = '\0';
      /* mnt_id came with Linux 3.15: -1 without it, as the text parsed before */
      if (sscanf(buf, "pos: %llu flags: %o mnt_id: %d", &pos, &flags, &mnt) < 2) err = EPROTO;
    }
  }
  int rc = words_push(o, (uint32_t)fd);
  if (rc == 0) rc = words_push(o, (uint32_t)err);
  if (rc == 0) rc = words_push(o, flags);
  if (rc == 0) rc = words_push(o, (uint32_t)mnt);
  if (rc == 0) rc = words_push(o, (uint32_t)pos);
  if (rc == 0) rc = words_push(o, (uint32_t)(pos >> 32));
  return rc;
}

/* What fdinfo_queued found of one descriptor. */
enum { SL_Q_COUNT = 0, SL_Q_OTHER = 1, SL_Q_NOT_SHOWN = 2, SL_Q_GONE = 3, SL_Q_ERROR = 4 };

#define SL_Q_CHUNK (64 * 1024)
#define SL_Q_LINE 256 /* the lines looked for are short; a longer one is skipped */

/* Reads open file f to its end in parts of SL_Q_CHUNK through buf, calling line() with
 * each line of at most SL_Q_LINE bytes (a longer one is skipped: no line looked for is);
 * 0 or -errno. The kernel makes a fdinfo text whole at the first read, however little is
 * asked for: reading on costs only the copy. */
static int scan_lines(int f, char *buf, void (*line)(const char *, size_t, void *), void *arg) {
  size_t keep = 0;
  int skipping = 0; /* within a line too long to keep */
  for (;;) {
    ssize_t n = read(f, buf + keep, SL_Q_CHUNK - keep);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) {
      if (keep > 0 && !skipping) line(buf, keep, arg);
      return 0;
    }
    size_t end = keep + (size_t)n, start = 0;
    for (size_t i = 0; i < end; i++) {
      if (buf[i] != '\n') continue;
      if (!skipping) line(buf + start, i - start, arg);
      skipping = 0;
      start = i + 1;
    }
    keep = end - start;
    if (keep > SL_Q_LINE) {
      skipping = 1;
      keep = 0;
    } else {
      memmove(buf, buf + start, keep);
    }
  }
}

struct queued_seen {
  long long ino, scm;
};

/* One line of a fdinfo text: its "ino:" and "scm_fds:" values. */
static void queued_line(const char *l, size_t n, void *arg) {
  struct queued_seen *q = arg;
  long long *ino = &q->ino, *scm = &q->scm;
  long long *into = NULL;
  size_t at = 0;
  if (n > 4 && memcmp(l, "ino:", 4) == 0) into = ino, at = 4;
  else if (n > 8 && memcmp(l, "scm_fds:", 8) == 0) into = scm, at = 8;
  if (into == NULL) return;
  while (at < n && (l[at] == ' ' || l[at] == '\t')) at++;
  long long v = 0;
  size_t from = at;
  for (; at < n && l[at] >= '0' && l[at] <= '9' && v < (1ll << 40); at++) v = v * 10 + (l[at] - '0');
  if (at > from) *into = v;
}

/* The descriptors queued to unix socket `fd` of the process `pidfd` refers to (found at
 * inode `ino`): the scm_fds line of the fdinfo of a duplicate taken with pidfd_getfd (a
 * listener's counts its connections not yet accepted). The supervisor's own duplicate:
 * its fdinfo lists no POSIX lock the sandbox took through the socket (only locks taken
 * through this very open file: OFD locks, which a sandbox decides the number of, so the
 * whole text is read, in parts), and the socket is the one the number named at the
 * duplicate, checked by its inode. Pushes fd, one of SL_Q_*, and the count (SL_Q_COUNT) or
 * errno: SL_Q_OTHER when the number no longer names that socket (closed, or another
 * file), SL_Q_GONE when the process is. */
static int fdinfo_queued(int pidfd, int32_t fd, uint32_t ino, char *buf, struct words *o) {
  uint32_t status = SL_Q_NOT_SHOWN, value = 0;
  struct queued_seen q = {-1, -1};
  int dup = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
  if (pidfd < 0) {
    status = SL_Q_GONE;
  } else if (dup < 0) {
    value = (uint32_t)errno;
    status = errno == EBADF ? SL_Q_OTHER : errno == ESRCH ? SL_Q_GONE : SL_Q_ERROR;
  } else {
    struct stat st;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", dup);
    int f = -1;
    if (fstat(dup, &st) != 0 || !S_ISSOCK(st.st_mode) || (uint32_t)st.st_ino != ino) {
      status = SL_Q_OTHER;
    } else if ((f = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
      status = SL_Q_ERROR;
      value = (uint32_t)errno;
    } else {
      int rc = scan_lines(f, buf, queued_line, &q);
      if (rc < 0) {
        status = SL_Q_ERROR;
        value = (uint32_t)-rc;
      }
      close(f);
      if (status == SL_Q_NOT_SHOWN && q.scm >= 0) status = SL_Q_COUNT, value = (uint32_t)(q.scm > 0xffffffffll ? 0xffffffffll : q.scm);
    }
    close(dup);
  }
  int rc = words_push(o, (uint32_t)fd);
  if (rc == 0) rc = words_push(o, status);
  if (rc == 0) rc = words_push(o, value);
  return rc;
}

/* One line of a fdinfo text: a lock record taken through the file ("lock:\t1: POSIX ..."). */
static void lock_line(const char *l, size_t n, void *arg) {
  if (n >= 5 && memcmp(l, "lock:", 5) == 0) ++*(uint64_t *)arg;
}

/* The lock records listed in the fdinfo of every descriptor of process pid from descriptor
 * `from` on (the records taken through that open file by the process, or by the open file
 * itself: POSIX and OFD locks, flock and leases), ending once `budget_us` microseconds are
 * spent (at least one descriptor is read). Pushes the descriptor to go on from (0: the
 * table's end), the descriptors read and the records (saturated at 2^32 - 1); 0 or -errno
 * (a process gone: nothing, 0). */
static int fd_locks_part(int pid, long from, long budget_us, char *buf, struct words *o) {
  uint64_t start = mono_us();
  char path[64];
  uint64_t locks = 0;
  long next = 0, seen = 0;
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/%d/fdinfo", pid);
  int info = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = 0;
  if (dir < 0 || info < 0) {
    rc = -errno;
  } else if (from > 0 && lseek(dir, (off_t)from + 2, SEEK_SET) < 0) {
    rc = -errno;
  } else {
    char ents[8192] __attribute__((aligned(8)));
    for (;;) {
      long got = syscall(SYS_getdents64, dir, ents, sizeof ents);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        rc = -errno;
        break;
      }
      if (got == 0) break;
      for (long at = 0; at < got;) {
        struct dirent64 *d = (struct dirent64 *)(ents + at);
        at += d->d_reclen;
        if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
        if (budget_us > 0 && seen > 0 && mono_us() - start >= (uint64_t)budget_us) {
          next = strtol(d->d_name, NULL, 10);
          break;
        }
        seen++;
        /* An epoll, inotify or fanotify file's text holds a line per watch or mark (an
         * inotify file of 8,000 watches: 964 KB, 16 ms each read): not read. They share
         * the kernel's one anonymous inode, whose lock list is every such file's on the
         * host, so each record taken through one costs the kernel more than the last. */
        char link[64];
        ssize_t ln = readlinkat(dir, d->d_name, link, sizeof link - 1);
        if (ln > 0) {
          link[ln] = '\0';
          if (!strcmp(link, "anon_inode:[eventpoll]") || !strcmp(link, "anon_inode:inotify") || !strcmp(link, "anon_inode:[fanotify]")) continue;
        }
        int f = openat(info, d->d_name, O_RDONLY | O_CLOEXEC);
        if (f < 0) continue; /* closed meanwhile */
        scan_lines(f, buf, lock_line, &locks);
        close(f);
      }
      if (next != 0) break;
    }
  }
  if (dir >= 0) close(dir);
  if (info >= 0) close(info);
  if (rc == -ENOENT || rc == -ESRCH) rc = 0;
  if (rc == 0) rc = words_push(o, (uint32_t)next);
  if (rc == 0) rc = words_push(o, (uint32_t)seen);
  if (rc == 0) rc = words_push(o, locks > 0xffffffffull ? 0xffffffffu : (uint32_t)locks);
  return rc;
}

static void fd_walk_execute(napi_env env, void *data) {
  (void)env;
  struct fd_walk *w = data;
  uint64_t t0 = thread_cpu_us();
  if (w->kinds == SL_WALK_LOCKS) {
    char *buf = malloc(SL_Q_CHUNK);
    w->rc = buf == NULL ? -ENOMEM : fd_locks_part(w->pid, w->from, w->budget_us, buf, &w->o);
    free(buf);
    w->cpu_us = thread_cpu_us() - t0;
    return;
  }
  if (w->inos != NULL) {
    char *buf = malloc(SL_Q_CHUNK);
    w->rc = buf == NULL ? -ENOMEM : 0;
    int pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
    for (size_t i = 0; i < w->nfds && w->rc == 0; i++) w->rc = fdinfo_queued(pidfd, w->fds[i], w->inos[i], buf, &w->o);
    if (pidfd >= 0) close(pidfd);
    free(buf);
    w->cpu_us = thread_cpu_us() - t0;
    return;
  }
  if (w->fds != NULL) {
    w->rc = 0;
    for (size_t i = 0; i < w->nfds && w->rc == 0; i++) w->rc = fdinfo_head(w->pid, w->fds[i], &w->o);
    w->cpu_us = thread_cpu_us() - t0;
    return;
  }
  if (w->pid < 0) {
    char name[16];
    snprintf(name, sizeof name, "%d", w->fd);
    w->watches = epoll_watches(getpid(), name);
    close(w->fd);
    w->cpu_us = thread_cpu_us() - t0;
    return;
  }
  w->rc = fd_objects_part(w->pid, w->from, w->max, w->budget_us, w->kinds, &w->o);
  w->cpu_us = thread_cpu_us() - t0;
}

/* Resolves the walk's promise with [what it found, the microseconds of CPU it took] (never
 * rejects: an error is -errno, as from the calls run on the event loop) and frees it. */
static void fd_walk_complete(napi_env env, napi_status status, void *data) {
  struct fd_walk *w = data;
  napi_value v = NULL;
  if (w->pid < 0) {
    if (status != napi_ok) close(w->fd); /* cancelled: never executed */
    v = sl_make_int(env, status == napi_ok ? (int64_t)w->watches : -ECANCELED);
  } else {
    v = words_result(env, &w->o, status == napi_ok ? w->rc : -ECANCELED);
    if (v == NULL) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
      v = sl_make_int(env, -ENOMEM);
    }
  }
  napi_value pair = v;
  if (v != NULL && napi_create_array_with_length(env, 2, &pair) == napi_ok) {
    napi_set_element(env, pair, 0, v);
    napi_set_element(env, pair, 1, sl_make_int(env, (int64_t)w->cpu_us));
  }
  napi_resolve_deferred(env, w->deferred, pair);
  napi_delete_async_work(env, w->work);
  free(w->fds);
  free(w->inos);
  free(w);
}

/* Queues w; returns its promise, or NULL (thrown) when napi refused. */
static napi_value fd_walk_queue(napi_env env, struct fd_walk *w) {
  napi_value promise, name;
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "sandlock.fdwalk", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, fd_walk_execute, fd_walk_complete, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    if (w->pid < 0) close(w->fd);
    free(w->o.w);
    free(w->fds);
    free(w->inos);
    free(w);
    napi_throw_error(env, "SL_NAPI", "could not queue a descriptor walk");
    return NULL;
  }
  return promise;
}

/* A walk of process pid for the constructors below (pid checked positive); NULL once
 * thrown. */
static struct fd_walk *walk_new(napi_env env, int pid) {
  if (pid <= 0) {
    napi_throw_range_error(env, "SL_ARGS", "pid must be positive");
    return NULL;
  }
  struct fd_walk *w = calloc(1, sizeof *w);
  if (w == NULL) {
    sl_throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  w->pid = pid;
  w->fd = -1;
  return w;
}

/* A malloc'd copy of the elements of v, a typed array of `want` (4-byte elements), into
 * *out and their count into *n (when n is not NULL; else the count must be *expect): 0, or
 * -1 once thrown (nothing allocated). */
static int typed_copy(napi_env env, napi_value v, napi_typedarray_type want, const char *what, void **out, size_t *n, size_t expect) {
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, NULL, NULL) != napi_ok || type != want || (n == NULL && len != expect)) {
    napi_throw_type_error(env, "SL_ARGS", what);
    return -1;
  }
  *out = malloc((len ? len : 1) * 4);
  if (*out == NULL) {
    sl_throw_errno(env, "malloc", ENOMEM);
    return -1;
  }
  if (len > 0) memcpy(*out, data, len * 4);
  if (n != NULL) *n = len;
  return 0;
}

/* fdObjectsFromAsync(pid, from, max, budgetUs, kinds) -> Promise of [what fdObjectsFrom
 * returns, CPU microseconds], the walk made on a thread of Node's pool. */
static napi_value sl_fd_objects_from_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 5);
  SL_ARG_INT(env, 0, pid);
  SL_ARG_INT(env, 1, from);
  SL_ARG_INT(env, 2, max);
  SL_ARG_INT(env, 3, budget_us);
  SL_ARG_INT(env, 4, kinds);
  struct fd_walk *w = walk_new(env, pid);
  if (w == NULL) return NULL;
  w->from = from;
  w->max = max;
  w->budget_us = budget_us;
  w->kinds = (uint32_t)kinds;
  return fd_walk_queue(env, w);
}

/* epollWatchesAsync(fd) -> Promise of [the watches of the supervisor's epoll descriptor fd
 * (0 when it is none or unreadable), CPU microseconds], counted on a thread of Node's pool on a duplicate of
 * fd made now, so the caller may close fd at once; or -errno at once when fd cannot be
 * duplicated. */
static napi_value sl_epoll_watches_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return sl_make_int(env, -errno);
  struct fd_walk *w = calloc(1, sizeof *w);
  if (w == NULL) {
    close(dup);
    return sl_throw_errno(env, "calloc", ENOMEM);
  }
  w->pid = -1;
  w->fd = dup;
  return fd_walk_queue(env, w);
}

/* fdinfoHeadsAsync(pid, fds: Int32Array) -> Promise of [a Buffer of six u32 per descriptor
 * (fd; 0 or the errno of its read, ENOENT when closed; flags, O_CLOEXEC included; mnt_id;
 * pos, low then high word), CPU microseconds]: what a checkpoint records of each descriptor,
 * read on a thread of Node's pool. */
static napi_value sl_fdinfo_heads_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, pid);
  struct fd_walk *w = walk_new(env, pid);
  if (w == NULL) return NULL;
  if (typed_copy(env, argv[1], napi_int32_array, "argument 1 must be an Int32Array", (void **)&w->fds, &w->nfds, 0) < 0) {
    free(w);
    return NULL;
  }
  return fd_walk_queue(env, w);
}

/* fdinfoQueuedAsync(pid, fds: Int32Array, inos: Uint32Array) -> Promise of [a Buffer of
 * three u32 per descriptor (fd; 0 the count, 1 the number no longer names that socket, 2
 * no count shown, 3 the process is gone, 4 an error; the count or the errno), CPU
 * microseconds]: the descriptors queued to each unix socket (fdinfo_queued), read through
 * duplicates (pidfd_getfd, which needs the ptrace access the supervisor has over its
 * sandboxes) on a thread of Node's pool. A pid reused meanwhile names other sockets: the
 * inode check turns them away. */
static napi_value sl_fdinfo_queued_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, pid);
  struct fd_walk *w = walk_new(env, pid);
  if (w == NULL) return NULL;
  static const char what[] = "arguments 1 and 2 must be an Int32Array and a Uint32Array of one length";
  if (typed_copy(env, argv[1], napi_int32_array, what, (void **)&w->fds, &w->nfds, 0) < 0 ||
      typed_copy(env, argv[2], napi_uint32_array, what, (void **)&w->inos, NULL, w->nfds) < 0) {
    free(w->fds);
    free(w);
    return NULL;
  }
  return fd_walk_queue(env, w);
}

/* fdLocksAsync(pid, from, budgetUs) -> Promise of [a Buffer of three u32 (the descriptor
 * to go on from, 0 at the table's end; the descriptors read; the lock records their fdinfo
 * list) or -errno, CPU microseconds]: fd_locks_part on a thread of Node's pool. */
static napi_value sl_fd_locks_async(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, pid);
  SL_ARG_INT(env, 1, from);
  SL_ARG_INT(env, 2, budget_us);
  struct fd_walk *w = walk_new(env, pid);
  if (w == NULL) return NULL;
  w->from = from;
  w->budget_us = budget_us;
  w->kinds = SL_WALK_LOCKS;
  return fd_walk_queue(env, w);
}

/* setsockoptInt(fd, level, name, value) -> 0 or -errno: an int option set on the
 * supervisor's duplicate with the value TypeScript decided. */
static napi_value sl_setsockopt_int(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 4);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_INT(env, 1, level);
  SL_ARG_INT(env, 2, name);
  SL_ARG_INT(env, 3, value);
  int rc = setsockopt(fd, level, name, &value, sizeof value);
  return sl_make_int(env, rc < 0 ? -errno : 0);
}

/* ipcRemove(kind, id) -> 0 or -errno: IPC_RMID of a SysV object, kind 0 a shared memory
 * segment (destroyed once unmapped), 1 a message queue, 2 a semaphore set. */
static napi_value sl_ipc_remove(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_INT(env, 0, kind);
  SL_ARG_INT(env, 1, id);
  int rc = kind == 0 ? shmctl(id, IPC_RMID, NULL) : kind == 1 ? msgctl(id, IPC_RMID, NULL) : kind == 2 ? semctl(id, 0, IPC_RMID) : (errno = EINVAL, -1);
  return sl_make_int(env, rc < 0 ? -errno : 0);
}

void sl_kmem_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"unixSockets", NULL, sl_unix_sockets, NULL, NULL, NULL, napi_enumerable, NULL},
      {"inetSockets", NULL, sl_inet_sockets, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdObjectsFrom", NULL, sl_fd_objects_from, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdObjectsFromAsync", NULL, sl_fd_objects_from_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"epollWatchesAsync", NULL, sl_epoll_watches_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdinfoHeadsAsync", NULL, sl_fdinfo_heads_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdinfoQueuedAsync", NULL, sl_fdinfo_queued_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fdLocksAsync", NULL, sl_fd_locks_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"diagDumpStart", NULL, sl_diag_dump_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"diagDumpPart", NULL, sl_diag_dump_part, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setsockoptInt", NULL, sl_setsockopt_int, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ipcRemove", NULL, sl_ipc_remove, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
