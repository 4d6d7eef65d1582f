// IP addresses as bytes, the form the supervisor compares: parsing of the texts rules and
// the resolver give, IPv4-mapped IPv6 folded to IPv4, prefix containment. Pure.

import { isIPv4, isIPv6Address } from "../policy/ip.js";

export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

function v4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(".").map(Number));
}

function v6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = text;
  let tail4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail4 = v4Bytes(text.slice(lastColon + 1));
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const groups = (s: string): number[] => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const gap = head.indexOf("::");
  const left = groups(gap >= 0 ? head.slice(0, gap) : head);
  const right = gap >= 0 ? groups(head.slice(gap + 2)) : [];
  const words = 8 - (tail4 ? 2 : 0);
  const all = [...left, ...new Array<number>(words - left.length - right.length).fill(0), ...right];
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parses an IPv4 or IPv6 literal (a zone index "%eth0" is ignored); undefined if neither. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.split("%")[0]!;
  if (isIPv4(bare)) return { family: 4, bytes: v4Bytes(bare) };
  if (isIPv6Address(bare)) return { family: 6, bytes: v6Bytes(bare) };
  return undefined;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** ::ffff:a.b.c.d reaches the IPv4 host a.b.c.d (through an IPv6 socket): compare it as that. */
export function unmapV4(a: IpAddress): IpAddress {
  if (a.family === 6 && MAPPED_PREFIX.every((b, i) => a.bytes[i] === b)) {
    return { family: 4, bytes: a.bytes.slice(12) };
  }
  return a;
}

/** Whether addr lies in net/prefix (same family only). */
export function inPrefix(addr: IpAddress, net: IpAddress, prefix: number): boolean {
  if (addr.family !== net.family) return false;
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (addr.bytes[i] !== net.bytes[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr.bytes[whole]! ^ net.bytes[whole]!) & mask) === 0;
}

/** The unspecified address (0.0.0.0 or ::), which connect and send read as "this host". */
export function isUnspecified(a: IpAddress): boolean {
  return a.bytes.every((b) => b === 0);
}

export const LOOPBACK: Readonly<Record<4 | 6, IpAddress>> = {
  4: { family: 4, bytes: Uint8Array.of(127, 0, 0, 1) },
  6: { family: 6, bytes: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1) },
};

/** Text form: dotted quad, or eight hex groups (no "::" compression; for messages). */
export function formatIp(a: IpAddress): string {
  if (a.family === 4) return [...a.bytes].join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((a.bytes[i]! << 8) | a.bytes[i + 1]!).toString(16));
  return words.join(":");
}
