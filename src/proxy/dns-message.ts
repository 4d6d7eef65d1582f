// DNS messages for the sandbox's resolver (DNS over TCP, RFC 1035 4.2.2, which glibc uses
// under `options use-vc`): the question of a query, and the answer the supervisor gives.
// Pure.

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;
export const RCODE_NXDOMAIN = 3;
export const RCODE_FORMERR = 1;
/** The server will not answer (a narrowing of policyFn's since the connection was made). */
export const RCODE_REFUSED = 5;
const TTL = 5;

export interface Question {
  readonly id: number;
  /** Lower-case, without a trailing dot. */
  readonly name: string;
  readonly type: number;
  readonly qclass: number;
  /** The question section as received (echoed in the answer). */
  readonly raw: Buffer;
  readonly rd: boolean;
}

/** The single question of a query, or undefined when the message is not one. */
export function readQuestion(msg: Buffer): Question | undefined {
  if (msg.length < 12) return undefined;
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) !== 0 || ((flags >> 11) & 0xf) !== 0) return undefined; // a response, or not QUERY
  if (msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) break;
    if (len > 63 || off + 1 + len > msg.length) return undefined; // compression has no place in a question
    labels.push(msg.subarray(off + 1, off + 1 + len).toString("latin1").toLowerCase());
    off += 1 + len;
  }
  off += 1;
  if (off + 4 > msg.length) return undefined;
  return {
    id: msg.readUInt16BE(0),
    name: labels.join("."),
    type: msg.readUInt16BE(off),
    qclass: msg.readUInt16BE(off + 2),
    raw: msg.subarray(12, off + 4),
    rd: (flags & 0x0100) !== 0,
  };
}

function header(id: number, rd: boolean, rcode: number, answers: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  // QR, opcode QUERY, RA, the query's RD, the rcode.
  h.writeUInt16BE(0x8000 | (rd ? 0x0100 : 0) | 0x0080 | rcode, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(answers, 6);
  return h;
}

/** An error answer (NXDOMAIN for a name outside the rules). */
export function errorAnswer(q: Question, rcode: number): Buffer {
  return Buffer.concat([header(q.id, q.rd, rcode, 0), q.raw]);
}

/** The longest DNS message over TCP (its length is a 16-bit prefix). */
const MESSAGE_MAX = 65_535;

/** The answer with these addresses (those of the question's type; none: NODATA), as many
 * as one message holds: a name may have more (a zone under a wildcard rule is the
 * sandbox's choice), and a length past 65,535 cannot be sent at all. */
export function addressAnswer(q: Question, addresses: readonly Uint8Array[]): Buffer {
  const want = q.qclass === CLASS_IN && (q.type === TYPE_A || q.type === TYPE_AAAA) ? (q.type === TYPE_A ? 4 : 16) : -1;
  const fit = Math.max(0, Math.floor((MESSAGE_MAX - 12 - q.raw.length) / (12 + Math.max(want, 0))));
  const records = addresses.filter((a) => a.length === want).slice(0, fit).map((a) => {
    const rr = Buffer.alloc(12 + a.length);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(q.type, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(TTL, 6);
    rr.writeUInt16BE(a.length, 10);
    rr.set(a, 12);
    return rr;
  });
  return Buffer.concat([header(q.id, q.rd, 0, records.length), q.raw, ...records]);
}
