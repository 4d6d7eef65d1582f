// The network rule grammar of SPEC 2.1.1: `[scheme://]target[:port[,port...]]`, parsed
// into a NetRule. Each malformed part gets its own message naming the field and the rule.

import { isHostname, isIPv4, isIPv6Address, looksLikeIPv4, numericLastLabel } from "./ip.js";
import { invalid } from "./quote.js";
import { isDomainRule, parseDomainRule } from "./net-domain.js";
import type { NetRule, NetTarget, Protocol } from "./types.js";

const SCHEMES: Readonly<Record<string, readonly Protocol[]>> = {
  tcp: ["tcp"],
  udp: ["udp"],
  icmp: ["icmp"],
};
const NO_SCHEME: readonly Protocol[] = ["tcp", "udp"];

interface Split {
  readonly target: string;
  /** Text after the port colon; undefined when the rule has no port part. */
  readonly ports: string | undefined;
  /** The target was written in brackets, so it must be IPv6. */
  readonly bracketed: boolean;
}

/**
 * Parse one rule. Decisions where the grammar is silent:
 * - IPv6 with a port must be bracketed (`[::1]:9000`, `[fd00::/8]:443`). A bare target
 *   with two or more colons is always read as a whole IPv6 address or CIDR without port
 *   (`::1`, `fd00::/8`), never as "address:port", so `::1:80` means the address ::1:80.
 * - Hostnames are RFC 1123 and lower-cased; no trailing dot. A leading "*." label or an
 *   http(s):// scheme makes a domain rule (net-domain.ts).
 * - IPv4 is a strict dotted quad (no leading zeros). CIDR addresses are kept as written,
 *   host bits included (`10.0.0.1/8` is the network 10.0.0.0/8).
 * - Ports are sorted and de-duplicated; `*,*` is the same as `*`. Schemes are
 *   case-insensitive. Whitespace anywhere is an error.
 */
export function parseNetRule(field: string, raw: unknown): NetRule {
  if (typeof raw !== "string") throw invalid(field, raw, `is not a string (a rule looks like "host:443")`);
  if (raw.trim() === "") throw invalid(field, raw, `is an empty rule (write "*" for every address and port)`);
  if (/\s/.test(raw)) throw invalid(field, raw, "contains whitespace");
  if (isDomainRule(raw)) return parseDomainRule(field, raw, (text) => parsePorts(field, raw, text));

  let protocols = NO_SCHEME;
  let rest = raw;
  let scheme: string | undefined;
  const sep = raw.indexOf("://");
  if (sep >= 0) {
    scheme = raw.slice(0, sep).toLowerCase();
    if (scheme === "") throw invalid(field, raw, `has "://" without a scheme before it`);
    const pinned = SCHEMES[scheme];
    if (pinned === undefined) {
      throw invalid(field, raw, `has an unknown scheme ${JSON.stringify(scheme)} (use tcp://, udp://, icmp://, https:// or http://, or none for TCP and UDP)`);
    }
    protocols = pinned;
    rest = raw.slice(sep + 3);
  }

  const split = splitTarget(field, raw, rest);
  const target = parseTarget(field, raw, split);
  let ports: readonly number[] | "any" = "any";
  if (scheme === "icmp") {
    if (split.ports !== undefined) throw invalid(field, raw, "gives a port, but icmp:// rules take none");
  } else if (split.ports !== undefined) {
    ports = parsePorts(field, raw, split.ports);
  }
  return Object.freeze({
    raw,
    protocols: Object.freeze([...protocols]),
    target: Object.freeze(target),
    ports: ports === "any" ? "any" : Object.freeze([...ports]),
  });
}

function splitTarget(field: string, raw: string, rest: string): Split {
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw invalid(field, raw, `has "[" without a closing "]"`);
    const inside = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (inside === "") throw invalid(field, raw, `has empty brackets "[]"`);
    if (after === "") return { target: inside, ports: undefined, bracketed: true };
    if (!after.startsWith(":")) throw invalid(field, raw, `has unexpected text ${JSON.stringify(after)} after "]"`);
    return { target: inside, ports: after.slice(1), bracketed: true };
  }
  const colons = rest.split(":").length - 1;
  if (colons >= 2) {
    // Bare IPv6: a port cannot be told apart from the last group, so there is none.
    const address = rest.split("/")[0]!;
    if (address.includes("%")) {
      throw invalid(field, raw, "has an IPv6 zone index (%...), which rules do not take");
    }
    if (!isIPv6Address(address)) {
      // "host:80:90" is a mistaken port list; "::zz" or "1::2::3" a mistaken address.
      const head = rest.slice(0, rest.indexOf(":"));
      const portsFollow = !rest.includes("::") && (head === "" || head === "*" || isIPv4(head) || isHostname(head));
      if (portsFollow) {
        throw invalid(field, raw, `has more than one ":" (separate ports with ",")`);
      }
      throw invalid(field, raw, `is not a valid IPv6 address (put an IPv6 address in brackets when a port follows, e.g. "[::1]:9000")`);
    }
    return { target: rest, ports: undefined, bracketed: false };
  }
  if (colons === 1) {
    const colon = rest.indexOf(":");
    return { target: rest.slice(0, colon), ports: rest.slice(colon + 1), bracketed: false };
  }
  return { target: rest, ports: undefined, bracketed: false };
}

function parseTarget(field: string, raw: string, split: Split): NetTarget {
  const text = split.target;
  if (split.bracketed) {
    const address = text.split("/")[0]!;
    if (!isIPv6Address(address)) {
      throw invalid(field, raw, `has ${JSON.stringify(text)} in brackets, which only hold an IPv6 address or CIDR`);
    }
  }
  if (text === "" || text === "*") return { kind: "any" };
  if (text.includes("/")) return parseCidr(field, raw, text);
  if (isIPv4(text)) return { kind: "ip", address: text, family: 4 };
  if (looksLikeIPv4(text)) throw invalid(field, raw, `has an invalid IPv4 address ${JSON.stringify(text)}`);
  if (isIPv6Address(text)) return { kind: "ip", address: text, family: 6 };
  if (text.includes("*")) {
    throw invalid(field, raw, `uses "*" inside a target; "*" only stands alone, for every address, or as the first label of a domain ("*.example.com:443")`);
  }
  if (text.includes("[") || text.includes("]")) {
    throw invalid(field, raw, `has a misplaced bracket; write an IPv6 target as "[addr]:port"`);
  }
  if (!isHostname(text)) throw invalid(field, raw, `has an invalid hostname ${JSON.stringify(text)}`);
  // "0x7f.1", "10.0.0.0x1": not a dotted quad, yet the resolver reads an IPv4 address.
  if (numericLastLabel(text)) {
    throw invalid(field, raw, `has ${JSON.stringify(text)}, which ends in a number: resolvers read it as an IPv4 address (inet_aton's shorthand), not a host name; write the address as a dotted quad`);
  }
  return { kind: "host", host: text.toLowerCase() };
}

function parseCidr(field: string, raw: string, text: string): NetTarget {
  const parts = text.split("/");
  if (parts.length !== 2) throw invalid(field, raw, `has more than one "/" in ${JSON.stringify(text)}`);
  const [address, prefixText] = parts as [string, string];
  if (!/^\d{1,3}$/.test(prefixText)) {
    throw invalid(field, raw, `has a CIDR prefix ${JSON.stringify(prefixText)} that is not a number`);
  }
  const prefix = Number(prefixText);
  let family: 4 | 6;
  if (isIPv4(address)) family = 4;
  else if (isIPv6Address(address)) family = 6;
  else throw invalid(field, raw, `has ${JSON.stringify(address)} before "/", which is not an IP address`);
  const max = family === 4 ? 32 : 128;
  if (prefix > max) throw invalid(field, raw, `has prefix /${prefix}, out of range for IPv${family} (0-${max})`);
  return { kind: "cidr", address, prefix, family };
}

function parsePorts(field: string, raw: string, text: string): readonly number[] | "any" {
  if (text === "") throw invalid(field, raw, "has an empty port list");
  const parts = text.split(",");
  if (parts.includes("")) throw invalid(field, raw, "has an empty entry in its port list");
  if (parts.includes("*")) {
    if (parts.some((p) => p !== "*")) {
      throw invalid(field, raw, `mixes "*" with port numbers ("*" alone means every port)`);
    }
    return "any";
  }
  const ports = new Set<number>();
  for (const part of parts) {
    if (/^\d+-\d+$/.test(part)) {
      throw invalid(field, raw, `has a port range ${JSON.stringify(part)}; rules list single ports separated by ","`);
    }
    if (!/^\d+$/.test(part)) throw invalid(field, raw, `has a port ${JSON.stringify(part)} that is not a number`);
    const port = Number(part);
    if (port === 0) throw invalid(field, raw, "has port 0 (ports are 1-65535)");
    if (port > 65535) throw invalid(field, raw, `has port ${part}, above 65535`);
    ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}
