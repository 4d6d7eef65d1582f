// Reads a destination sockaddr the way the kernel will for an IP socket, from the bytes
// the supervisor copied: the check and the call it performs then use the same bytes.

import { AF } from "../../plan/seccomp.js";
import { LOOPBACK, isUnspecified, unmapV4, type IpAddress } from "../../plan/net-address.js";
import type { Destination } from "../../plan/net-match.js";

const EINVAL = 22;
const EAFNOSUPPORT = 97;
const AF_UNSPEC = 0;

/** sizeof(struct sockaddr_storage): the kernel refuses longer addresses. */
export const SOCKADDR_MAX = 128;
const SIN_LEN = 16;
const SIN6_LEN = 24;

export type Target =
  /** No destination: connect(AF_UNSPEC) dissolves an association; a send goes to the
   * peer already connected, which was checked when it was connected. */
  | { kind: "none" }
  /** `name`: the bytes to hand to the kernel (equal to the copy, except that an
   * unspecified address was rewritten to the loopback address that was checked). */
  | { kind: "ip"; dest: Destination; name: Buffer }
  | { kind: "invalid"; errno: number };

function ip(family: 4 | 6, name: Buffer, at: number): Target {
  let address: IpAddress = unmapV4({ family, bytes: Uint8Array.from(name.subarray(at, at + (family === 4 ? 4 : 16))) });
  const port = name.readUInt16BE(2);
  const copy = Buffer.from(name);
  if (isUnspecified(address)) {
    // To the kernel 0.0.0.0 and :: mean "this host", reached through loopback: check the
    // loopback address, and send to it, so that what is checked is what is reached.
    address = LOOPBACK[address.family];
    if (family === 4 || address.family === 4) copy.set(address.bytes, family === 4 ? at : at + 12);
    else copy.set(address.bytes, at);
  }
  return { kind: "ip", dest: { address, port }, name: copy };
}

/**
 * `domain` is the socket's (AF_INET or AF_INET6). Kernel readings followed here:
 * AF_INET needs 16 bytes and AF_INET6 24 (else EINVAL); an IPv6 socket also takes
 * AF_INET addresses; IPv4-mapped IPv6 reaches the IPv4 host. AF_UNSPEC is a disconnect
 * for connect, and for a send on an IPv6 socket means "no address", but a UDP send on
 * an IPv4 socket reads it as AF_INET (a compatibility quirk of udp_sendmsg), so it is
 * checked as such. Other families are refused.
 */
export function decodeDestination(domain: number, name: Buffer, op: "connect" | "send"): Target {
  if (name.length < 2) return { kind: "invalid", errno: EINVAL };
  let family = name.readUInt16LE(0);
  if (family === AF_UNSPEC) {
    if (op === "connect" || domain === AF.INET6) return { kind: "none" };
    family = AF.INET;
  }
  if (family === AF.INET) return name.length < SIN_LEN ? { kind: "invalid", errno: EINVAL } : ip(4, name, 4);
  if (family === AF.INET6) return name.length < SIN6_LEN ? { kind: "invalid", errno: EINVAL } : ip(6, name, 8);
  return { kind: "invalid", errno: EAFNOSUPPORT };
}
