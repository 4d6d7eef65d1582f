// The destination check of IP sockets: the address copied from the caller, read as the
// kernel will read it for that socket, against the rules for the socket's protocol.

import { formatIp } from "../../plan/net-address.js";
import { netAllows, type Destination } from "../../plan/net-match.js";
import type { NetSupervision } from "../../plan/net-supervision.js";
import { decodeDestination } from "./net-sockaddr.js";
import { ruleProtocol, type ChildSocket } from "./net-socket.js";
import type { Observation } from "../handler.js";

const EACCES = 13;
const ECONNREFUSED = 111;

/** The errno of a refused destination: EACCES where the rules are Landlock's own (so the
 * answer does not depend on who refused), ECONNREFUSED for the supervisor's (SPEC 4.3). */
export function refusal(net: NetSupervision): number {
  return net.portRulesOnly ? EACCES : ECONNREFUSED;
}

/**
 * The name to hand the kernel for a connect or send on IP socket `sock`, or an errno.
 * null: no destination (a send to the connected peer, checked when it was connected).
 */
export function ipName(
  net: NetSupervision, sock: ChildSocket, name: Buffer | null, op: "connect" | "send",
  observe?: (o: Observation) => void, hostPort?: (dest: Destination) => number | undefined,
): Buffer | null | number {
  if (name === null) return null;
  const target = decodeDestination(sock.domain, name, op);
  if (target.kind === "invalid") return target.errno;
  if (target.kind === "none") return name;
  const protocol = ruleProtocol(sock);
  const allowed = protocol !== undefined && netAllows(net, protocol, target.dest);
  if (observe !== undefined) {
    const address = formatIp(target.dest.address);
    const proto = protocol ?? "raw";
    observe({ kind: "destination", op, protocol: proto, address, port: target.dest.port, allowed });
    if (!allowed) observe({ kind: "refused", syscall: op, errno: refusal(net), target: `${address.includes(":") ? `[${address}]` : address}:${target.dest.port} over ${proto}`, why: "not allowed by netAllow" });
  }
  if (!allowed) return refusal(net);
  // portRemap: the sandbox's own server on a port it was given elsewhere on the host. The
  // rules were checked on the port the sandbox named; the copy is sent to the real one.
  const real = protocol === "tcp" ? hostPort?.(target.dest) : undefined;
  if (real === undefined) return target.name;
  const moved = Buffer.from(target.name);
  moved.writeUInt16BE(real, 2);
  return moved;
}
