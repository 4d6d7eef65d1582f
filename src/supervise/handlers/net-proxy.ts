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
 * After the supervisor's connect to the proxy returned (0, or EINPROGRESS: the local port
 * is bound by then either way), tells the proxy which socket it is by its local address.
 * `fd` is the supervisor's duplicate, still open.
 */
export function registerSteered(proxy: DomainProxy, sock: ChildSocket, reg: Registration, rc: number): number {
  if (rc !== 0 && rc !== -EINPROGRESS) return rc;
  const local = native().netSockname(sock.fd);
  if (typeof local === "number") return rc;
  const t = decodeDestination(sock.domain, local, "connect");
  if (t.kind === "ip") proxy.expect(`${formatIp(t.dest.address)}:${t.dest.port}`, reg);
  return rc;
}
