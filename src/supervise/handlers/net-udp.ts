// The sandbox's UDP sockets, where UDP is allowed and binds are restricted (netAllowBind
// not "*"). Landlock has no UDP rules here (they came with ABI 8), and a UDP socket
// receives whatever anyone sends to its port: a sandbox allowed UDP to one address bound a
// port of its choosing and took the host's datagrams to it (the twentieth review).
//
// So the supervisor makes each UDP socket (socket(2)'s arguments are registers), with a
// socket filter that drops every datagram whose destination port is neither one
// netAllowBind lists nor in the host's ephemeral range (where the kernel puts a socket
// bound to port 0, or sending unbound), locked so that nothing detaches it
// (native/net.c udpSocket). The filter is what keeps a datagram out, on the socket itself,
// whatever becomes of descriptor numbers. A bind of such a socket to another port than 0
// or the listed ones is refused (EACCES, as Landlock refuses a TCP one): the supervisor
// binds its duplicate with the address it copied (net-bind.ts), never a CONTINUE.

import { native } from "../../confine/native.js";
import { readProcText } from "../../kernel/proc-text.js";
import { portRanges } from "../../plan/net-supervision.js";
import { SOCK } from "../../plan/seccomp.js";
import { deny, type Action } from "../action.js";
import type { Notification } from "../notification.js";

const EINVAL = 22;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
/** The host's ephemeral ports (net.ipv4.ip_local_port_range, which IPv6 shares). */
export function ephemeralRange(): [number, number] {
  const m = /^(\d+)\s+(\d+)/.exec(readProcText("/proc/sys/net/ipv4/ip_local_port_range"));
  if (m === null) throw new Error("ip_local_port_range: cannot parse");
  return [Number(m[1]), Number(m[2])];
}

/** socket(AF_INET or AF_INET6, SOCK_DGRAM, 0 or IPPROTO_UDP) made by the supervisor with
 * the filter of `ports` (and the ephemeral range), injected into the caller. */
export function udpSockets(ports: readonly number[]): (n: Notification) => Action {
  const pairs = portRanges(ports, ephemeralRange());
  const ranges = Buffer.alloc(pairs.length * 4);
  pairs.forEach(([lo, hi], i) => {
    ranges.writeUInt16LE(lo, i * 4);
    ranges.writeUInt16LE(hi, i * 4 + 2);
  });
  return (n) => {
    const type = n.argU32(1);
    if ((type & ~(SOCK.TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) !== 0) return deny(EINVAL);
    const fd = native().udpSocket(n.argU32(0), type, n.argU32(2), ranges);
    if (fd < 0) return deny(-fd);
    return { kind: "inject", fd, cloexec: (type & SOCK_CLOEXEC) !== 0, close: true };
  };
}
