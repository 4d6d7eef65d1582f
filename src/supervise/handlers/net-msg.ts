// Copies an outgoing message out of the caller's memory (struct msghdr, its iovecs, its
// name and control data) so the supervisor can check it and send exactly that copy.

import type { ChildMemory } from "../child-memory.js";
import type { Notification } from "../notification.js";
import { SOCKADDR_MAX } from "./net-sockaddr.js";

const EFAULT = 14;
const EINVAL = 22;
const EMSGSIZE = 90;
const ENOBUFS = 105;
const EPERM = 1;

export const MSGHDR_BYTES = 56;
/** struct mmsghdr: a msghdr and the unsigned msg_len the kernel fills in. */
export const MMSGHDR_BYTES = 64;
export const MMSG_LEN_OFFSET = 56;
/** UIO_MAXIOV: the kernel's limit on iovecs per message and messages per sendmmsg. */
export const UIO_MAXIOV = 1024;
/** More than any datagram can carry (64 KiB): a longer one would get EMSGSIZE anyway. */
export const PAYLOAD_MAX = 1 << 20;
/** Ancillary data beyond this is refused (the kernel's own limit is optmem_max). */
const CONTROL_MAX = 64 << 10;

export interface OutMessage {
  /** The destination as copied (at most 128 bytes), or null for none. */
  readonly name: Buffer | null;
  readonly data: Buffer;
  readonly control: Buffer | null;
}

/** `len` bytes at `addr` in the caller, or an errno (EFAULT when unreadable). */
export function copyIn(mem: ChildMemory, n: Notification, addr: number, len: number): Buffer | number {
  if (len === 0) return Buffer.alloc(0);
  return mem.read(n, addr, len) ?? EFAULT;
}

/** The iovecs' bytes; beyond `max`, EMSGSIZE, or with `truncate` (a stream, where a
 * short send is a valid answer) the first `max` bytes. */
function gather(mem: ChildMemory, n: Notification, iovAddr: number, iovLen: number, max: number, truncate: boolean): Buffer | number {
  const iov = copyIn(mem, n, iovAddr, iovLen * 16);
  if (typeof iov === "number") return iov;
  const parts: Buffer[] = [];
  let total = 0;
  for (let i = 0; i < iovLen && total < max; i++) {
    const base = Number(iov.readBigUInt64LE(16 * i));
    let len = iov.readBigUInt64LE(16 * i + 8);
    if (len > BigInt(max - total)) {
      if (!truncate) return EMSGSIZE;
      len = BigInt(max - total);
    }
    const part = copyIn(mem, n, base, Number(len));
    if (typeof part === "number") return part;
    parts.push(part);
    total += part.length;
  }
  return Buffer.concat(parts, total);
}

/** The struct msghdr at `addr`, with everything it points to (the name clamped to 128
 * bytes and dropped when its pointer or length is 0, as copy_msghdr_from_user does).
 * A payload above `max` bytes gives EMSGSIZE, or is cut there with `truncate`. */
export function readMessage(mem: ChildMemory, n: Notification, addr: number, max = PAYLOAD_MAX, truncate = false): OutMessage | number {
  const h = copyIn(mem, n, addr, MSGHDR_BYTES);
  if (typeof h === "number") return h;
  const nameAddr = Number(h.readBigUInt64LE(0));
  const nameLen = Math.min(h.readUInt32LE(8), SOCKADDR_MAX);
  const iovLen = h.readBigUInt64LE(24);
  const controlAddr = Number(h.readBigUInt64LE(32));
  const controlLen = h.readBigUInt64LE(40);
  let name: Buffer | null = null;
  if (nameAddr !== 0 && nameLen > 0) {
    const got = copyIn(mem, n, nameAddr, nameLen);
    if (typeof got === "number") return got;
    name = got;
  }
  if (iovLen > BigInt(UIO_MAXIOV)) return EMSGSIZE;
  const data = gather(mem, n, Number(h.readBigUInt64LE(16)), Number(iovLen), max, truncate);
  if (typeof data === "number") return data;
  let control: Buffer | null = null;
  if (controlLen > 0n) {
    if (controlLen > BigInt(CONTROL_MAX)) return ENOBUFS;
    const got = copyIn(mem, n, controlAddr, Number(controlLen));
    if (typeof got === "number") return got;
    control = got;
  }
  return { name, data, control };
}

/** Ancillary messages a send on an IP datagram socket may carry, by level: they tune the
 * packet (source address and interface, TTL, traffic class, segmentation, timestamps) but
 * never where it goes. Source routes (IP_RETOPTS, IPV6_RTHDR) and the rest are refused. */
const ALLOWED_CMSG: ReadonlyMap<number, ReadonlySet<number>> = new Map([
  [0 /* SOL_IP */, new Set([1 /* IP_TOS */, 2 /* IP_TTL */, 8 /* IP_PKTINFO */])],
  [41 /* SOL_IPV6 */, new Set([50 /* IPV6_PKTINFO */, 52 /* IPV6_HOPLIMIT */, 62 /* IPV6_DONTFRAG */, 67 /* IPV6_TCLASS */])],
  [17 /* SOL_UDP */, new Set([103 /* UDP_SEGMENT */])],
  [1 /* SOL_SOCKET */, new Set([12 /* SO_PRIORITY */, 37 /* SO_TIMESTAMPING */, 61 /* SO_TXTIME */])],
]);

/** 0 when every control message is on the list; EINVAL for a malformed one (as the
 * kernel), EPERM for one not allowed (SCM_RIGHTS, SCM_CREDENTIALS, source routes...). */
export function checkControl(control: Buffer): number {
  let at = 0;
  while (control.length - at >= 16) {
    const len = control.readBigUInt64LE(at);
    if (len < 16n || len > BigInt(control.length - at)) return EINVAL;
    const level = control.readInt32LE(at + 8);
    const type = control.readInt32LE(at + 12);
    if (!ALLOWED_CMSG.get(level)?.has(type)) return EPERM;
    at += (Number(len) + 7) & ~7;
  }
  return 0;
}
