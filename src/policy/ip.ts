// Syntax of the network targets a rule may name: IPv4, IPv6 (no zone index), CIDR
// prefixes and RFC 1123 hostnames. Pure checks; nothing here resolves or connects.

/** Strict dotted quad: four decimal parts 0-255, no leading zeros (inet_aton would read them as octal). */
export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** Looks like an attempt at an IPv4 address: only digits and dots. */
export function looksLikeIPv4(text: string): boolean {
  return /^[\d.]+$/.test(text);
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * A literal IPv6 address without brackets and without a zone index ("%eth0"): eight
 * groups of 1-4 hex digits, or fewer with one "::", optionally ending in a dotted quad
 * that stands for the last two groups. (Written here rather than taken from node:net,
 * whose loading alone costs the CLI several milliseconds of start-up.)
 */
export function isIPv6Address(text: string): boolean {
  if (text.length < 2 || text.length > 45) return false;
  let head = text;
  let embedded = 0;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (lastColon < 0 || !isIPv4(tail)) return false;
    embedded = 2;
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const gap = head.indexOf("::");
  if (gap !== head.lastIndexOf("::")) return false; // a second "::", or ":::"
  const groups = (s: string): string[] => (s === "" ? [] : s.split(":"));
  if (gap >= 0) {
    const all = [...groups(head.slice(0, gap)), ...groups(head.slice(gap + 2))];
    return all.every((g) => HEX_GROUP.test(g)) && all.length + embedded <= 7;
  }
  const all = head.split(":");
  return all.every((g) => HEX_GROUP.test(g)) && all.length + embedded === 8;
}

/**
 * RFC 1123 hostname: dot-separated labels of 1-63 letters, digits and hyphens, not starting
 * or ending with a hyphen, 253 characters at most. A trailing dot is not accepted.
 */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  return text.split(".").every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

/** Whether the last label of a name is a number as inet_aton reads one (decimal, octal or
 * 0x-hexadecimal): the host's resolver then takes the whole name as an IPv4 address
 * ("127.1" is 127.0.0.1, "10.0.0.1" itself, "0x7f.1"). No domain ends so: a top-level
 * domain is never all-numeric (RFC 3696, 2). */
export function numericLastLabel(name: string): boolean {
  return /(^|\.)(\d+|0x[0-9a-f]*)$/i.test(name);
}
