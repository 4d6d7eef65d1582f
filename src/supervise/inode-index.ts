// Sets and maps of inode numbers in typed arrays (open addressing), for the memory
// watchdog's indexes over socket dumps and descriptor tables: a JavaScript Map or Set of
// 100,000 inodes rehashed in one go, and held the event loop up to 22 ms at a time.

import { native } from "../confine/native.js";

/** Smallest table, in slots. */
const MIN_SLOTS = 1024;
/** Tables of this many slots and more are made of populated memory and kept for reuse. */
const POPULATED_SLOTS = 16384;
/** The most memory kept for reuse (words released by tables no one reads any more). */
const POOL_BYTES = 32 << 20;
/** The pool is emptied once nothing has taken from it for this long: the sockets that
 * made its tables large may be long gone, and their memory with them. */
const POOL_IDLE_MS = 10_000;

/** Large word arrays released by indexes (release()), for the next of the same length. */
const pool: Uint32Array[] = [];
let pooledBytes = 0;
let lastTaken = 0;
let sweeper: NodeJS.Timeout | undefined;

/** Empties the pool when it has been idle POOL_IDLE_MS, else looks again later. */
function sweep(): void {
  sweeper = undefined;
  if (pool.length === 0) return;
  const idle = Date.now() - lastTaken;
  if (idle >= POOL_IDLE_MS) emptyPool();
  else (sweeper = setTimeout(sweep, POOL_IDLE_MS - idle)).unref();
}

/** Lets go of every pooled array (for tests, and once idle). */
export function emptyPool(): void {
  pool.length = 0;
  pooledBytes = 0;
}

/**
 * `slots` zeroed words. A large table's come from the pool, else from memory whose pages
 * are backed already (native/populated.c): slots are written in hashed order, so a table's
 * first few thousand entries touch every page of it, and the first touch of a fresh page
 * costs 9 to 18 us on these VMs. Measured for 1 MB: 3.0 ms to touch fresh ordinary
 * memory, 0.2-0.5 ms to map populated memory and 1.4-1.5 ms to touch it; a pooled array is
 * only cleared. Ordinary memory where the addon cannot serve. (Taking from the pool,
 * found or not, counts as using it: see POOL_IDLE_MS.)
 */
function words(slots: number): Uint32Array {
  if (slots < POPULATED_SLOTS) return new Uint32Array(slots);
  lastTaken = Date.now();
  const i = pool.findIndex((w) => w.length === slots);
  if (i >= 0) {
    const [w] = pool.splice(i, 1);
    pooledBytes -= w!.byteLength;
    return w!.fill(0);
  }
  let buf: ArrayBuffer | undefined;
  try {
    buf = native().populatedBuffer(slots * 4);
  } catch {
    // no addon (a planning-only use): ordinary memory
  }
  return buf === undefined ? new Uint32Array(slots) : new Uint32Array(buf, 0, slots);
}

/** Gives `w` to the pool, when it is large and there is room. */
function giveBack(w: Uint32Array): void {
  if (w.length < POPULATED_SLOTS || pooledBytes + w.byteLength > POOL_BYTES) return;
  pool.push(w);
  pooledBytes += w.byteLength;
  if (sweeper === undefined) (sweeper = setTimeout(sweep, POOL_IDLE_MS)).unref();
}

/** Words in the pool (for tests). */
export function pooledWords(): number {
  return pooledBytes / 4;
}

/** What a released index holds: any use of it throws. */
const RELEASED = new Uint32Array(0);

/**
 * Inode (a non-zero 32-bit number) -> a 32-bit value, or a set of inodes when made without
 * values. Never more than half full: probes are short and a lookup of an absent key ends
 * at the first empty slot. It grows by doubling, every entry placed again in one step
 * (65,536 entries: 2 ms in reused memory, 3.5 in populated, 6 in fresh): not sized ahead,
 * because a table's first entries, hashed all over it, touch every page of it at once,
 * and the first touch of a page is what costs (a table sized for 128,000 sockets: 12-14 ms
 * in one step); grown, its memory is touched as it fills.
 *
 * The hash is not seeded (nor is V8's for the small integers a Map held before): a
 * sandbox cannot choose its inode numbers, only burn them, and to make a key collide in a
 * table of S slots it burns about S of them (262,144 at 128,000 sockets) per key.
 */
export class InodeIndex {
  private keys = words(MIN_SLOTS);
  private values: Uint32Array | undefined;
  /** 32 minus log2 of the slot count: the multiplicative hash keeps the top bits. */
  private shift = 32 - Math.log2(MIN_SLOTS);
  private count = 0;

  /** `withValues`: false for a set (get() then finds nothing, set() throws). */
  constructor(withValues = true) {
    this.values = withValues ? words(MIN_SLOTS) : undefined;
  }

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  /** The slot of `key`, or of the empty slot where it would go. Inodes come in runs of
   * consecutive numbers: Fibonacci hashing spreads them over the table. */
  private slot(key: number): number {
    const mask = this.keys.length - 1;
    if (mask < 0) throw new Error("InodeIndex: used after release()");
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (let probes = 0; probes <= mask; probes++) {
      const k = this.keys[i]!;
      if (k === key || k === 0) return i;
      i = (i + 1) & mask;
    }
    // Cannot happen while at most half the slots are taken; a table given memory that was
    // not cleared would end here rather than loop.
    throw new Error("InodeIndex: no free slot");
  }

  /** The slot `key` is placed at, made when absent: ~slot (negative) when it was there. */
  private place(key: number): number {
    if (key === 0 || key >>> 0 !== key) throw new RangeError(`InodeIndex: key ${key} is not a non-zero 32-bit number`);
    let i = this.slot(key);
    if (this.keys[i] === key) return ~i;
    if (2 * (this.count + 1) > this.keys.length) {
      this.grow();
      i = this.slot(key);
    }
    this.keys[i] = key;
    this.count++;
    return i;
  }

  /** Adds `key` (non-zero); true when it was not there. In an index with values, a new
   * key's value is 0. */
  add(key: number): boolean {
    return this.place(key) >= 0;
  }

  /** Sets `key` (non-zero) to `value`; `onlyIfAbsent` keeps a value already there. */
  set(key: number, value: number, onlyIfAbsent = false): void {
    if (this.values === undefined) throw new TypeError(this.keys === RELEASED ? "InodeIndex: used after release()" : "InodeIndex: set() on a set made without values");
    const i = this.place(key);
    if (i >= 0) this.values[i] = value;
    else if (!onlyIfAbsent) this.values[~i] = value;
  }

  get(key: number): number | undefined {
    const i = this.slot(key);
    return this.keys[i] === key && key !== 0 && this.values !== undefined ? this.values[i] : undefined;
  }

  has(key: number): boolean {
    return key !== 0 && this.keys[this.slot(key)] === key;
  }

  /** Twice the slots, every entry placed again. */
  private grow(): void {
    const { keys, values } = this;
    this.keys = words(keys.length * 2);
    this.values = values === undefined ? undefined : words(keys.length * 2);
    this.shift--;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j]!;
      if (k === 0) continue;
      const i = this.slot(k);
      this.keys[i] = k;
      if (values !== undefined) this.values![i] = values[j]!;
    }
    giveBack(keys);
    if (values !== undefined) giveBack(values);
  }

  /**
   * Gives the index's memory back for reuse by the next index of its size. The caller
   * vouches that nothing reads this index any more: an array reused while a look still
   * read it would charge that look from another table. Any later use throws.
   */
  release(): void {
    if (this.keys === RELEASED) return;
    giveBack(this.keys);
    if (this.values !== undefined) giveBack(this.values);
    this.keys = RELEASED;
    this.values = undefined;
    this.count = 0;
  }
}
