// What the network supervisor enforces in every policy: the destination rules of IP
// sockets (Landlock's TCP port rules included, since the supervisor performs every
// connect), where named unix sockets may be reached, and which host interfaces are seen.

import type { Policy } from "../policy/policy.js";
import type { PathGrant } from "./landlock.js";
import { interfaceScope, type InterfaceScope } from "./interface-view.js";
import { compileNet, compileRule, type MatchRule, type NetRules, type ResolvedHosts } from "./net-rules.js";

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
  /** A bind of a unix socket to an abstract name is refused (EPERM): the scope protection
   * holds (the sandbox's own connects there are refused) and the sandbox shares the host's
   * network namespace (not the kernel view), where such a name is the host's too: a
   * socket bound to it receives what the host's processes send there, and keeps a host
   * service that would bind it from doing so (handlers/net.ts unixBind). */
  readonly refuseAbstractBind: boolean;
  /** portRemap: TCP binds to a port other than 0 are made by the supervisor, on another
   * port when the one asked for is busy (the bind rules: `bind`). */
  readonly portRemap?: true;
  /** The TCP ports the policy lets the sandbox bind (Landlock's bind rules), "any" when
   * every port may be bound or Landlock's TCP protection is not in force. The supervisor
   * checks them itself for the binds it makes (portRemap, policyFn's bind events: Landlock
   * does not see those), and an IP socket listened on while still on port 0 (the kernel
   * binds it then, past Landlock, to a port of its choosing) may listen only under "any". */
  readonly bind: readonly number[] | "any";
  /** UDP sockets are the supervisor's making (handlers/net.ts udpSocket): a datagram
   * reaches one only at a port of these or of the host's ephemeral range, and a bind to a
   * port other than 0 and these is EACCES. Unset where UDP sockets cannot be made, or
   * every port may be bound ("*"). */
  readonly udpBind?: readonly number[];
  /** The RLIMIT_NOFILE the sandbox's sends with descriptors are made under, by the
   * supervising process's sender (native/launcher/sender.c): the kernel refuses such a send
   * (ETOOMANYREFS) once the uid's count of files in flight passes the sender's limit. The
   * policy's maxOpenFiles, at most IN_FLIGHT_MAX. */
  readonly inFlight: number;
}

/**
 * The most files in flight in unix sockets' queues (the uid's count, every process of it
 * together) past which a sandbox's sends with descriptors get ETOOMANYREFS. The kernel
 * compares that count with the sender's RLIMIT_NOFILE, and a process of the uid at the
 * usual soft limit of 1,024 can pass no descriptor once it is reached: a sandbox's sends
 * stop at 256 (one message may then add 253, the kernel's SCM_MAX_FD), which leaves such a
 * process room for about 500 of its own.
 */
export const IN_FLIGHT_MAX = 256;

export interface NetFacts {
  /** Landlock's TCP protection is in force: without it TCP ports are not restricted. */
  netTcp: boolean;
  /** Landlock's filesystem protection is in force. */
  fs: boolean;
  /** Every grant of the plan (the writable ones bound named unix sockets). */
  grants: readonly PathGrant[];
  /** Landlock's scopes (abstract unix sockets, signals) are in force. */
  scopes: boolean;
  /** The sandbox has a network namespace of its own (the kernel view). */
  ownNetns: boolean;
  /** The TCP ports the sandbox may bind, "any" without Landlock's TCP protection. */
  bind: readonly number[] | "any";
  /** The policy's portRemap. */
  portRemap: boolean;
  /** The UDP ports the sandbox may bind and receive at (see NetSupervision.udpBind). */
  udpBind?: readonly number[] | undefined;
  /** The policy's maxOpenFiles. */
  maxOpenFiles?: number | undefined;
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
    interfaces: interfaceScope(policy, resolved),
    unixGrants: facts.fs ? facts.grants.filter((g) => g.writable) : "any",
    abstractScoped: facts.scopes,
    refuseAbstractBind: facts.scopes && !facts.ownNetns,
    bind: facts.bind,
    ...(facts.portRemap ? { portRemap: true as const } : {}),
    ...(facts.udpBind !== undefined ? { udpBind: facts.udpBind } : {}),
    inFlight: Math.min(IN_FLIGHT_MAX, facts.maxOpenFiles ?? IN_FLIGHT_MAX),
  };
}

/** Pairs of ports a UDP socket's filter takes at most (native/net.c SL_UDP_RANGES_MAX). */
export const UDP_RANGES_MAX = 1024;

/** `ports` and `extra` as sorted, merged [lo, hi] pairs. */
export function portRanges(ports: readonly number[], extra?: readonly [number, number]): [number, number][] {
  const pairs: [number, number][] = ports.map((p) => [p, p]);
  if (extra !== undefined) pairs.push([extra[0], extra[1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of pairs) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}
