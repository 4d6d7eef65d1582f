// deterministicDirs (SPEC 2.1): a directory listed in name order, whatever order the
// filesystem keeps. The supervisor reads the whole directory on every getdents call, sorts
// it, and hands over the entries after the caller's position. Positions are ours: a record's
// d_off (what telldir returns) names the record's name, so a listing resumes after a name,
// not at an index, and entries removed or added meanwhile shift nothing (rm-while-reading
// loops lose no entry).

import { InParts } from "./slices.js";

/** struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name. */
const NAME64 = 19;
/** struct linux_dirent (x86-64): d_ino, d_off (longs), d_reclen u16, d_name, NUL, pad, d_type last. */
const NAME_LEGACY = 18;
const RECLEN_AT = 16;

/**
 * A directory's entries in name order, packed: every name's bytes in one buffer, the
 * rest in typed arrays, and `order`, the entries' indexes sorted by name. A listing of
 * 100,000 names was 200,000 objects (an entry and its name's string), which the young
 * generation's collector copied while they were new: scavenges of 10 to 36 ms, each in
 * one turn of the event loop. These are a few arrays, none of which it copies.
 */
export class Listing {
  constructor(
    /** The names' bytes, one after the other (no NUL). */
    readonly names: Buffer,
    /** Per entry, as read: where its name starts in `names` and its length. */
    readonly nameAt: Uint32Array,
    readonly nameLen: Uint16Array,
    /** Its inode number's low and high 32 bits, and its d_type. */
    readonly inoLo: Uint32Array,
    readonly inoHi: Uint32Array,
    readonly type: Uint8Array,
    /** The entries' indexes in name order. */
    readonly order: Uint32Array,
  ) {}

  get length(): number {
    return this.order.length;
  }

  /** The name of the entry at `i` in name order, as latin1 text (one character a byte). */
  key(i: number): string {
    const e = this.order[i]!;
    return this.names.toString("latin1", this.nameAt[e]!, this.nameAt[e]! + this.nameLen[e]!);
  }

  /** Memory the listing holds, in bytes (its arrays' whole size, room to grow included). */
  get bytes(): number {
    return LISTING_BYTES + this.names.length + this.nameAt.byteLength + this.nameLen.byteLength + this.inoLo.byteLength + this.inoHi.byteLength + this.type.byteLength + this.order.byteLength;
  }
}

/** What a listing holds besides its arrays (its objects), counted against its budget. */
const LISTING_BYTES = 1024;

/** 0 for ".", 1 for "..", 2 for any other name (name order puts those two first). */
function dotRank(names: Uint8Array, at: number, len: number): number {
  if (len > 2 || names[at] !== 0x2e) return 2;
  return len === 1 ? 0 : names[at + 1] === 0x2e ? 1 : 2;
}

/**
 * A name's first four bytes as a big-endian number, the missing ones 0 (a name holds no
 * NUL, so a shorter name orders first, as bytewise order has it); 0 for "." and 1 for
 * "..", which no other name can have (its first byte is not 0). Two names in name order
 * have their keys in order, and most comparisons end there.
 */
function headOf(src: Uint8Array, at: number, len: number): number {
  const rank = dotRank(src, at, len);
  if (rank !== 2) return rank;
  return ((src[at]! << 24) | ((len > 1 ? src[at + 1]! : 0) << 16) | ((len > 2 ? src[at + 2]! : 0) << 8) | (len > 3 ? src[at + 3]! : 0)) >>> 0;
}

/**
 * A listing as it is read: entries appended from getdents64 records (addRecords) into
 * arrays that double as they fill, compared by index (compare), and ended with their order
 * (finish).
 */
export class ListingBuilder {
  #names = Buffer.allocUnsafe(16384);
  #used = 0;
  #nameAt = new Uint32Array(256);
  #nameLen = new Uint16Array(256);
  #head = new Uint32Array(256);
  #inoLo = new Uint32Array(256);
  #inoHi = new Uint32Array(256);
  #type = new Uint8Array(256);
  #n = 0;

  /** Entries added so far. */
  get length(): number {
    return this.#n;
  }

  /** Adds one entry, its name the bytes of `src` from `from` to `to`. */
  add(inoLo: number, inoHi: number, type: number, src: Uint8Array, from: number, to: number): void {
    const len = to - from;
    if (this.#n === this.#nameAt.length) this.#grow();
    if (this.#used + len > this.#names.length) {
      const names = Buffer.allocUnsafe(Math.max(this.#names.length * 2, this.#used + len));
      names.set(this.#names.subarray(0, this.#used));
      this.#names = names;
    }
    // Byte by byte: names are short, and a native copy per entry cost more than the loop.
    const names = this.#names;
    const at = this.#used;
    for (let i = 0; i < len; i++) names[at + i] = src[from + i]!;
    const i = this.#n++;
    this.#nameAt[i] = at;
    this.#nameLen[i] = len;
    this.#head[i] = headOf(src, from, len);
    this.#inoLo[i] = inoLo;
    this.#inoHi[i] = inoHi;
    this.#type[i] = type;
    this.#used += len;
  }

  #grow(): void {
    const n = this.#nameAt.length * 2;
    const more = <A extends Uint32Array | Uint16Array | Uint8Array>(a: A, b: A): A => (b.set(a), b);
    this.#nameAt = more(this.#nameAt, new Uint32Array(n));
    this.#nameLen = more(this.#nameLen, new Uint16Array(n));
    this.#head = more(this.#head, new Uint32Array(n));
    this.#inoLo = more(this.#inoLo, new Uint32Array(n));
    this.#inoHi = more(this.#inoHi, new Uint32Array(n));
    this.#type = more(this.#type, new Uint8Array(n));
  }

  /**
   * Adds the records of a getdents64 buffer whose names `keep` accepts (all without it); a
   * malformed record (a length running past the buffer) ends the walk. Returns the
   * records walked, kept or not.
   */
  addRecords(buf: Buffer, keep?: (name: string) => boolean): number {
    let walked = 0;
    for (let at = 0; at + NAME64 <= buf.length; walked++) {
      const reclen = buf[at + RECLEN_AT]! | (buf[at + RECLEN_AT + 1]! << 8);
      if (reclen < NAME64 || at + reclen > buf.length) break;
      let nameEnd = at + NAME64;
      while (nameEnd < at + reclen && buf[nameEnd] !== 0) nameEnd++;
      if (keep === undefined || keep(buf.toString("latin1", at + NAME64, nameEnd))) {
        this.add(buf.readUInt32LE(at), buf.readUInt32LE(at + 4), buf[at + 18]!, buf, at + NAME64, nameEnd);
      }
      at += reclen;
    }
    return walked;
  }

  /**
   * Name order of entries x and y: "." and ".." first (as `ls -a` shows them), then
   * bytewise, which is the C locale's order and the same on every host.
   */
  compare(x: number, y: number): number {
    const hx = this.#head[x]!;
    const hy = this.#head[y]!;
    if (hx !== hy) return hx < hy ? -1 : 1;
    if (hx < 2) return 0; // both ".", or both ".."
    // The same first four bytes (or the same shorter name): the rest decides.
    const names = this.#names;
    return compareBytes(names, this.#nameAt[x]!, this.#nameLen[x]!, names, this.#nameAt[y]!, this.#nameLen[y]!, 4);
  }

  /** The indexes of the entries from `from` on, sorted by name. */
  sorted(from = 0): Uint32Array {
    const run = new Uint32Array(this.#n - from);
    for (let i = 0; i < run.length; i++) run[i] = from + i;
    return run.sort((x, y) => this.compare(x, y));
  }

  /** The listing, `order` its entries' indexes in name order. */
  finish(order: Uint32Array): Listing {
    return new Listing(this.#names, this.#nameAt, this.#nameLen, this.#inoLo, this.#inoHi, this.#type, order);
  }
}

/** A listing of every entry of `buf` (getdents64 records), sorted in one go. */
export function listingOf(buf: Buffer): Listing {
  const b = new ListingBuilder();
  b.addRecords(buf);
  return b.finish(b.sorted());
}

/** Bytewise order of two names, `a` at `at` in `x` and `b` at `bt` in `y`, their first
 * `from` bytes known equal. */
function compareBytes(x: Uint8Array, at: number, al: number, y: Uint8Array, bt: number, bl: number, from: number): number {
  const n = al < bl ? al : bl;
  for (let i = from; i < n; i++) {
    const d = x[at + i]! - y[bt + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

/** How the entry at `i` of `l` in name order orders against the name `key` (its bytes):
 * negative when the entry comes first. */
function compareWithKey(l: Listing, i: number, key: Buffer): number {
  const e = l.order[i]!;
  const a = l.nameAt[e]!;
  const al = l.nameLen[e]!;
  const ra = dotRank(l.names, a, al);
  const rb = dotRank(key, 0, key.length);
  if (ra !== 2 || rb !== 2) return ra - rb;
  return compareBytes(l.names, a, al, key, 0, key.length, 0);
}

/** Positions fit in 30 bits: every filesystem accepts them as a directory offset (FAT and
 * ext4's 32-bit hash mode cap offsets at 2^31), and 0 stays the start. */
const COOKIE_MASK = 0x3fffffff;

/** The position just after a name, its bytes `from` to `to` of `bytes`: FNV-1a of them,
 * never 0. */
function cookieOfBytes(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return (h & COOKIE_MASK) || 1;
}

/** The position just after a name given as latin1 text (a character a byte). */
export function cookieOf(key: string): number {
  const bytes = Buffer.from(key, "latin1");
  return cookieOfBytes(bytes, 0, bytes.length);
}

/** cookieOf the name of entry `e` (as read, not in order) of `l`. */
function entryCookie(l: Listing, e: number): number {
  return cookieOfBytes(l.names, l.nameAt[e]!, l.nameAt[e]! + l.nameLen[e]!);
}

/** How many names of recent batch ends are remembered, to resume after a name that has
 * since been deleted (the hash alone then finds nothing). */
const REMEMBERED = 16384;
/** Directories whose sorted listing is kept for the rest of a listing. */
const SNAPSHOTS = 64;
/** What the kept listings may hold in all (Listing.bytes). The names are the sandbox's: 64
 * directories of 40,000 hard links with 200-byte names, listed once each, held about 13
 * MB each in the supervising process for as long as the sandbox ran. Past the budget the
 * oldest listings are dropped; a later batch of theirs reads the directory again. */
export const SNAPSHOT_BYTES = 32 * 1024 * 1024;

/**
 * Where a listing resumes, remembered across calls. A batch ends on a name whose cookie is
 * the file's new position; it is kept (most recent REMEMBERED), so resuming after it works
 * even once the entry is gone. Any other record's cookie (from telldir) is found by hashing
 * the current entries.
 */
export class SortedPositions {
  /** The sandbox's listings read in parts (handlers/procfs-list.ts): each holds two
   * descriptors (the caller's duplicate, the supervisor's own description of the
   * directory) and what it has read. */
  readonly parts = new InParts();
  /** Keyed by the directory ("dev:ino") and the cookie: a cookie two directories share
   * never sends one listing to the other's name. */
  readonly #names = new Map<string, string>();
  /** The listing each directory gave when it was last listed from its start, and its size. */
  readonly #snapshots = new Map<string, { entries: Listing; bytes: number; stamp: string | undefined }>();
  #bytes = 0;

  /**
   * The entries a listing continues with (position > 0): those of the directory as it was
   * read at the latest listing from its start. POSIX leaves it unspecified whether entries
   * added or removed after opendir() or rewinddir() show up, so the snapshot is a valid
   * answer, and reading and sorting the whole directory again for every batch (n^2/b) is
   * saved. A listing from the start always reads the directory afresh.
   */
  snapshot(dir: string): Listing | undefined {
    return this.#snapshots.get(dir)?.entries;
  }

  /**
   * The listing kept for a listing from the start (position 0), when the directory's stamp
   * (see procfs-list.ts dirStamp) is the one it had when that listing was read: no entry
   * was added, removed or renamed since. A loop of rewinds and reads of a directory of
   * 100,000 names read and sorted it whole every time (490 ms of the event loop each).
   */
  unchangedSnapshot(dir: string, stamp: string): Listing | undefined {
    const kept = this.#snapshots.get(dir);
    return kept !== undefined && kept.stamp === stamp ? kept.entries : undefined;
  }

  keepSnapshot(dir: string, sorted: Listing, stamp?: string): void {
    this.#drop(dir);
    const bytes = sorted.bytes;
    // One listing above the whole budget is not kept: its batches read it again.
    if (bytes > SNAPSHOT_BYTES) return;
    this.#snapshots.set(dir, { entries: sorted, bytes, stamp });
    this.#bytes += bytes;
    while (this.#snapshots.size > SNAPSHOTS || this.#bytes > SNAPSHOT_BYTES) this.#drop(this.#snapshots.keys().next().value!);
  }

  /** What the kept listings hold, as counted against SNAPSHOT_BYTES. */
  get snapshotBytes(): number {
    return this.#bytes;
  }

  #drop(dir: string): void {
    const kept = this.#snapshots.get(dir);
    if (kept === undefined) return;
    this.#snapshots.delete(dir);
    this.#bytes -= kept.bytes;
  }

  remember(dir: string, cookie: number, name: string): void {
    const key = `${dir}:${cookie}`;
    this.#names.delete(key);
    this.#names.set(key, name);
    if (this.#names.size > REMEMBERED) this.#names.delete(this.#names.keys().next().value!);
  }

  /** The index in `sorted` to resume at for position `pos`; undefined when the position
   * names nothing known (an entry deleted since, its cookie long forgotten). */
  resumeAt(dir: string, sorted: Listing, pos: bigint): number | undefined {
    if (pos <= 0n) return 0;
    if (pos > BigInt(COOKIE_MASK)) return undefined;
    const cookie = Number(pos);
    const name = this.#names.get(`${dir}:${cookie}`);
    if (name !== undefined) {
      // After the remembered name, whether or not it still exists.
      let lo = 0;
      let hi = sorted.length;
      const key = Buffer.from(name, "latin1");
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareWithKey(sorted, mid, key) <= 0) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }
    for (let i = 0; i < sorted.length; i++) if (entryCookie(sorted, sorted.order[i]!) === cookie) return i + 1;
    return undefined;
  }
}

const align8 = (n: number): number => (n + 7) & ~7;

/** The size of one record, of a name of `len` bytes, in the caller's format. */
function recordSize(len: number, legacy: boolean): number {
  return legacy ? align8(NAME_LEGACY + len + 2) : align8(NAME64 + len + 1);
}

/**
 * Records for the entries of `sorted` from `from` on (in name order) that fit in `count`
 * bytes, in getdents64's format or the legacy getdents's, each with its name's cookie as
 * d_off. `taken` 0 with entries left: the buffer holds not even one (the kernel's EINVAL).
 */
export function encodeFrom(sorted: Listing, from: number, count: number, legacy: boolean): { bytes: Buffer; taken: number } {
  const { order, nameLen, nameAt, names } = sorted;
  let size = 0;
  let end = from;
  while (end < sorted.length && size + recordSize(nameLen[order[end]!]!, legacy) <= count) size += recordSize(nameLen[order[end++]!]!, legacy);
  const bytes = Buffer.alloc(size);
  let at = 0;
  for (let i = from; i < end; i++) {
    const e = order[i]!;
    const len = nameLen[e]!;
    const reclen = recordSize(len, legacy);
    bytes.writeUInt32LE(sorted.inoLo[e]!, at);
    bytes.writeUInt32LE(sorted.inoHi[e]!, at + 4);
    bytes.writeUInt32LE(entryCookie(sorted, e), at + 8); // d_off: the cookie, below 2^30 (high half 0)
    bytes.writeUInt16LE(reclen, at + RECLEN_AT);
    if (legacy) {
      names.copy(bytes, at + NAME_LEGACY, nameAt[e]!, nameAt[e]! + len);
      bytes[at + reclen - 1] = sorted.type[e]!;
    } else {
      bytes[at + 18] = sorted.type[e]!;
      names.copy(bytes, at + NAME64, nameAt[e]!, nameAt[e]! + len);
    }
    at += reclen;
  }
  return { bytes, taken: end - from };
}
