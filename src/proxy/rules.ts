// Which names and ports the domain rules of netAllow allow, as the filtering proxy and the
// sandbox's DNS ask it. Pure.

import { domainCovers } from "../policy/net-domain.js";
import { numericLastLabel } from "../policy/ip.js";
import type { DomainTarget, NetRule } from "../policy/types.js";

/** How a connection carries its name: a TLS ClientHello (SNI) or an HTTP request (Host). */
export type Carrier = "tls" | "http";

interface DomainRule {
  readonly raw: string;
  readonly target: DomainTarget;
  readonly ports: ReadonlySet<number>;
}

export class DomainRules {
  private readonly rules: readonly DomainRule[];
  private readonly ports: ReadonlySet<number>;

  constructor(netAllow: readonly NetRule[]) {
    this.rules = netAllow.flatMap((r) =>
      r.target.kind === "domain" && r.ports !== "any" ? [{ raw: r.raw, target: r.target, ports: new Set(r.ports) }] : [],
    );
    this.ports = new Set(this.rules.flatMap((r) => [...r.ports]));
  }

  get size(): number {
    return this.rules.length;
  }

  /** Some rule allows this TCP port: a connect to it is steered through the proxy. */
  coversPort(port: number): boolean {
    return this.ports.has(port);
  }

  /** The rule that allows `name` on `port` carried by `carrier`, if any. */
  allows(name: string, port: number, carrier: Carrier): string | undefined {
    for (const r of this.rules) {
      if (!r.ports.has(port) || !domainCovers(r.target, name)) continue;
      if (r.target.scheme === "any" || (r.target.scheme === "https") === (carrier === "tls")) return r.raw;
    }
    return undefined;
  }

  /** Some rule names `name` (on any port): the sandbox's DNS resolves it. */
  knowsName(name: string): boolean {
    return this.rules.some((r) => domainCovers(r.target, name));
  }
}

/** A host name as a rule can name it: RFC 1123 labels, lower case, no trailing dot, and not
 * an address: a last label that is a number (all digits, or 0x and hex digits) makes the
 * whole an IPv4 address to resolvers (inet_aton reads "10.0.0.1", "127.1", "0x7f.1"), and a
 * top-level domain is never all-numeric (RFC 3696, 2). */
export function validName(name: string): boolean {
  return name.length <= 253 && /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/.test(name) && !numericLastLabel(name);
}
