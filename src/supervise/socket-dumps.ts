// The host's socket tables, read with NETLINK_SOCK_DIAG dumps (which need no privilege) in
// parts between which the memory watchdog yields, and indexed by inode as they come: what
// kernel-buffers.ts charges a sandbox's sockets from. One dump serves every look of every
// sandbox of this process for a period.

import { closeSync } from "node:fs";
import { native } from "../confine/native.js";
import { InodeIndex } from "./inode-index.js";

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const TCP_LISTEN = 10;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export interface UnixSock {
  type: number;
  state: number;
  /** The peer's inode; 0 when there is none or it has been closed. */
  peer: number;
  /** Bytes queued to it (a datagram socket: the first datagram's only). */
  rq: number;
  /** What it has sent that is still queued somewhere, in bytes with overhead. */
  wmem: number;
  vfs: number;
  named: boolean;
  /** A listener's connections not yet accepted (inodes). */
  pending: number[];
}

/** A dump part's bytes as 32-bit words (copied when they do not start 4-aligned). */
function wordsOf(buf: Buffer): Uint32Array {
  return buf.byteOffset % 4 === 0 ? new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2) : new Uint32Array(Uint8Array.from(buf).buffer);
}

/** The peer of unix socket `ino` in a part of a unix dump (records as UnixTable reads
 * them), 0 when it is not there or has none: one socket's lookup, without a table. */
export function peerIn(buf: Buffer, ino: number): number {
  const w = wordsOf(buf);
  for (let i = 0; i + 9 <= w.length; i += 9 + w[i + 8]!) if (w[i] === ino) return w[i + 3]!;
  return 0;
}

/**
 * A dump of the host's unix sockets, indexed as its parts come: by inode, and the reverse
 * indexes (which socket points at a socket, which socket a path is). Only the sockets a
 * sandbox holds are looked at, so records are read out of the dump's words when asked for:
 * the host may have thousands of sockets, and fifty sandboxes share one dump per period.
 */
export class UnixTable {
  /** The dump's parts, as they came (PartsDump, below), and the word each starts
   * at when they are counted one after the other. */
  private readonly parts: Uint32Array[] = [];
  private readonly starts: number[] = [];
  private words = 0;
  /** inode -> its record: the word it starts at, counted over the parts in turn. The three
   * indexes are built as the parts come, in typed arrays (inode-index.ts): built on first
   * use they took one step over the whole table (about 30 ms for 128,000 sockets), and as
   * Maps their rehashes took up to 22 ms of one part's step. Not sized ahead from the last
   * dump: a table sized for 128,000 sockets is 4 MB, which the first part, its entries
   * hashed all over it, then touched at once (12-14 ms where memory is fresh); grown, its
   * memory is touched as the dump comes. */
  private readonly at = new InodeIndex();
  /** peer -> the first socket in the dump whose peer it is (a pending connection's client). */
  private readonly senders = new InodeIndex();
  /** socket file inode -> the socket bound to it. */
  private readonly paths = new InodeIndex();
  /** The dump failed (no unix_diag on this host). */
  failed = false;

  /** Indexes one part of the dump (records never straddle parts: the kernel sends whole
   * messages). */
  addPart(buf: Buffer): void {
    const w = wordsOf(buf);
    const base = this.words;
    this.parts.push(w);
    this.starts.push(base);
    this.words += w.length;
    for (let i = 0; i + 9 <= w.length; i += 9 + w[i + 8]!) {
      const ino = w[i]!;
      if (ino === 0) continue; // (every socket has an inode; an index refuses 0)
      this.at.set(ino, base + i);
      const peer = w[i + 3]!;
      if (peer !== 0) this.senders.set(peer, ino, true);
      if (w[i + 6] !== 0) this.paths.set(w[i + 6]!, ino);
    }
  }

  /** The words of the part holding record `ref` (see `at`), and the record's offset there. */
  private record(ref: number): [Uint32Array, number] {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= ref) lo = mid;
      else hi = mid - 1;
    }
    return [this.parts[lo]!, ref - this.starts[lo]!];
  }

  /** Gives the indexes' memory back for reuse (InodeIndex.release: nothing may read this
   * table any more). */
  release(): void {
    this.at.release();
    this.senders.release();
    this.paths.release();
  }

  has(ino: number): boolean {
    return this.at.has(ino);
  }

  get(ino: number): UnixSock | undefined {
    const ref = this.at.get(ino);
    if (ref === undefined) return undefined;
    const [w, i] = this.record(ref);
    const n = w[i + 8]!;
    return { type: w[i + 1]!, state: w[i + 2]!, peer: w[i + 3]!, rq: w[i + 4]!, wmem: w[i + 5]!, vfs: w[i + 6]!, named: (w[i + 7]! & 1) !== 0, pending: Array.from(w.subarray(i + 9, i + 9 + n)) };
  }

  /** A socket whose peer is `ino` (a pending connection's client), the first in the dump. */
  senderTo(ino: number): number | undefined {
    return this.senders.get(ino);
  }

  /** The socket bound to the socket file of inode `vfs`. */
  byVfs(vfs: number): number | undefined {
    return this.paths.get(vfs);
  }
}

interface InetSock {
  state: number;
  port: number;
  family: number;
  protocol: number;
  bytes: number;
}

export interface InetTable {
  socks: Map<number, InetSock>;
  /** "family/protocol/port" -> bytes of the sockets there with no descriptor yet (a
   * listener's connections not yet accepted) or none any more (orphans). */
  unowned: Map<string, number>;
}

/** Adds one part of an inet dump to the table; an errno (no inet_diag for it) adds
 * nothing to charge. */
function addInet(t: InetTable, { family, protocol }: DumpOf, buf: Buffer | number): void {
  if (typeof buf === "number") return;
  for (let at = 0; at + 24 <= buf.length; at += 24) {
    const ino = buf.readUInt32LE(at);
    const port = buf.readUInt32LE(at + 8);
    // The receive queue, and the send queue (TCP) or what is in flight below (UDP).
    const bytes = buf.readUInt32LE(at + 12) + Math.max(buf.readUInt32LE(at + 16), buf.readUInt32LE(at + 20));
    if (ino !== 0) t.socks.set(ino, { state: buf.readUInt32LE(at + 4), port, family, protocol, bytes });
    else {
      const key = `${family}/${protocol}/${port}`;
      t.unowned.set(key, (t.unowned.get(key) ?? 0) + bytes);
    }
  }
}

// One look serves every sandbox of this process for a period, as processTree does: the
// dumps cost in proportion to the host's sockets.
// `seq` orders dumps and passes (dumps.seq): a socket passed after a dump was taken is not
// in it, and its absence there says nothing. A dump's seq is taken when it starts.
export const dumps = { seq: 0 };

/** Microseconds one part of a dump may take (native diagDumpPart). */
const DUMP_PART_US = 4000;
/** A dump no look has read a part of for this long (every look that read it was abandoned)
 * is begun again. */
const DUMP_STALE_MS = 1000;
/** What a dump lists (native diagDumpStart): every unix socket (AF_UNIX, protocol 0), or
 * every socket of an IP family and protocol. */
interface DumpOf {
  family: number;
  protocol: number;
}
const UNIX_DUMPS: readonly DumpOf[] = [{ family: AF_UNIX, protocol: 0 }];
const INET_DUMPS: readonly DumpOf[] = [AF_INET, AF_INET6].flatMap((family) => [IPPROTO_TCP, IPPROTO_UDP].map((protocol) => ({ family, protocol })));

/** A finished dump, and how many looks hold it (PartsDump.get, release). */
export interface Held<T> {
  at: number;
  seq: number;
  value: T;
  holders: number;
}

function hold<T>(h: Held<T>): Held<T> {
  h.holders++;
  return h;
}

interface DumpRun<T> {
  seq: number;
  /** When a part was last read (a run no look reads any more is begun again). */
  touched: number;
  /** The index in `dumps` of the dump being read. */
  index: number;
  fd: number;
  value: T;
}

/**
 * The host's socket tables by NETLINK_SOCK_DIAG dumps, taken in parts between which the
 * watchdog yields: the tables are as long as the host's processes make them, a sandbox's
 * among them (128,000 unix sockets of a sandbox held the event loop 300 ms in one call).
 * One dump runs at a time and serves every look of every sandbox of this process: a look
 * that finds it running reads its next part.
 */
class PartsDump<T> {
  #cache: Held<T> | undefined;
  #run: DumpRun<T> | undefined;

  /** `dumps`: taken one after the other; `begin` makes the value, `add` adds each part's
   * records to it (or the errno of a dump that failed) as they come; `retire`, if given,
   * is told of a value no look holds any more and no look will be given again (its memory
   * may be reused). */
  constructor(
    private readonly dumps: readonly DumpOf[],
    private readonly begin: () => T,
    private readonly add: (value: T, dump: DumpOf, records: Buffer | number) => void,
    private readonly retire?: (value: T) => void,
  ) {}

  /** The value of a dump finished at most maxAgeMs ago, and the dump's seq; else of the
   * next dump to finish (taken in parts, by this look or another). The caller holds it
   * until it calls release() with it, once and whatever happens (a `finally`): a look
   * abandoned without one keeps it from reuse, never reuses it under the look. */
  *get(maxAgeMs: number): Generator<void, Held<T>> {
    const last = this.#cache;
    if (last !== undefined && Date.now() - last.at <= maxAgeMs) return hold(last);
    for (;;) {
      if (this.#step()) return hold(this.#cache!);
      yield;
      if (this.#cache !== last) return hold(this.#cache!);
    }
  }

  /** A value get() gave is no longer read by its caller. */
  release(held: Held<T>): void {
    held.holders--;
    this.#retireIfFree(held);
  }

  /** Retires a finished dump no look holds, once it is no longer the one get() gives. */
  #retireIfFree(held: Held<T>): void {
    if (held.holders === 0 && held !== this.#cache) this.retire?.(held.value);
  }

  /** Reads one part of the running dump (begun when none runs): true once it is over. */
  #step(): boolean {
    const nat = native();
    let r = this.#run;
    if (r !== undefined && Date.now() - r.touched > DUMP_STALE_MS) {
      if (r.fd >= 0) closeSync(r.fd);
      this.retire?.(r.value); // never given to a look
      r = undefined;
    }
    r ??= this.#run = { seq: ++dumps.seq, touched: 0, index: 0, fd: -1, value: this.begin() };
    r.touched = Date.now();
    const dump = this.dumps[r.index]!;
    if (r.fd < 0) {
      const fd = nat.diagDumpStart(dump.family, dump.protocol);
      if (fd < 0) return this.#next(r, dump, fd);
      r.fd = fd;
    }
    const part = nat.diagDumpPart(r.fd, dump.family, DUMP_PART_US);
    if (typeof part !== "number" && part.readUInt32LE(0) === 0) {
      this.add(r.value, dump, part.subarray(4));
      return false;
    }
    closeSync(r.fd);
    r.fd = -1;
    return this.#next(r, dump, typeof part === "number" ? part : part.subarray(4));
  }

  #next(r: DumpRun<T>, dump: DumpOf, last: Buffer | number): boolean {
    this.add(r.value, dump, last);
    r.index++;
    if (r.index < this.dumps.length) return false;
    this.#run = undefined;
    const replaced = this.#cache;
    this.#cache = { at: Date.now(), seq: r.seq, value: r.value, holders: 0 };
    if (replaced !== undefined) this.#retireIfFree(replaced);
    return true;
  }
}

export const unixDump = new PartsDump<UnixTable>(
  UNIX_DUMPS,
  () => new UnixTable(),
  (t, _dump, records) => (typeof records === "number" ? void (t.failed = true) : t.addPart(records)),
  (t) => t.release(),
);
export const inetDump = new PartsDump(INET_DUMPS, (): InetTable => ({ socks: new Map(), unowned: new Map() }), addInet);
