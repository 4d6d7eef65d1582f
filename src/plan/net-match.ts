// The network rule matcher: is this protocol to this address and port allowed under the
// compiled rules? Pure, so that every decision the supervisor makes is unit-testable.

import type { Protocol } from "../policy/types.js";
import { inPrefix, type IpAddress } from "./net-address.js";
import type { MatchRule, NetRules } from "./net-rules.js";

export interface Destination {
  /** In compared form: IPv4-mapped IPv6 already folded to IPv4 (see unmapV4). */
  readonly address: IpAddress;
  /** Host order; ignored for ICMP. */
  readonly port: number;
}

export function ruleMatches(rule: MatchRule, protocol: Protocol, dest: Destination): boolean {
  if (!rule.protocols.has(protocol)) return false;
  if (rule.target !== "any" && !inPrefix(dest.address, rule.target.net, rule.target.prefix)) return false;
  if (rule.ports === "any") return true;
  // ICMP has no ports: only a rule for every port can speak of it.
  return protocol !== "icmp" && rule.ports.has(dest.port);
}

/** Allow mode: some rule matches. Deny mode: no rule matches. */
export function netAllows(net: NetRules, protocol: Protocol, dest: Destination): boolean {
  const hit = net.rules.some((r) => ruleMatches(r, protocol, dest));
  return net.mode === "allow" ? hit : !hit;
}
