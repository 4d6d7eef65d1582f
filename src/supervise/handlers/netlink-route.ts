// The answers of an emulated NETLINK_ROUTE socket: link and address dumps (and single
// link lookups) filtered to the visible interfaces, every other request refused with the
// NLMSG_ERROR the kernel gives an unprivileged caller. Pure but for the dump source.

import type { InterfaceView } from "../interface-view.js";

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, MIN_TYPE: 16, HDRLEN: 16 } as const;
export const NLM_F = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, DUMP: 0x300, CAPPED: 0x100 } as const;
export const RTM = { BASE: 16, GETLINK: 18, GETADDR: 22 } as const;
const IFLA = { IFNAME: 3, EXT_MASK: 29, ALT_IFNAME: 53 } as const;
/** struct ifinfomsg and struct ifaddrmsg, as they start every link or address message. */
const IFINFOMSG_BYTES = 16;
const IFINDEX_OFFSET = NLMSG.HDRLEN + 4; // ifi_index and ifa_index sit at the same offset

const E = { EPERM: 1, EINVAL: 22, ENODEV: 19, EOPNOTSUPP: 95 } as const;

/**
 * What a first dump chunk of the kernel holds at most (NLMSG_GOODSIZE on 4 KiB pages):
 * replies are packed into datagrams no larger, so a reader with a page-sized buffer, as
 * glibc's getifaddrs, never sees MSG_TRUNC.
 */
export const DATAGRAM_MAX = 3776;

/** The host's own dump of links or addresses (see native netlinkDump): every message, or -errno. */
export type DumpSource = (type: number, family: number, extMask: number) => Buffer | number;

const align = (n: number): number => (n + 3) & ~3;

interface Message {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly bytes: Buffer;
}

/** The messages of a datagram, as netlink_rcv_skb walks them: it stops at the first one
 * whose length is impossible. */
export function messages(buf: Buffer): Message[] {
  const out: Message[] = [];
  for (let at = 0; buf.length - at >= NLMSG.HDRLEN; ) {
    const len = buf.readUInt32LE(at);
    if (len < NLMSG.HDRLEN || len > buf.length - at) break;
    out.push({ type: buf.readUInt16LE(at + 4), flags: buf.readUInt16LE(at + 6), seq: buf.readUInt32LE(at + 8), bytes: buf.subarray(at, at + len) });
    at += align(len);
  }
  return out;
}

/** The attributes after a message's fixed header, by type (the last one of a type wins). */
function attributes(msg: Buffer, fixed: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let at = NLMSG.HDRLEN + align(fixed); msg.length - at >= 4; ) {
    const len = msg.readUInt16LE(at);
    if (len < 4 || len > msg.length - at) break;
    out.set(msg.readUInt16LE(at + 2) & 0x3fff, msg.subarray(at + 4, at + len));
    at += align(len);
  }
  return out;
}

const cString = (b: Buffer | undefined): string | undefined => (b === undefined ? undefined : b.toString("latin1").split("\0")[0]);

function header(len: number, type: number, flags: number, seq: number, port: number): Buffer {
  const h = Buffer.alloc(NLMSG.HDRLEN);
  h.writeUInt32LE(len, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  h.writeUInt32LE(port, 12);
  return h;
}

/** NLMSG_ERROR carrying -errno (0: an acknowledgement) and the request's header only. */
export function errorMessage(req: Message, errno: number, port: number): Buffer {
  const body = Buffer.alloc(4 + NLMSG.HDRLEN);
  body.writeInt32LE(-errno, 0);
  req.bytes.copy(body, 4, 0, NLMSG.HDRLEN);
  return Buffer.concat([header(NLMSG.HDRLEN + body.length, NLMSG.ERROR, NLM_F.CAPPED, req.seq, port), body]);
}

function doneMessage(seq: number, port: number): Buffer {
  return Buffer.concat([header(NLMSG.HDRLEN + 4, NLMSG.DONE, NLM_F.MULTI, seq, port), Buffer.alloc(4)]);
}

/** A host message readdressed to the requester: its sequence number and port. */
function readdress(msg: Buffer, flags: number, seq: number, port: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq, 8);
  out.writeUInt32LE(port, 12);
  return out;
}

/** Packs messages into datagrams of at most DATAGRAM_MAX bytes (a larger one goes alone). */
export function pack(msgs: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer[] = [];
  let size = 0;
  for (const m of msgs) {
    const padded = m.length % 4 === 0 ? m : Buffer.concat([m, Buffer.alloc(align(m.length) - m.length)]);
    if (size > 0 && size + padded.length > DATAGRAM_MAX) {
      out.push(Buffer.concat(cur));
      cur = [];
      size = 0;
    }
    cur.push(padded);
    size += padded.length;
  }
  if (cur.length > 0) out.push(Buffer.concat(cur));
  return out;
}

/** The visible messages of a host dump (links or addresses), by interface index. */
function visibleMessages(dump: Buffer, view: InterfaceView): Buffer[] {
  return messages(dump)
    .filter((m) => m.bytes.length >= IFINDEX_OFFSET + 4 && view.byIndex.has(m.bytes.readInt32LE(IFINDEX_OFFSET)))
    .map((m) => m.bytes);
}

/** The datagrams answering one request message. */
function answerOne(req: Message, port: number, view: InterfaceView, dump: DumpSource): Buffer[] {
  const ack = (req.flags & NLM_F.ACK) !== 0;
  // Only requests are handled; control messages (NOOP, DONE...) are skipped. Both are
  // acknowledged when asked, as netlink_rcv_skb does.
  if ((req.flags & NLM_F.REQUEST) === 0 || req.type < NLMSG.MIN_TYPE) return ack ? [errorMessage(req, 0, port)] : [];
  const family = req.bytes.length > NLMSG.HDRLEN ? req.bytes[NLMSG.HDRLEN]! : 0;
  const isDump = (req.flags & NLM_F.DUMP) === NLM_F.DUMP;
  if ((req.type === RTM.GETLINK || req.type === RTM.GETADDR) && isDump) {
    const ext = req.type === RTM.GETLINK ? attributes(req.bytes, IFINFOMSG_BYTES).get(IFLA.EXT_MASK) : undefined;
    const got = dump(req.type, family, ext !== undefined && ext.length >= 4 ? ext.readUInt32LE(0) : 0);
    if (typeof got === "number") return [errorMessage(req, -got, port)];
    const parts = visibleMessages(got, view).map((m) => readdress(m, NLM_F.MULTI, req.seq, port));
    return pack([...parts, doneMessage(req.seq, port)]);
  }
  if (req.type === RTM.GETLINK) return getLink(req, port, view, dump, ack);
  // Anything else: what the kernel says to a caller without CAP_NET_ADMIN for changes
  // (NEW, DEL, SET: EPERM), and "not supported" for the lists this view does not give
  // (routes, neighbours, rules, single addresses...).
  const kind = (req.type - RTM.BASE) & 3;
  return [errorMessage(req, kind === 2 ? E.EOPNOTSUPP : E.EPERM, port)];
}

/** RTM_GETLINK without NLM_F_DUMP: one link by index or by name, if visible. */
function getLink(req: Message, port: number, view: InterfaceView, dump: DumpSource, ack: boolean): Buffer[] {
  if (req.bytes.length < NLMSG.HDRLEN + IFINFOMSG_BYTES) return [errorMessage(req, E.EINVAL, port)];
  const index = req.bytes.readInt32LE(IFINDEX_OFFSET);
  const attrs = attributes(req.bytes, IFINFOMSG_BYTES);
  const name = cString(attrs.get(IFLA.IFNAME)) ?? cString(attrs.get(IFLA.ALT_IFNAME));
  if (index <= 0 && name === undefined) return [errorMessage(req, E.EINVAL, port)];
  const ext = attrs.get(IFLA.EXT_MASK);
  const got = dump(RTM.GETLINK, 0, ext !== undefined && ext.length >= 4 ? ext.readUInt32LE(0) : 0);
  if (typeof got === "number") return [errorMessage(req, -got, port)];
  const found = visibleMessages(got, view).find((m) =>
    index > 0 ? m.readInt32LE(IFINDEX_OFFSET) === index : cString(attributes(m, IFINFOMSG_BYTES).get(IFLA.IFNAME)) === name,
  );
  if (found === undefined) return [errorMessage(req, E.ENODEV, port)];
  const out = [readdress(found, 0, req.seq, port)];
  if (ack) out.push(errorMessage(req, 0, port));
  return out;
}

/** Requests answered per datagram: each dump costs the supervisor a dump of its own on
 * the event loop, so one datagram of 1 MiB cannot buy thousands of them. */
export const MAX_REQUESTS = 64;

/** Every datagram answering the requests of one datagram the sandbox sent, in order
 * (the first MAX_REQUESTS; the rest go unanswered, as on a receive overrun). */
export function answerRequests(datagram: Buffer, port: number, view: InterfaceView, dump: DumpSource): Buffer[] {
  return messages(datagram)
    .slice(0, MAX_REQUESTS)
    .flatMap((m) => answerOne(m, port, view, dump));
}
