// Domain rules of netAllow (issue 13): `https://*.github.com`, `http://mirror.example.com:8080`,
// `*.example.com:443`. Parsed here into a NetRule whose target is a DomainTarget; the
// filtering proxy (src/proxy) enforces them. Each malformed part names the rule.

import { isHostname, isIPv4, isIPv6Address, numericLastLabel } from "./ip.js";
import { invalid } from "./quote.js";
import type { DomainTarget, NetRule } from "./types.js";

const DEFAULT_PORT = { https: 443, http: 80 } as const;

/** Whether a rule is a domain rule: an http(s):// scheme, or a leading "*." label. */
export function isDomainRule(raw: string): boolean {
  const lower = raw.toLowerCase();
  if (lower.startsWith("https://") || lower.startsWith("http://")) return true;
  const sep = raw.indexOf("://");
  return (sep >= 0 ? raw.slice(sep + 3) : raw).startsWith("*.");
}

/**
 * Parse a domain rule. Decisions:
 * - `https://` checks the TLS SNI, `http://` the HTTP Host header; without a scheme (or
 *   with `tcp://`) either is accepted, and a port is required (a scheme gives 443 / 80).
 * - The wildcard is one leading label, `*.example.com`: any name below example.com, at any
 *   depth, but not example.com itself (write both rules for both). `*.com` is refused.
 * - Only TCP: `udp://*.x` is an error. No path, query, user or IP address.
 * `parsePorts` is the port-list parser of net-rule.ts (shared messages).
 */
export function parseDomainRule(field: string, raw: string, parsePorts: (text: string) => readonly number[] | "any"): NetRule {
  const sep = raw.indexOf("://");
  const scheme = sep >= 0 ? raw.slice(0, sep).toLowerCase() : "";
  if (scheme !== "" && scheme !== "https" && scheme !== "http" && scheme !== "tcp") {
    throw invalid(field, raw, `names a wildcard domain under ${scheme}://; domain rules are TCP only (https://, http://, tcp:// or no scheme)`);
  }
  const rest = sep >= 0 ? raw.slice(sep + 3) : raw;
  if (/[/?#@]/.test(rest)) throw invalid(field, raw, `has a path, query or user part; a domain rule names a host and ports only ("https://api.example.com:8443")`);
  const colon = rest.indexOf(":");
  const host = colon >= 0 ? rest.slice(0, colon) : rest;
  const portText = colon >= 0 ? rest.slice(colon + 1) : undefined;
  if (host === "") throw invalid(field, raw, "has no domain");
  if (host.startsWith("[") || isIPv4(host) || isIPv6Address(host)) {
    throw invalid(field, raw, `names an IP address; ${scheme}:// rules name a domain (write "tcp://ADDRESS:PORT" for an address)`);
  }
  const wildcard = host.startsWith("*.");
  const domain = (wildcard ? host.slice(2) : host).toLowerCase();
  if (domain.includes("*")) {
    throw invalid(field, raw, `uses "*" inside a domain; "*" only stands as the whole first label ("*.example.com")`);
  }
  if (!isHostname(domain)) throw invalid(field, raw, `has an invalid domain ${JSON.stringify(domain)}`);
  // "127.1", "10.0.0.1" after a wildcard ("*.0.1"), "0x7f.1": the host's resolver reads them
  // as IPv4 addresses (inet_aton), so the rule would reach an address while reading as a name.
  if (numericLastLabel(domain)) {
    throw invalid(field, raw, `names ${JSON.stringify(domain)}, which ends in a number: resolvers read it as an IPv4 address ("127.1" is 127.0.0.1), and no domain ends so; write "tcp://ADDRESS:PORT" for an address`);
  }
  if (wildcard && !domain.includes(".")) {
    throw invalid(field, raw, `would cover every name under the top-level domain "${domain}"; name a domain below it ("*.example.${domain}")`);
  }
  let ports: readonly number[];
  if (portText === undefined) {
    if (scheme !== "https" && scheme !== "http") {
      throw invalid(field, raw, `names a wildcard domain without a port; add one ("${raw}:443") or a scheme ("https://${rest}")`);
    }
    ports = [DEFAULT_PORT[scheme]];
  } else {
    const parsed = parsePorts(portText);
    if (parsed === "any") throw invalid(field, raw, `gives every port ("*"); a domain rule lists its ports`);
    ports = parsed;
  }
  const target: DomainTarget = { kind: "domain", domain, wildcard, scheme: scheme === "https" || scheme === "http" ? scheme : "any" };
  return Object.freeze({ raw, protocols: Object.freeze(["tcp" as const]), target: Object.freeze(target), ports: Object.freeze([...ports]) });
}

/** Whether `name` (a lower-case host name without a trailing dot) is covered by `t`. */
export function domainCovers(t: DomainTarget, name: string): boolean {
  return t.wildcard ? name.length > t.domain.length + 1 && name.endsWith(`.${t.domain}`) : name === t.domain;
}
