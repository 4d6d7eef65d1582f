// The destination check of IP sockets: the address copied from the caller, read as the
// kernel will read it for that socket, against the rules for the socket's protocol.

import { netAllows } from "../../plan/net-match.js";
import type { NetSupervision } from "../../plan/net-supervision.js";
import { decodeDestination } from "./net-sockaddr.js";
import { ruleProtocol, type ChildSocket } from "./net-socket.js";

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
export function ipName(net: NetSupervision, sock: ChildSocket, name: Buffer | null, op: "connect" | "send"): Buffer | null | number {
  if (name === null) return null;
  const target = decodeDestination(sock.domain, name, op);
  if (target.kind === "invalid") return target.errno;
  if (target.kind === "none") return name;
  const protocol = ruleProtocol(sock);
  if (protocol === undefined || !netAllows(net, protocol, target.dest)) return refusal(net);
  return target.name;
}
