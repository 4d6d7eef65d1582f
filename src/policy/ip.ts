// Syntax of the network targets a rule may name: IPv4, IPv6 (no zone index), CIDR
// prefixes and RFC 1123 hostnames. Pure checks; nothing here resolves or connects.

import { isIPv6 } from "node:net";

/** Strict dotted quad: four decimal parts 0-255, no leading zeros (inet_aton would read them as octal). */
export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** Looks like an attempt at an IPv4 address: only digits and dots. */
export function looksLikeIPv4(text: string): boolean {
  return /^[\d.]+$/.test(text);
}

/** A literal IPv6 address without brackets and without a zone index ("%eth0"). */
export function isIPv6Address(text: string): boolean {
  return !text.includes("%") && isIPv6(text);
}

/**
 * RFC 1123 hostname: dot-separated labels of 1-63 letters, digits and hyphens, not starting
 * or ending with a hyphen, 253 characters at most. A trailing dot is not accepted.
 */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  return text.split(".").every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}
