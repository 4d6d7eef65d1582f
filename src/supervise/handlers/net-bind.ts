// A bind the supervisor makes on the caller's behalf (policyFn's bind events): on the
// duplicate of the caller's socket, with the bytes it copied and showed to the callback.
// Landlock and the caller's capabilities do not see a bind the supervisor makes, so their
// checks are made here first, as the kernel would make them for the caller.

import { statSync } from "node:fs";
import { native } from "../../confine/native.js";
import { ruleProtocol, type ChildSocket } from "./net-socket.js";
import { readProcText } from "../../kernel/proc-text.js";

const EACCES = 13;
const EINVAL = 22;
const EAFNOSUPPORT = 97;
const CAP_NET_BIND_SERVICE = 10n;

/** The first port an unprivileged process may bind (below it the kernel checks
 * CAP_NET_BIND_SERVICE, which only the caller's own bind can be checked against). */
export function unprivilegedStart(): number {
  try {
    return Number(readProcText("/proc/sys/net/ipv4/ip_unprivileged_port_start").trim());
  } catch {
    return 1024;
  }
}

/** Whether thread tid may bind a privileged port: CAP_NET_BIND_SERVICE in its effective
 * set, held in the supervisor's own user namespace (a capability of a user namespace of
 * the sandbox's own does not reach the host's network namespace). */
function mayBindPrivileged(tid: number): boolean {
  try {
    if (statSync(`/proc/${tid}/ns/user`).ino !== statSync("/proc/self/ns/user").ino) return false;
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readProcText(`/proc/${tid}/status`));
    return m !== null && ((BigInt(`0x${m[1]}`) >> CAP_NET_BIND_SERVICE) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** The errno the kernel gives a bind of bytes that name no address of the socket's kind. */
export function badBindName(name: Buffer): number {
  return name.length < 16 ? EINVAL : EAFNOSUPPORT;
}

/**
 * Binds sock to `name` (already copied, checked by mem.stillValid and approved), or an
 * errno. `tcpPorts`: the TCP ports the policy lets the sandbox bind (Landlock's rules),
 * "any" when Landlock's TCP protection is not in force; `udpPorts`: those of UDP, port 0
 * always (NetSupervision.udpBind), undefined where UDP binds are not restricted.
 */
export function bindOnBehalf(tid: number, sock: ChildSocket, name: Buffer, port: number, tcpPorts: readonly number[] | "any", udpPorts?: readonly number[]): number {
  const protocol = ruleProtocol(sock);
  if (protocol === "tcp" && tcpPorts !== "any" && !tcpPorts.includes(port)) return EACCES;
  if (protocol === "udp" && udpPorts !== undefined && port !== 0 && !udpPorts.includes(port)) return EACCES;
  // A ping socket's "port" is its echo identifier, which the kernel lets any value be.
  if (port !== 0 && protocol !== "icmp" && port < unprivilegedStart() && !mayBindPrivileged(tid)) return EACCES;
  const rc = native().netBind(sock.fd, name);
  return rc < 0 ? -rc : 0;
}
