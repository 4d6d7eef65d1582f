// Reads what the filtering proxy needs from a TLS ClientHello without decrypting anything:
// the server name (SNI) and whether Encrypted Client Hello is offered. Pure; the bytes may
// arrive in pieces and span several records.

/** The outcome of looking at the bytes received so far. */
export type HelloResult =
  | { readonly kind: "more" }
  | { readonly kind: "hello"; readonly sni: string | null; readonly ech: boolean }
  | { readonly kind: "bad"; readonly why: string };

const RECORD_HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
/** encrypted_client_hello (draft-ietf-tls-esni-18 and later). */
const EXT_ECH = 0xfe0d;
/** The older encrypted_server_name extension (draft 02-04). */
const EXT_ESNI = 0xffce;
/** No ClientHello is longer (a post-quantum key share is about 1.2 KB). */
export const HELLO_MAX = 64 * 1024;

/** Whether the first byte of a stream is a TLS handshake record. */
export function looksLikeTls(first: number): boolean {
  return first === RECORD_HANDSHAKE;
}

/** The handshake bytes of the consecutive handshake records in `buf`, and whether the
 * last record was complete. */
function handshakeBytes(buf: Buffer): { data: Buffer; bad?: string } {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 5 <= buf.length) {
    if (buf[off] !== RECORD_HANDSHAKE) return { data: Buffer.concat(parts), bad: "a record other than a handshake before the ClientHello ended" };
    const len = buf.readUInt16BE(off + 3);
    if (len === 0) return { data: Buffer.concat(parts), bad: "an empty handshake record" };
    if (off + 5 + len > buf.length) break;
    parts.push(buf.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return { data: Buffer.concat(parts) };
}

/** Parses the ClientHello at the start of a TLS stream. */
export function parseClientHello(buf: Buffer): HelloResult {
  if (buf.length === 0) return { kind: "more" };
  if (buf[0] !== RECORD_HANDSHAKE) return { kind: "bad", why: "not a TLS handshake" };
  const { data, bad } = handshakeBytes(buf);
  if (bad !== undefined) return { kind: "bad", why: bad };
  if (data.length < 4) return buf.length >= HELLO_MAX ? { kind: "bad", why: "ClientHello too long" } : { kind: "more" };
  if (data[0] !== CLIENT_HELLO) return { kind: "bad", why: "the first handshake message is not a ClientHello" };
  const len = data.readUIntBE(1, 3);
  if (len > HELLO_MAX) return { kind: "bad", why: "ClientHello too long" };
  if (data.length < 4 + len) return buf.length >= HELLO_MAX + 5 ? { kind: "bad", why: "ClientHello too long" } : { kind: "more" };
  try {
    return readHello(data.subarray(4, 4 + len));
  } catch {
    return { kind: "bad", why: "a malformed ClientHello" };
  }
}

/** Bounds-checked reader: any read past the end throws (caught above as malformed). */
class Reader {
  constructor(private readonly b: Buffer, public off = 0) {}
  u8(): number {
    if (this.off + 1 > this.b.length) throw new RangeError("short");
    return this.b[this.off++]!;
  }
  u16(): number {
    if (this.off + 2 > this.b.length) throw new RangeError("short");
    const v = this.b.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.off + n > this.b.length) throw new RangeError("short");
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  get left(): number {
    return this.b.length - this.off;
  }
}

function readHello(body: Buffer): HelloResult {
  const r = new Reader(body);
  r.bytes(2 + 32); // legacy_version, random
  r.bytes(r.u8()); // legacy_session_id
  r.bytes(r.u16()); // cipher_suites
  r.bytes(r.u8()); // legacy_compression_methods
  if (r.left === 0) return { kind: "hello", sni: null, ech: false };
  const ext = new Reader(r.bytes(r.u16()));
  let sni: string | null = null;
  let ech = false;
  const seen = new Set<number>();
  while (ext.left > 0) {
    const type = ext.u16();
    const data = ext.bytes(ext.u16());
    // A repeated extension is illegal (RFC 8446 4.2) and would let two readers disagree.
    if (seen.has(type)) return { kind: "bad", why: `extension ${type} appears twice` };
    seen.add(type);
    if (type === EXT_ECH || type === EXT_ESNI) ech = true;
    if (type === EXT_SERVER_NAME) {
      const names = serverNames(data);
      if ("bad" in names) return { kind: "bad", why: names.bad };
      sni = names.host;
    }
  }
  return { kind: "hello", sni, ech };
}

/** The one host_name of a server_name extension (RFC 6066 3), or why it is refused. */
function serverNames(data: Buffer): { host: string | null } | { bad: string } {
  const r = new Reader(data);
  const list = new Reader(r.bytes(r.u16()));
  let host: string | null = null;
  while (list.left > 0) {
    const type = list.u8();
    const name = list.bytes(list.u16());
    if (type !== 0) continue;
    if (host !== null) return { bad: "more than one host_name in the server_name extension" };
    host = name.toString("latin1");
  }
  return { host };
}
