/* The host's interfaces as the network supervisor reads them: a NETLINK_ROUTE dump on a
 * socket of its own, interface ioctls performed on a duplicate of the caller's descriptor,
 * and the socket pair that stands in for a sandboxed netlink socket. Decisions (what is
 * visible, what is answered) are TypeScript's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "addon.h"

_Static_assert(sizeof(struct ifreq) == 40, "struct ifreq is 40 bytes on x86_64");

/* Replies of a dump are gathered into one growing buffer; no host lists more than this. */
#define SL_DUMP_MAX (64u << 20)

struct dump_buf {
  char *data;
  size_t len, cap;
};

static int dump_append(struct dump_buf *d, const void *p, size_t n) {
  if (d->len + n > SL_DUMP_MAX) return -ENOBUFS;
  if (d->len + n > d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 65536;
    while (cap < d->len + n) cap *= 2;
    char *grown = realloc(d->data, cap);
    if (grown == NULL) return -ENOMEM;
    d->data = grown;
    d->cap = cap;
  }
  memcpy(d->data + d->len, p, n);
  d->len += n;
  return 0;
}

/* Sends one dump request of `type` for `family` (with IFLA_EXT_MASK when ext_mask is not
 * 0, links only) and gathers every reply message before NLMSG_DONE into d. */
static int dump_run(int s, int type, int family, uint32_t ext_mask, struct dump_buf *d) {
  struct {
    struct nlmsghdr h;
    union {
      struct ifinfomsg link;
      struct ifaddrmsg addr;
    } body;
    struct rtattr attr;
    uint32_t mask;
  } req;
  memset(&req, 0, sizeof req);
  size_t body = type == RTM_GETLINK ? sizeof req.body.link : sizeof req.body.addr;
  req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
  req.h.nlmsg_type = (uint16_t)type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  if (type == RTM_GETLINK) {
    req.body.link.ifi_family = (unsigned char)family;
    if (ext_mask != 0) {
      req.attr.rta_type = IFLA_EXT_MASK;
      req.attr.rta_len = RTA_LENGTH(sizeof req.mask);
      req.mask = ext_mask;
      req.h.nlmsg_len = (uint32_t)(NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(req.attr.rta_len));
    }
  } else {
    req.body.addr.ifa_family = (unsigned char)family;
  }
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(s, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
  size_t bufsize = 65536;
  char *buf = malloc(bufsize);
  if (buf == NULL) return -ENOMEM;
  int rc = 0;
  for (int done = 0; !done && rc == 0;) {
    ssize_t n;
    do n = recv(s, buf, bufsize, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      rc = -errno;
      break;
    }
    if (n == 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        rc = h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) && e->error != 0 ? e->error : -EPROTO;
        break;
      }
      rc = dump_append(d, h, NLMSG_ALIGN(h->nlmsg_len) <= (size_t)n ? NLMSG_ALIGN(h->nlmsg_len) : h->nlmsg_len);
      if (rc != 0) break;
    }
  }
  free(buf);
  return rc;
}

/* netlinkDump(type, family, extMask) -> Buffer of every reply message of a RTM_GETLINK or
 * RTM_GETADDR dump (NLMSG_DONE excluded), or -errno. A socket of its own, opened for this
 * dump: no request of the sandbox ever reaches the kernel through it. The kernel answers
 * a dump as fast as it is read; SO_RCVTIMEO only guards against a stalled kernel. */
static napi_value sl_netlink_dump(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, type);
  SL_ARG_INT(env, 1, family);
  SL_ARG_I64(env, 2, ext_mask);
  if (type != RTM_GETLINK && type != RTM_GETADDR) {
    napi_throw_range_error(env, "SL_ARGS", "netlinkDump: type must be RTM_GETLINK or RTM_GETADDR");
    return NULL;
  }
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return sl_make_int(env, -errno);
  struct timeval tv = {2, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct dump_buf d = {0};
  int rc = dump_run(s, type, family, (uint32_t)ext_mask, &d);
  close(s);
  napi_value out;
  if (rc < 0) {
    out = sl_make_int(env, rc);
  } else if (napi_create_buffer_copy(env, d.len, d.len ? d.data : "", NULL, &out) != napi_ok) {
    free(d.data);
    napi_throw_error(env, "SL_NAPI", "napi_create_buffer_copy failed");
    return NULL;
  }
  free(d.data);
  return out;
}

/* netlinkPair(name, childNonblock) -> [server, child] or -errno: a close-on-exec
 * SOCK_SEQPACKET pair standing in for a netlink socket. The server end is non-blocking
 * and bound to `name` (an abstract address of sizeof(struct sockaddr_nl) bytes, so that
 * a recvmsg on the child end reports a netlink-sized sender with nl_pid 0); the child end
 * gets O_NONBLOCK when socket() asked for SOCK_NONBLOCK. */
static napi_value sl_netlink_pair(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 2);
  SL_ARG_BUFFER(env, 0, name, namelen);
  SL_ARG_INT(env, 1, child_nonblock);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return sl_make_int(env, -errno);
  int err = 0;
  if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 || (child_nonblock && fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0) ||
      bind(sv[0], (struct sockaddr *)name, (socklen_t)namelen) < 0) {
    err = errno;
  }
  if (err != 0) {
    close(sv[0]);
    close(sv[1]);
    return sl_make_int(env, -err);
  }
  return sl_make_pair(env, sv[0], sv[1]);
}

/* ifIoctl(fd, request, ifreq) -> 0 or -errno: one interface query with a 40-byte struct
 * ifreq, updated in place. TypeScript only passes requests whose ifreq holds no pointer. */
static napi_value sl_if_ioctl(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 3);
  SL_ARG_INT(env, 0, fd);
  SL_ARG_I64(env, 1, request);
  SL_ARG_BUFFER(env, 2, req, len);
  if (len != sizeof(struct ifreq)) {
    napi_throw_range_error(env, "SL_ARGS", "ifIoctl: the ifreq must be 40 bytes");
    return NULL;
  }
  return sl_result(env, ioctl(fd, (unsigned long)request, req));
}

/* ifConf(fd) -> Buffer of the struct ifreq entries SIOCGIFCONF gives on fd, or -errno. */
static napi_value sl_if_conf(napi_env env, napi_callback_info info) {
  SL_ARGS(env, info, 1);
  SL_ARG_INT(env, 0, fd);
  struct ifconf ifc = {.ifc_len = 0, .ifc_buf = NULL};
  char *buf = NULL;
  /* Addresses may be added between the sizing call and the filling one: retry larger. */
  for (int tries = 0; tries < 4; tries++) {
    ifc.ifc_buf = NULL;
    if (ioctl(fd, SIOCGIFCONF, &ifc) < 0) {
      free(buf);
      return sl_make_int(env, -errno);
    }
    int want = ifc.ifc_len + 8 * (int)sizeof(struct ifreq);
    char *grown = realloc(buf, (size_t)want);
    if (grown == NULL) {
      free(buf);
      return sl_make_int(env, -ENOMEM);
    }
    buf = grown;
    ifc.ifc_len = want;
    ifc.ifc_buf = buf;
    if (ioctl(fd, SIOCGIFCONF, &ifc) < 0) {
      free(buf);
      return sl_make_int(env, -errno);
    }
    if (ifc.ifc_len < want) break;
  }
  napi_value out;
  napi_status st = napi_create_buffer_copy(env, (size_t)ifc.ifc_len, ifc.ifc_len ? buf : "", NULL, &out);
  free(buf);
  SL_CALL(env, st);
  return out;
}

void sl_net_host_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"netlinkDump", NULL, sl_netlink_dump, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkPair", NULL, sl_netlink_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifIoctl", NULL, sl_if_ioctl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifConf", NULL, sl_if_conf, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
