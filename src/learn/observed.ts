// What a learning run saw (sandlock learn): every path opened, executed or changed, every
// IP destination and bound port, the names looked up, the processes started. Filled by
// the recorder (supervise/handlers/learn.ts) and the network handlers' observations.

export type FileAccess = "read" | "write" | "exec" | "list";

export interface Destination {
  readonly protocol: string;
  readonly address: string;
  readonly port: number;
}

/** How many entries of each kind are kept: a program that opens millions of files must
 * not take the supervisor's memory with it. Past it, the rest are counted as dropped. */
export const MAX_ENTRIES = 200_000;
/** And the bytes of the paths kept: a path may be 4 KiB long, and 200,000 such held
 * about 0.8 GB of the supervisor's heap (an audit: 848 MB after a collection). */
export const MAX_PATH_BYTES = 64 << 20;

export class Observed {
  /** Absolute paths (lexically resolved for the calling thread) and how they were used. */
  readonly files = new Map<string, Set<FileAccess>>();
  /** Programs executed (the path given to execve), with how many times. */
  readonly execs = new Map<string, number>();
  readonly destinations = new Map<string, Destination>();
  /** TCP and UDP ports bound (0: an ephemeral port, which needs no rule). */
  readonly binds = new Set<number>();
  /** Names the sandbox asked DNS servers about (from the questions it sent). */
  readonly names = new Set<string>();
  /** Processes started (forks and clones that make a process). */
  processes = 0;
  /** Entries not kept because a table was full. */
  dropped = 0;
  /** Bytes (UTF-16 code units) of the paths in `files`. */
  private pathBytes = 0;

  file(path: string, access: FileAccess): void {
    const seen = this.files.get(path);
    if (seen !== undefined) {
      seen.add(access);
      return;
    }
    if (this.files.size >= MAX_ENTRIES || this.pathBytes + path.length > MAX_PATH_BYTES) {
      this.dropped++;
      return;
    }
    this.pathBytes += path.length;
    this.files.set(path, new Set([access]));
  }

  exec(path: string): void {
    this.file(path, "exec");
    // (kept only with its file entry: the same string, counted there)
    if (this.execs.has(path) || (this.execs.size < MAX_ENTRIES && this.files.has(path))) this.execs.set(path, (this.execs.get(path) ?? 0) + 1);
  }

  destination(d: Destination): void {
    const key = `${d.protocol} ${d.address} ${d.port}`;
    if (this.destinations.has(key)) return;
    if (this.destinations.size >= MAX_ENTRIES) this.dropped++;
    else this.destinations.set(key, d);
  }

  name(name: string): void {
    if (this.names.size < MAX_ENTRIES) this.names.add(name.toLowerCase());
  }
}

/**
 * The name asked in a DNS query (RFC 1035 section 4.1: a 12-byte header, then the question's
 * labels), or undefined when `data` is not a standard query with one question. Strict on
 * purpose: any UDP payload is offered, and only a well-formed question counts.
 */
export function dnsQuestion(data: Buffer): string | undefined {
  if (data.length < 17) return undefined;
  const flags = data.readUInt16BE(2);
  // QR = 0 (a query), opcode 0 (standard query); one question, no answers.
  if ((flags & 0x8000) !== 0 || ((flags >> 11) & 0xf) !== 0) return undefined;
  if (data.readUInt16BE(4) !== 1 || data.readUInt16BE(6) !== 0) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= data.length) return undefined;
    const len = data[at]!;
    at++;
    if (len === 0) break;
    // Compression pointers (0xC0) never appear in a question name sent by a resolver.
    if (len > 63 || at + len > data.length) return undefined;
    const label = data.toString("latin1", at, at + len);
    if (!/^[A-Za-z0-9_-]+$/.test(label)) return undefined;
    labels.push(label);
    at += len;
  }
  // QTYPE and QCLASS follow.
  if (labels.length === 0 || at + 4 > data.length) return undefined;
  const name = labels.join(".");
  return name.length <= 253 ? name : undefined;
}
