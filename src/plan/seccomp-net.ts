// The argument filters network supervision adds to the seccomp program: TCP Fast Open
// refused in every policy, sends routed to the supervisor only when they name a
// destination or carry a message, the socket options that connect early or source-route
// refused, and interface ioctls answered by the supervisor or refused.

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";
import type { SeccompSpec } from "./seccomp.js";

const E = { EPERM: 1, ENOPROTOOPT: 92, EOPNOTSUPP: 95 } as const;

/**
 * MSG_FASTOPEN folds a TCP connect into a send, and the kernel's Fast Open path never
 * calls the LSM connect hook Landlock uses: without this, a sandbox with no network at
 * all reaches any TCP port. The flags are a register in sendto (arg 3), sendmsg (2) and
 * sendmmsg (3); the kernel ignores msghdr.msg_flags on send (____sys_sendmsg overwrites
 * it with the register), so testing the register is complete. Refused with EOPNOTSUPP,
 * what the kernel answers when the host disables Fast Open (net.ipv4.tcp_fastopen):
 * clients (curl, browsers, libraries) then fall back to a plain connect, which is checked.
 */
export const MSG_FASTOPEN = 0x20000000;

/** setsockopt levels and names that make packets travel to an address other than their
 * destination (IPv4 loose/strict source routes, IPv6 routing headers, and the RFC 2292
 * sticky-options blob that can carry one). The supervisor checks the destination only. */
export const SOURCE_ROUTING = {
  SOL_IP: 0,
  IP_OPTIONS: 4,
  SOL_IPV6: 41,
  IPV6_2292RTHDR: 5,
  IPV6_2292PKTOPTIONS: 6,
  IPV6_RTHDR: 57,
} as const;

/** Socket options refused in every policy with ENOPROTOOPT ("this kernel does not know
 * the option"), which libraries take as "not available" and work without. */
export const REFUSED_OPTIONS = {
  /**
   * TCP_FASTOPEN_CONNECT (SOL_TCP, 30) defers the SYN of connect() to the first send.
   * Measured on 6.18: the connect() itself still passes Landlock's hook (EACCES to a port
   * no rule allows) and, now that connect is performed by the supervisor, its check; the
   * deferred SYN goes to the checked address. Refused anyway: it moves part of a connect
   * into write()/sendmsg(), a state machine no check should have to follow.
   */
  SOL_TCP: 6,
  TCP_FASTOPEN_CONNECT: 30,
  /** SO_ZEROCOPY (SOL_SOCKET, 60): with it, a send the supervisor performs would pin the
   * supervisor's own buffer pages in flight. Performed sends also drop MSG_ZEROCOPY. */
  SOL_SOCKET: 1,
  SO_ZEROCOPY: 60,
} as const;

/** SO_REUSEPORT (SOL_SOCKET, 15), refused (EPERM) where the sandbox shares the host's
 * network namespace and its binds are its own (no portRemap): with it a sandbox allowed to
 * bind a port joined the reuseport group of a host server of its uid on that port and was
 * handed about half of the host's connections (the twentieth review). */
export const SO_REUSEPORT = 15;

/** Buffer sizes the supervisor clamps under maxMemory (handlers/socket-buffers.ts). */
export const BUFFER_OPTIONS = { SO_SNDBUF: 7, SO_RCVBUF: 8 } as const;

export const SOL_NETLINK = 270;
/** sizeof(struct sockaddr_nl): the only address length a netlink bind can have. */
export const SOCKADDR_NL_BYTES = 12;
/** sizeof(struct sockaddr_in): the least address length an IP socket's bind accepts. */
export const SOCKADDR_IN_BYTES = 16;
/** offsetof(struct sockaddr_un, sun_path): a unix bind of this length is an autobind (the
 * kernel picks an abstract name: NUL and five hex digits); the path (or an abstract name's
 * NUL) starts there. */
export const SOCKADDR_UN_PATH = 2;

/**
 * Interface ioctls (struct ifreq or ifconf, no pointers inside but ifconf's buffer), which
 * the supervisor answers for the interfaces the sandbox may see (handlers/net-ioctl.ts).
 */
export const SIOC = {
  SIOCGIFNAME: 0x8910,
  SIOCGIFCONF: 0x8912,
  SIOCGIFFLAGS: 0x8913,
  SIOCGIFADDR: 0x8915,
  SIOCGIFDSTADDR: 0x8917,
  SIOCGIFBRDADDR: 0x8919,
  SIOCGIFNETMASK: 0x891b,
  SIOCGIFMETRIC: 0x891d,
  SIOCGIFMTU: 0x8921,
  SIOCGIFHWADDR: 0x8927,
  SIOCGIFINDEX: 0x8933,
  SIOCGIFPFLAGS: 0x8935,
  SIOCGIFTXQLEN: 0x8942,
  SIOCGIFMAP: 0x8970,
} as const;
export const INTERFACE_QUERIES: readonly number[] = Object.values(SIOC);

/** Queries about devices that carry pointers or name hardware (ethtool, MII, bridges,
 * VLANs, ARP, timestamping...): EOPNOTSUPP, as from a device without the feature. */
const UNSUPPORTED_QUERIES = [
  0x891f /* SIOCGIFMEM */, 0x8925 /* SIOCGIFENCAP */, 0x8929 /* SIOCGIFSLAVE */, 0x8938 /* SIOCGIFCOUNT */,
  0x8940 /* SIOCGIFBR */, 0x8946 /* SIOCETHTOOL */, 0x8947 /* SIOCGMIIPHY */, 0x8948 /* SIOCGMIIREG */,
  0x894c /* SIOCGSKNS */, 0x8954 /* SIOCGARP */, 0x8961 /* SIOCGRARP */, 0x8982 /* SIOCGIFVLAN */, 0x89b1 /* SIOCGHWTSTAMP */,
];
/** SIOCOUTQNSD: bytes not yet sent on one's own TCP socket. */
const SIOCOUTQNSD = 0x894b;
/** linux/sockios.h: routing, interface and device requests span 0x890B-0x89FF (below are
 * FIOSETOWN, SIOCATMARK, SIOCGSTAMP...); wireless extensions span 0x8B00-0x8BFF. */
const DEVICE_RANGE = { lo: 0x890b, end: 0x8a00 } as const;
const WIRELESS_RANGE = { lo: 0x8b00, end: 0x8c00 } as const;

/**
 * With A holding ioctl's request: interface queries go to the supervisor (or are allowed
 * when nothing supervises, as before); every other routing, interface or device request
 * is refused: the sets (SIOCSIF*, routes, ARP, bridges, bonding...) with EPERM, what an
 * unprivileged caller gets, the other queries with EOPNOTSUPP. Falls through otherwise.
 */
export function interfaceIoctls(b: BpfAssembler, p: string, notify: boolean, unsupervised = false): void {
  b.jge(DEVICE_RANGE.lo, 0, `${p}if.end`).jge(DEVICE_RANGE.end, `${p}if.wireless`, 0);
  // supervisor: false: the host's interfaces are not the sandbox's to see (SPEC 10).
  const query = notify ? `${p}if.notify` : unsupervised ? `${p}if.unsupported` : `${p}if.allow`;
  for (const q of INTERFACE_QUERIES) b.jeq(q, query, 0);
  b.jeq(SIOCOUTQNSD, `${p}if.allow`, 0);
  for (const q of UNSUPPORTED_QUERIES) b.jeq(q, `${p}if.unsupported`, 0);
  b.ret(Ret.errno(E.EPERM));
  b.label(`${p}if.wireless`).jge(WIRELESS_RANGE.end, `${p}if.end`, 0).jge(WIRELESS_RANGE.lo, `${p}if.unsupported`, `${p}if.end`);
  b.label(`${p}if.unsupported`).ret(Ret.errno(E.EOPNOTSUPP));
  b.label(`${p}if.notify`).ret(Ret.USER_NOTIF);
  b.label(`${p}if.allow`).ret(Ret.ALLOW);
  b.label(`${p}if.end`);
}

/** Refuses MSG_FASTOPEN in the flags argument `arg`; leaves A undefined. */
function refuseFastOpen(b: BpfAssembler, arg: number, p: string): void {
  b.load(SeccompData.argLow(arg)).jset(MSG_FASTOPEN, 0, `${p}fo.ok`).ret(Ret.errno(E.EOPNOTSUPP));
  b.label(`${p}fo.ok`);
}

/**
 * sendto(fd, buf, len, flags, dest_addr, addrlen): a NULL dest_addr (send() on a connected
 * socket) is allowed without a round trip; the peer was checked when the supervisor
 * performed the connect. The pointer is a register, so the kernel uses the value tested.
 */
function sendtoBlock(notify: boolean) {
  return (b: BpfAssembler, p: string): void => {
    refuseFastOpen(b, 3, p);
    if (!notify) {
      b.ret(Ret.ALLOW);
      return;
    }
    b.load(SeccompData.argLow(4)).jeq(0, 0, `${p}notify`).load(SeccompData.argHigh(4)).jeq(0, 0, `${p}notify`).ret(Ret.ALLOW);
    b.label(`${p}notify`).ret(Ret.USER_NOTIF);
  };
}

/** sendmsg (flags arg 2) and sendmmsg (3): the destination and the data are in memory,
 * so every call goes to the supervisor when it runs. */
function messageBlock(flagsArg: number, notify: boolean) {
  return (b: BpfAssembler, p: string): void => {
    refuseFastOpen(b, flagsArg, p);
    b.ret(notify ? Ret.USER_NOTIF : Ret.ALLOW);
  };
}

/** bind(fd, addr, addrlen): only a netlink-sized address can be meant for an emulated
 * netlink socket, and (`inet`, where the supervisor makes UDP sockets) only one of at
 * least an IPv4 address's 16 bytes for an IP socket (the kernel refuses shorter ones);
 * every other bind is the kernel's and Landlock's alone. `unix` (abstract names refused):
 * every address longer than an autobind's, whose length alone cannot tell a unix name
 * from an IP address. */
function bindBlock(inet: boolean, unix: boolean) {
  return (b: BpfAssembler, p: string): void => {
    b.load(SeccompData.argLow(2)).jeq(SOCKADDR_NL_BYTES, `${p}notify`, 0);
    if (unix) b.jge(SOCKADDR_UN_PATH + 1, `${p}notify`, 0);
    else if (inet) b.jge(SOCKADDR_IN_BYTES, `${p}notify`, 0);
    b.ret(Ret.ALLOW);
    b.label(`${p}notify`).ret(Ret.USER_NOTIF);
  };
}

/** setsockopt(fd, level, optname, ...): level and optname are ints (low halves).
 * `notifyBuffers`: SO_SNDBUF and SO_RCVBUF go to the supervisor (maxMemory). */
function setsockoptBlock(denySourceRouting: boolean, notifyNetlink: boolean, notifyBuffers: boolean, refuseReusePort: boolean) {
  const S = SOURCE_ROUTING;
  const R = REFUSED_OPTIONS;
  return (b: BpfAssembler, p: string): void => {
    b.load(SeccompData.argLow(1));
    b.jeq(R.SOL_TCP, `${p}tcp`, 0).jeq(R.SOL_SOCKET, `${p}sock`, 0);
    if (notifyNetlink) b.jeq(SOL_NETLINK, `${p}notify`, 0);
    if (denySourceRouting) b.jeq(S.SOL_IP, `${p}ip`, 0).jeq(S.SOL_IPV6, `${p}ip6`, 0);
    b.ret(Ret.ALLOW);
    b.label(`${p}tcp`).load(SeccompData.argLow(2)).jeq(R.TCP_FASTOPEN_CONNECT, `${p}noopt`, `${p}allow`);
    b.label(`${p}sock`).load(SeccompData.argLow(2));
    if (notifyBuffers) b.jeq(BUFFER_OPTIONS.SO_SNDBUF, `${p}notify`, 0).jeq(BUFFER_OPTIONS.SO_RCVBUF, `${p}notify`, 0);
    if (refuseReusePort) b.jeq(SO_REUSEPORT, `${p}deny`, 0);
    b.jeq(R.SO_ZEROCOPY, `${p}noopt`, `${p}allow`);
    if (denySourceRouting) {
      b.label(`${p}ip`).load(SeccompData.argLow(2)).jeq(S.IP_OPTIONS, `${p}deny`, `${p}allow`);
      b.label(`${p}ip6`)
        .load(SeccompData.argLow(2))
        .jeq(S.IPV6_2292RTHDR, `${p}deny`, 0)
        .jeq(S.IPV6_2292PKTOPTIONS, `${p}deny`, 0)
        .jeq(S.IPV6_RTHDR, `${p}deny`, `${p}allow`);
    }
    if (denySourceRouting || refuseReusePort) b.label(`${p}deny`).ret(Ret.errno(E.EPERM));
    if (notifyNetlink || notifyBuffers) b.label(`${p}notify`).ret(Ret.USER_NOTIF);
    b.label(`${p}noopt`).ret(Ret.errno(E.ENOPROTOOPT));
    b.label(`${p}allow`).ret(Ret.ALLOW);
  };
}

type Block = (b: BpfAssembler, p: string) => void;

/** The filters of sendto, sendmsg, sendmmsg, setsockopt (every policy) and bind (when
 * the supervisor emulates netlink). connect and getsockname always go to the supervisor
 * when it runs; seccomp.ts routes them from `notify` without looking at arguments. */
export function netArgumentFilters(spec: SeccompSpec, notify: ReadonlySet<string>): [string, Block][] {
  const out: [string, Block][] = [
    ["sendto", sendtoBlock(notify.has("sendto"))],
    ["sendmsg", messageBlock(2, notify.has("sendmsg"))],
    ["sendmmsg", messageBlock(3, notify.has("sendmmsg"))],
    ["setsockopt", setsockoptBlock(spec.denySourceRouting === true, notify.has("setsockopt"), spec.capBuffers === true && notify.has("setsockopt"), spec.refuseReusePort === true)],
  ];
  if (notify.has("bind")) out.push(["bind", bindBlock(spec.udpOnBehalf === true, spec.unixBinds === true)]);
  return out;
}
