// Which host network interfaces a sandbox sees (issue 9), one rule for /proc/net, netlink
// and interface ioctls alike: lo always; the interfaces carrying a default route when the
// policy allows egress beyond loopback; no other. Pure: supervise/interface-view.ts applies it.

import type { NetRule } from "../policy/types.js";
import { inPrefix, isUnspecified, parseIp, unmapV4, type IpAddress } from "./net-address.js";
import type { ResolvedHosts } from "./net-rules.js";

/** "loopback": only lo. "egress": lo and the default-route interfaces. */
export type InterfaceScope = "loopback" | "egress";

export const LOOPBACK_INTERFACE = "lo";

const V4_LOOPBACK = parseIp("127.0.0.0")!;
const V6_LOOPBACK = parseIp("::1")!;

/** The address reaches this host only (127/8, ::1, or the unspecified address). */
function loopbackAddress(a: IpAddress): boolean {
  const b = unmapV4(a);
  return isUnspecified(b) || inPrefix(b, V4_LOOPBACK, 8) || inPrefix(b, V6_LOOPBACK, 128);
}

/** A prefix every address of which is loopback. */
function loopbackPrefix(text: string, prefix: number): boolean {
  const net = parseIp(text);
  if (net === undefined) return false;
  const folded = unmapV4(net);
  if (folded !== net) return prefix >= 96 + 8 && inPrefix(folded, V4_LOOPBACK, 8);
  return net.family === 4 ? prefix >= 8 && inPrefix(net, V4_LOOPBACK, 8) : prefix === 128 && inPrefix(net, V6_LOOPBACK, 128);
}

function loopbackOnly(rule: NetRule, resolved: ResolvedHosts): boolean {
  const t = rule.target;
  switch (t.kind) {
    case "any":
    case "domain": // reached through the proxy, wherever the name resolves
      return false;
    case "ip": {
      const ip = parseIp(t.address);
      return ip !== undefined && loopbackAddress(ip);
    }
    case "cidr":
      return loopbackPrefix(t.address, t.prefix);
    case "host":
      // What the name resolved to at start is what the rule allows (a name that resolved to
      // nothing allows nothing).
      return (resolved.get(t.host) ?? []).every((a) => {
        const ip = parseIp(a);
        return ip !== undefined && loopbackAddress(ip);
      });
  }
}

/**
 * The scope a policy's network rules call for. A denylist allows every other address, so
 * it is egress; an allowlist is egress as soon as one rule reaches beyond this host.
 * (Listening sockets need no interface list: bind rules do not widen the scope.)
 */
export function interfaceScope(p: { netAllow: readonly NetRule[]; netDeny: readonly NetRule[] }, resolved: ResolvedHosts = new Map()): InterfaceScope {
  if (p.netDeny.length > 0) return "egress";
  return p.netAllow.every((r) => loopbackOnly(r, resolved)) ? "loopback" : "egress";
}

const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;

/**
 * The interfaces of the default routes in the texts of /proc/net/route (IPv4) and
 * /proc/net/ipv6_route (IPv6): up, not a reject route (the kernel's "unreachable" IPv6
 * default on lo), destination and prefix zero. Pure.
 */
export function defaultRouteInterfaces(route: string, ipv6Route: string): string[] {
  const out = new Set<string>();
  for (const line of route.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const flags = parseInt(f[3]!, 16);
    if (f[1] === "00000000" && f[7] === "00000000" && (flags & RTF_UP) !== 0 && (flags & RTF_REJECT) === 0) out.add(f[0]!);
  }
  for (const line of ipv6Route.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const flags = parseInt(f[8]!, 16);
    if (/^0{32}$/.test(f[0]!) && f[1] === "00" && (flags & RTF_UP) !== 0 && (flags & RTF_REJECT) === 0) out.add(f[9]!);
  }
  out.delete(LOOPBACK_INTERFACE);
  return [...out];
}
