// netAllow / netDeny -> what the network supervisor enforces: rules compiled to byte
// prefixes (hostnames replaced by the addresses they resolved to at start), the mode, and
// the synthetic /etc/hosts that pins those names. Pure: resolution is done by the caller.

import type { NetRule, PolicyFields, Protocol } from "../policy/types.js";
import { parseIp, unmapV4, type IpAddress } from "./net-address.js";

/** A rule's target as the supervisor compares it: every address, or one prefix. */
export type MatchTarget = "any" | { readonly net: IpAddress; readonly prefix: number };

export interface MatchRule {
  /** The rule as written, for messages. */
  readonly raw: string;
  readonly protocols: ReadonlySet<Protocol>;
  readonly target: MatchTarget;
  /** Ports, or "any" (always "any" for ICMP, which has none). */
  readonly ports: ReadonlySet<number> | "any";
}

/** The destination rules the supervisor applies to IP sockets. */
export interface NetRules {
  /** allow: only what a rule names; deny: everything but what a rule names. */
  readonly mode: "allow" | "deny";
  readonly rules: readonly MatchRule[];
  /** Content of the synthetic /etc/hosts, when rules name hosts or domains; else undefined. */
  readonly hostsFile: string | undefined;
  /** Content of the synthetic /etc/resolv.conf, with domain rules; else undefined. */
  readonly resolvConf?: string;
}

/** Host name -> the addresses it resolved to at start. */
export type ResolvedHosts = ReadonlyMap<string, readonly string[]>;

type NetFields = Pick<PolicyFields, "netAllow" | "netDeny">;

/**
 * Whether the supervisor must check destinations. Landlock (ABI 4) checks TCP connect
 * ports for any address on its own; everything else needs the supervisor: a host, IP or
 * CIDR target, UDP, ICMP, or a denylist. Without it nothing network-related is trapped.
 */
export function netNeedsSupervisor(p: NetFields): boolean {
  if (p.netDeny.length > 0) return true;
  return p.netAllow.some((r) => r.target.kind !== "any" || r.protocols.some((x) => x !== "tcp"));
}

/** Some allow rule is a domain rule (enforced by the filtering proxy, src/proxy). */
export function hasDomainRules(p: Pick<PolicyFields, "netAllow">): boolean {
  return p.netAllow.some((r) => r.target.kind === "domain");
}

/** The host names of the allow rules, each once, in rule order. */
export function ruleHosts(p: NetFields): string[] {
  const out = new Set<string>();
  for (const r of p.netAllow) if (r.target.kind === "host") out.add(r.target.host);
  return [...out];
}

/** A deny rule without a scheme or port covers every protocol, ICMP too: a denied address
 * gets nothing at all. (For allow rules no scheme means TCP and UDP, per SPEC 2.1.1: ping
 * is only ever allowed by an icmp:// rule. A rule with ports cannot speak of ICMP.) */
function denyProtocols(r: NetRule): readonly Protocol[] {
  return r.raw.includes("://") || r.ports !== "any" ? r.protocols : ["tcp", "udp", "icmp"];
}

export function compileRule(r: NetRule, protocols: readonly Protocol[], resolved: ResolvedHosts): MatchRule[] {
  const base = { raw: r.raw, protocols: new Set(protocols), ports: r.ports === "any" ? ("any" as const) : new Set(r.ports) };
  const t = r.target;
  const prefixOf = (text: string, prefix?: number): MatchRule => {
    const parsed = parseIp(text);
    if (parsed === undefined) throw new Error(`net rules: ${JSON.stringify(text)} is not an IP address`);
    const bits = prefix ?? (parsed.family === 4 ? 32 : 128);
    // A rule inside ::ffff:0:0/96 names IPv4 hosts (reached through IPv6 sockets), and
    // destinations are compared in IPv4 form: fold the rule the same way.
    const folded = unmapV4(parsed);
    if (folded !== parsed && bits >= 96) return { ...base, target: { net: folded, prefix: bits - 96 } };
    return { ...base, target: { net: parsed, prefix: bits } };
  };
  switch (t.kind) {
    case "any":
      return [{ ...base, target: "any" }];
    case "ip":
      return [prefixOf(t.address)];
    case "cidr":
      return [prefixOf(t.address, t.prefix)];
    case "domain":
      // Enforced by the filtering proxy (src/proxy), never by address.
      return [];
    case "host": {
      const addresses = resolved.get(t.host);
      if (addresses === undefined) throw new Error(`net rules: host ${t.host} was not resolved before planning`);
      return addresses.map((a) => prefixOf(a));
    }
  }
}

/** The rules of a policy that only the supervisor can enforce, or undefined when Landlock
 * enforces them all (see net-supervision.ts for what is supervised in every policy). */
export function compileNet(p: NetFields, resolved: ResolvedHosts): NetRules | undefined {
  if (!netNeedsSupervisor(p)) return undefined;
  if (p.netDeny.length > 0) {
    return { mode: "deny", rules: p.netDeny.flatMap((r) => compileRule(r, denyProtocols(r), resolved)), hostsFile: undefined };
  }
  const rules = p.netAllow.flatMap((r) => compileRule(r, r.protocols, resolved));
  const hosts = ruleHosts(p);
  // With domain rules the sandbox's resolver is the supervisor's (resolv.conf, hosts-file.ts):
  // the host's /etc/hosts, which may name anything, is replaced too.
  const served = hosts.length > 0 || hasDomainRules(p);
  return {
    mode: "allow", rules, hostsFile: served ? hostsFileText(hosts, resolved) : undefined,
    ...(hasDomainRules(p) ? { resolvConf: RESOLV_CONF } : {}),
  };
}

/**
 * With domain rules, the sandbox's /etc/resolv.conf: DNS over TCP (`use-vc`, which glibc
 * reads), so that a query is a TCP connect to port 53, which the supervisor steers to its
 * own DNS (proxy/dns-server.ts); the address written here is never reached. Over UDP the
 * answer would have to come from the nameserver's address, which the supervisor cannot
 * send from.
 */
export const RESOLV_CONF = "# /etc/resolv.conf of a sandlock sandbox: DNS is answered by the supervisor\nnameserver 127.0.0.1\noptions use-vc attempts:1 timeout:5\n";

const LOCALHOST_LINES = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];

/**
 * The sandbox's /etc/hosts: the localhost lines, then one line per address of every name
 * the rules pin, so a resolver inside reaches exactly the addresses the rules allow.
 * Zone indexes are dropped; a pair the localhost lines already give is not repeated.
 */
export function hostsFileText(hosts: readonly string[], resolved: ResolvedHosts): string {
  const lines = ["# /etc/hosts of a sandlock sandbox: the names of its network rules, resolved once at start", ...LOCALHOST_LINES];
  const seen = new Set(["127.0.0.1 localhost", "::1 localhost"]);
  for (const host of hosts) {
    for (const address of resolved.get(host) ?? []) {
      const bare = address.split("%")[0]!;
      if (seen.has(`${bare} ${host}`)) continue;
      seen.add(`${bare} ${host}`);
      lines.push(`${bare}\t${host}`);
    }
  }
  return lines.join("\n") + "\n";
}
