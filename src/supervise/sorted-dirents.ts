// deterministicDirs (SPEC 2.1): a directory listed in name order, whatever order the
// filesystem keeps. The supervisor reads the whole directory on every getdents call, sorts
// it, and hands over the entries after the caller's position. Positions are ours: a record's
// d_off (what telldir returns) names the record's name, so a listing resumes after a name,
// not at an index, and entries removed or added meanwhile shift nothing (rm-while-reading
// loops lose no entry).

import { InParts } from "./slices.js";

/** One entry of a listing: its inode number, d_type and name (raw bytes). */
export interface DirEntry {
  /** The inode number's low and high 32 bits: numbers, where a bigint was a heap object
   * per entry (100,000 of them per listing, for the collector to sweep). */
  inoLo: number;
  inoHi: number;
  type: number;
  /** The name as latin1 text: one character per byte, so string order is byte order (and
   * strings compare, hash and copy much faster than Buffers). */
  key: string;
}

/** struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name. */
const NAME64 = 19;
/** struct linux_dirent (x86-64): d_ino, d_off (longs), d_reclen u16, d_name, NUL, pad, d_type last. */
const NAME_LEGACY = 18;
const RECLEN_AT = 16;

/** The records of a getdents64 buffer. A malformed record (a length running past the
 * buffer) ends the walk. */
export function parseDirents64(buf: Buffer): DirEntry[] {
  const out: DirEntry[] = [];
  for (let at = 0; at + NAME64 <= buf.length; ) {
    const reclen = buf.readUInt16LE(at + RECLEN_AT);
    if (reclen < NAME64 || at + reclen > buf.length) break;
    const end = buf.indexOf(0, at + NAME64);
    const nameEnd = end < 0 || end > at + reclen ? at + reclen : end;
    out.push({ inoLo: buf.readUInt32LE(at), inoHi: buf.readUInt32LE(at + 4), type: buf[at + 18]!, key: buf.toString("latin1", at + NAME64, nameEnd) });
    at += reclen;
  }
  return out;
}

/** Name order: "." and ".." first (as `ls -a` shows them), then bytewise, which is the C
 * locale's order and the same on every host; compared on the latin1 keys, whose string
 * order is byte order. */
export function compareEntries(a: DirEntry, b: DirEntry): number {
  const ak = a.key;
  const bk = b.key;
  if (ak === bk) return 0;
  if (ak === "." || (ak === ".." && bk !== ".")) return -1;
  if (bk === "." || bk === "..") return 1;
  return ak < bk ? -1 : 1;
}

/** Positions fit in 30 bits: every filesystem accepts them as a directory offset (FAT and
 * ext4's 32-bit hash mode cap offsets at 2^31), and 0 stays the start. */
const COOKIE_MASK = 0x3fffffff;

/** The position just after a name (its latin1 key): FNV-1a of its bytes, never 0. */
export function cookieOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return (h & COOKIE_MASK) || 1;
}

/** How many names of recent batch ends are remembered, to resume after a name that has
 * since been deleted (the hash alone then finds nothing). */
const REMEMBERED = 16384;
/** Directories whose sorted listing is kept for the rest of a listing. */
const SNAPSHOTS = 64;
/** What the kept listings may hold in all, counted as their names' length plus 64 bytes an
 * entry (the object and its inode number). The names are the sandbox's: 64 directories of
 * 40,000 hard links with 200-byte names, listed once each, held about 13 MB each in the
 * supervising process for as long as the sandbox ran. Past the budget the oldest listings
 * are dropped; a later batch of theirs reads the directory again. */
export const SNAPSHOT_BYTES = 32 * 1024 * 1024;
const ENTRY_BYTES = 64;

/** The bytes a listing counts for against SNAPSHOT_BYTES. */
export function listingBytes(entries: readonly DirEntry[]): number {
  let n = 0;
  for (const e of entries) n += e.key.length + ENTRY_BYTES;
  return n;
}

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
  readonly #snapshots = new Map<string, { entries: readonly DirEntry[]; bytes: number; stamp: string | undefined }>();
  #bytes = 0;

  /**
   * The entries a listing continues with (position > 0): those of the directory as it was
   * read at the latest listing from its start. POSIX leaves it unspecified whether entries
   * added or removed after opendir() or rewinddir() show up, so the snapshot is a valid
   * answer, and reading and sorting the whole directory again for every batch (n^2/b) is
   * saved. A listing from the start always reads the directory afresh.
   */
  snapshot(dir: string): readonly DirEntry[] | undefined {
    return this.#snapshots.get(dir)?.entries;
  }

  /**
   * The listing kept for a listing from the start (position 0), when the directory's stamp
   * (see procfs-list.ts dirStamp) is the one it had when that listing was read: no entry
   * was added, removed or renamed since. A loop of rewinds and reads of a directory of
   * 100,000 names read and sorted it whole every time (490 ms of the event loop each).
   */
  unchangedSnapshot(dir: string, stamp: string): readonly DirEntry[] | undefined {
    const kept = this.#snapshots.get(dir);
    return kept !== undefined && kept.stamp === stamp ? kept.entries : undefined;
  }

  keepSnapshot(dir: string, sorted: readonly DirEntry[], stamp?: string): void {
    this.#drop(dir);
    const bytes = listingBytes(sorted);
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
  resumeAt(dir: string, sorted: readonly DirEntry[], pos: bigint): number | undefined {
    if (pos <= 0n) return 0;
    if (pos > BigInt(COOKIE_MASK)) return undefined;
    const cookie = Number(pos);
    const name = this.#names.get(`${dir}:${cookie}`);
    if (name !== undefined) {
      // After the remembered name, whether or not it still exists.
      let lo = 0;
      let hi = sorted.length;
      const probe = { inoLo: 0, inoHi: 0, type: 0, key: name };
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareEntries(sorted[mid]!, probe) <= 0) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }
    const at = sorted.findIndex((e) => cookieOf(e.key) === cookie);
    return at < 0 ? undefined : at + 1;
  }
}

const align8 = (n: number): number => (n + 7) & ~7;

/** The size of one record in the caller's format. */
function recordSize(e: DirEntry, legacy: boolean): number {
  return legacy ? align8(NAME_LEGACY + e.key.length + 2) : align8(NAME64 + e.key.length + 1);
}

/**
 * Records for sorted[from...] that fit in `count` bytes, in getdents64's format or the
 * legacy getdents's, each with its name's cookie as d_off. `taken` 0 with entries left:
 * the buffer holds not even one (the kernel's EINVAL).
 */
export function encodeFrom(sorted: readonly DirEntry[], from: number, count: number, legacy: boolean): { bytes: Buffer; taken: number } {
  let size = 0;
  let end = from;
  while (end < sorted.length && size + recordSize(sorted[end]!, legacy) <= count) size += recordSize(sorted[end++]!, legacy);
  const bytes = Buffer.alloc(size);
  let at = 0;
  for (let i = from; i < end; i++) {
    const e = sorted[i]!;
    const reclen = recordSize(e, legacy);
    bytes.writeUInt32LE(e.inoLo, at);
    bytes.writeUInt32LE(e.inoHi, at + 4);
    bytes.writeUInt32LE(cookieOf(e.key), at + 8); // d_off: the cookie, below 2^30 (high half 0)
    bytes.writeUInt16LE(reclen, at + RECLEN_AT);
    if (legacy) {
      bytes.write(e.key, at + NAME_LEGACY, "latin1");
      bytes[at + reclen - 1] = e.type;
    } else {
      bytes[at + 18] = e.type;
      bytes.write(e.key, at + NAME64, "latin1");
    }
    at += reclen;
  }
  return { bytes, taken: end - from };
}
