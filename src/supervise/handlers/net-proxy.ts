// Steering for the domain rules (docs/agents.md): a TCP connect the IP rules refuse, to a
// port a domain rule covers (or to port 53, the sandbox's DNS over TCP), is performed by
// the supervisor to the filtering proxy instead, which then knows the original
// destination by the socket's local address. A connect to the proxy itself (HTTP_PROXY)
// is allowed and registered as explicit.

import { native } from "../../confine/native.js";
import { formatIp } from "../../plan/net-address.js";
import { netAllows } from "../../plan/net-match.js";
import type { NetSupervision } from "../../plan/net-supervision.js";
import { AF } from "../../plan/seccomp.js";
import type { DomainProxy, Registration } from "../../proxy/proxy.js";
import { decodeDestination } from "./net-sockaddr.js";
import { ruleProtocol, type ChildSocket } from "./net-socket.js";

const EINPROGRESS = 115;
const EINVAL = 22;
const DNS_PORT = 53;

export interface Steer {
  /** The address the supervisor connects the socket to (the proxy's). */
  readonly name: Buffer;
  readonly reg: Registration;
}

/** The proxy's address in the socket's family (IPv4-mapped for an IPv6 socket). */
function proxyName(domain: number, port: number): Buffer {
  if (domain === AF.INET) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF.INET, 0);
    b.writeUInt16BE(port, 2);
    b.set([127, 0, 0, 1], 4);
    return b;
  }
  const b = Buffer.alloc(24);
  b.writeUInt16LE(AF.INET6, 0);
  b.writeUInt16BE(port, 2);
  b.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1], 8);
  return b;
}

/**
 * Decides on the copied address only (the supervisor then connects its duplicate itself,
 * so nothing here is re-read by the kernel). undefined: not the proxy's business (the
 * usual check applies, and refuses what the rules do not allow).
 */
export function steer(proxy: DomainProxy, net: NetSupervision, sock: ChildSocket, copied: Buffer, pid: number): Steer | undefined {
  if (ruleProtocol(sock) !== "tcp") return undefined;
  const t = decodeDestination(sock.domain, copied, "connect");
  if (t.kind !== "ip") return undefined;
  const { address, port } = t.dest;
  if (address.family === 4 && formatIp(address) === "127.0.0.1" && port === proxy.port) return { name: t.name, reg: { explicit: true, pid } };
  if (netAllows(net, "tcp", t.dest)) return undefined;
  if (!proxy.rules.coversPort(port) && port !== DNS_PORT) return undefined;
  return { name: proxyName(sock.domain, proxy.port), reg: { address: formatIp(address), port, pid } };
}

/**
 * Before the supervisor connects the socket (its duplicate `sock.fd`) to the proxy: binds it
 * to the loopback address with a port of the kernel's choosing when it has no local port yet
 * (the connect would have chosen one the same way), and registers its local address with the
 * proxy, so that the proxy can close at once every connection nobody registered. Returns the
 * address registered, undefined when a connect of this socket is already registered and not
 * yet accepted (a second connect on a socket still connecting, which fails with EALREADY:
 * the first one's registration stands), or a negative errno to fail the connect with (the
 * bind's: no port left).
 */
export function registerBefore(proxy: DomainProxy, sock: ChildSocket, reg: Registration): string | undefined | number {
  let local = native().netSockname(sock.fd);
  if (typeof local === "number") return local;
  let t = decodeDestination(sock.domain, local, "connect");
  if (t.kind === "ip" && t.dest.port === 0) {
    const rc = native().netBind(sock.fd, proxyName(sock.domain, 0));
    if (rc < 0) return rc;
    local = native().netSockname(sock.fd);
    if (typeof local === "number") return local;
    t = decodeDestination(sock.domain, local, "connect");
  }
  if (t.kind !== "ip") return -EINVAL;
  // Bound to the wildcard address by the sandbox: a connect to 127.0.0.1 comes from it.
  const address = formatIp(t.dest.address);
  const peer = `${address === "0.0.0.0" || address === "::" ? "127.0.0.1" : address}:${t.dest.port}`;
  if (proxy.expects(peer)) return undefined;
  proxy.expect(peer, reg);
  return peer;
}

/** After the supervisor's connect: one that failed (not 0, not EINPROGRESS) claims nothing.
 * `peer`: what registerBefore registered for it (undefined: nothing). */
export function connected(proxy: DomainProxy, peer: string | undefined, rc: number): number {
  if (peer !== undefined && rc !== 0 && rc !== -EINPROGRESS) proxy.forget(peer);
  return rc;
}
