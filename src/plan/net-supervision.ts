// What the network supervisor enforces in every policy: the destination rules of IP
// sockets (Landlock's TCP port rules included, since the supervisor performs every
// connect), where named unix sockets may be reached, and which host interfaces are seen.

import type { Policy } from "../policy/policy.js";
import type { PathGrant } from "./landlock.js";
import { inPrefix, parseIp } from "./net-address.js";
import { compileNet, compileRule, type MatchRule, type NetRules, type ResolvedHosts } from "./net-rules.js";

/** Which host interfaces the sandbox sees (src/supervise/interface-view.ts applies it):
 * loopback alone, or also the interfaces that carry a default route. */
export type InterfaceScope = "loopback" | "egress";

export interface NetSupervision extends NetRules {
  /**
   * The rules are TCP ports to any address (or none): the ones Landlock enforces on the
   * child's own connects. The supervisor applies the same rules to the connects it
   * performs and refuses with EACCES, as Landlock would; otherwise it refuses with
   * ECONNREFUSED (SPEC 4.3).
   */
  readonly portRulesOnly: boolean;
  readonly interfaces: InterfaceScope;
  /** Named unix sockets may be reached only beneath these writable grants; "any" when the
   * filesystem protection is not in force (its grants then bound nothing). */
  readonly unixGrants: readonly PathGrant[] | "any";
  /** Landlock's abstract-socket scope is in force: abstract unix addresses are refused
   * (a connect the supervisor performs is not scoped; see handlers/net-unix.ts). */
  readonly abstractScoped: boolean;
}

export interface NetFacts {
  /** Landlock's TCP protection is in force: without it TCP ports are not restricted. */
  netTcp: boolean;
  /** Landlock's filesystem protection is in force. */
  fs: boolean;
  /** Every grant of the plan (the writable ones bound named unix sockets). */
  grants: readonly PathGrant[];
  /** Landlock's scopes (abstract unix sockets, signals) are in force. */
  scopes: boolean;
}

const LOOPBACK_V4 = parseIp("127.0.0.0")!;
const LOOPBACK_V6 = parseIp("::1")!;

/** A compiled rule that can only ever match loopback addresses. */
function loopbackOnly(r: MatchRule): boolean {
  if (r.target === "any") return false;
  const { net, prefix } = r.target;
  if (net.family === 4) return prefix >= 8 && inPrefix(net, LOOPBACK_V4, 8);
  return prefix === 128 && inPrefix(net, LOOPBACK_V6, 128);
}

/**
 * The interface view: egress to anything but loopback (any allow rule with another
 * target, or a denylist, which allows everything else) shows the host's default-route
 * interfaces too; a sandbox that can reach loopback only sees `lo` only.
 */
export function interfaceScope(mode: "allow" | "deny", rules: readonly MatchRule[]): InterfaceScope {
  if (mode === "deny") return "egress";
  return rules.every(loopbackOnly) ? "loopback" : "egress";
}

/** TCP rules for any address, as Landlock reads them; every port when it is not in force. */
function portRules(policy: Policy, netTcp: boolean, resolved: ResolvedHosts): MatchRule[] {
  if (!netTcp) return [{ raw: "(net-tcp protection not in force)", protocols: new Set(["tcp"]), target: "any", ports: "any" }];
  return policy.netAllow.filter((r) => r.target.kind === "any" && r.protocols.includes("tcp")).flatMap((r) => compileRule(r, ["tcp"], resolved));
}

export function netSupervision(policy: Policy, resolved: ResolvedHosts, facts: NetFacts): NetSupervision {
  const compiled: NetRules | undefined = compileNet(policy, resolved);
  const rules: NetRules = compiled ?? { mode: "allow", rules: portRules(policy, facts.netTcp, resolved), hostsFile: undefined };
  return {
    ...rules,
    portRulesOnly: compiled === undefined,
    // The view follows what the policy allows, not what Landlock happens to enforce.
    interfaces: interfaceScope(rules.mode, compiled?.rules ?? policy.netAllow.flatMap((r) => compileRule(r, r.protocols, resolved))),
    unixGrants: facts.fs ? facts.grants.filter((g) => g.writable) : "any",
    abstractScoped: facts.scopes,
  };
}
