// The sorted listing's pieces: name order, record encoding in both getdents formats (read
// back by the same parser the supervisor uses), and where a listing resumes after entries
// come and go.

import assert from "node:assert/strict";
import { test } from "node:test";
import { cookieOf, encodeFrom, Listing, ListingBuilder, listingOf, SNAPSHOT_BYTES, SortedPositions } from "../../src/supervise/sorted-dirents.js";

/** An entry: its name (latin1 text, a character a byte), inode number and d_type. */
type Entry = [name: string, ino?: bigint, type?: number];

/** A listing of `entries`, sorted as the supervisor sorts. */
function listing(entries: readonly (Entry | string)[]): Listing {
  const b = new ListingBuilder();
  for (const e of entries) {
    const [name, ino = 7n, type = 8] = typeof e === "string" ? [e] : e;
    const bytes = Buffer.from(name, "latin1");
    b.add(Number(ino & 0xffffffffn), Number(ino >> 32n), type, bytes, 0, bytes.length);
  }
  return b.finish(b.sorted());
}
const names = (l: Listing): string[] => Array.from({ length: l.length }, (_, i) => l.key(i));
/** The entries of `l` in order: name, inode number, d_type. */
const entries = (l: Listing): [string, bigint, number][] =>
  Array.from({ length: l.length }, (_, i) => {
    const e = l.order[i]!;
    return [l.key(i), BigInt(l.inoLo[e]!) + (BigInt(l.inoHi[e]!) << 32n), l.type[e]!];
  });

test("name order: . and .. first, then bytes (upper case before lower, '-' before '.')", () => {
  const sorted = listing(["b", "..", "-x", "B", ".", ".hidden", "a10", "a9", "\xe9", ".."]);
  assert.deepEqual(names(sorted), [".", "..", "..", "-x", ".hidden", "B", "a10", "a9", "b", "\xe9"]);
});

test("getdents64 records: what is encoded parses back, with each name's cookie as d_off, 8-byte aligned", () => {
  const es = listing([[".", 1n, 4], ["..", 2n, 4], ["a-long-name", 3n, 8], ["d", 2n ** 40n, 10], ["\xff\x01", 4n, 8]]);
  const { bytes, taken } = encodeFrom(es, 0, 4096, false);
  assert.equal(taken, 5);
  assert.equal(bytes.length % 8, 0);
  assert.deepEqual(entries(listingOf(bytes)), entries(es));
  for (let at = 0, i = 0; at < bytes.length; at += bytes.readUInt16LE(at + 16), i++) {
    assert.equal(bytes.readBigInt64LE(at + 8), BigInt(cookieOf(es.key(i))), `d_off of ${JSON.stringify(es.key(i))}: its name's cookie`);
  }
  // d_ino as the kernel lays it out: one little-endian 64-bit number.
  assert.equal(bytes.readBigUInt64LE(0), 1n);
  assert.equal(encodeFrom(listing([["d", 2n ** 40n + 5n]]), 0, 64, false).bytes.readBigUInt64LE(0), 2n ** 40n + 5n);
});

test("legacy getdents records: d_type in the last byte, the name NUL-terminated at offset 18", () => {
  const { bytes, taken } = encodeFrom(listing([["abc", 9n, 4]]), 0, 64, true);
  assert.equal(taken, 1);
  const reclen = bytes.readUInt16LE(16);
  assert.equal(reclen, 24); // 18 + 3 + 2, aligned to 8
  assert.equal(bytes.toString("latin1", 18, 21), "abc");
  assert.equal(bytes[21], 0);
  assert.equal(bytes[reclen - 1], 4);
});

test("a batch takes only the records that fit; a buffer too small for one takes none", () => {
  const es = listing(["aaaa", "bbbb", "cccc"]);
  assert.equal(encodeFrom(es, 0, 24 * 2, false).taken, 2);
  assert.equal(encodeFrom(es, 1, 24 * 2, false).taken, 2);
  assert.equal(encodeFrom(es, 0, 23, false).taken, 0);
});

test("cookies are never 0 and fit in 30 bits", () => {
  for (const n of ["", ".", "..", "x", "a".repeat(255)]) {
    const c = cookieOf(n);
    assert.ok(c > 0 && c < 2 ** 30, `${n}: ${c}`);
  }
});

test("resuming: after a remembered name even once it is deleted; a telldir cookie by hash; an unknown one is undefined", () => {
  const p = new SortedPositions();
  const all = listing(["a", "b", "c", "d", "e"]);
  assert.equal(p.resumeAt("1:2", all, 0n), 0);
  p.remember("1:2", cookieOf("b"), "b");
  const withoutB = listing(["a", "c", "d", "e"]);
  assert.deepEqual(names(withoutB).slice(p.resumeAt("1:2", withoutB, BigInt(cookieOf("b")))!), ["c", "d", "e"]);
  // An entry added before the position is not shown again; one added after is.
  const more = listing(["a", "b", "c", "d", "e", "bb", "aa"]);
  assert.deepEqual(names(more).slice(p.resumeAt("1:2", more, BigInt(cookieOf("b")))!), ["bb", "c", "d", "e"]);
  // After a remembered "." or "..", the other names; after a remembered name, not "." again.
  const dots = listing([".", "..", "a"]);
  p.remember("1:3", cookieOf("."), ".");
  assert.deepEqual(names(dots).slice(p.resumeAt("1:3", dots, BigInt(cookieOf(".")))!), ["..", "a"]);
  p.remember("1:3", cookieOf("-"), "-");
  assert.deepEqual(names(dots).slice(p.resumeAt("1:3", dots, BigInt(cookieOf("-")))!), ["a"]);
  // Not remembered, still present: found by its hash.
  assert.equal(p.resumeAt("1:2", all, BigInt(cookieOf("d"))), 4);
  // The same cookie remembered for another directory does not apply here.
  assert.equal(p.resumeAt("9:9", withoutB, BigInt(cookieOf("b"))), undefined);
  assert.equal(p.resumeAt("1:2", all, 2n ** 40n), undefined);
});

test("entries sort exactly as their names compare as bytes", () => {
  const given = ["b", "..", "-x", "B", ".", ".hidden", "a10", "a9", "\xe9", "\xff", "\x01"];
  const byKey = names(listing(given));
  const rank = (b: Buffer): number => (b.equals(Buffer.from(".")) ? 0 : b.equals(Buffer.from("..")) ? 1 : 2);
  const byBytes = given.map((n) => Buffer.from(n, "latin1")).sort((a, b) => rank(a) - rank(b) || Buffer.compare(a, b)).map((b) => b.toString("latin1"));
  assert.deepEqual(byKey, byBytes);
});

test("random names of shared prefixes and any byte sort as bytes compare, in one go and merged from runs", () => {
  let x = 12345;
  const rand = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
  // Names of 1 to 9 bytes drawn from a few bytes (many share their first four), any byte
  // now and then, and "." and ".." among them.
  const alphabet = [0x01, 0x2d, 0x2e, 0x41, 0x61, 0x62, 0x7f, 0x80, 0xff];
  const given = new Set<string>([".", ".."]);
  while (given.size < 3000) {
    const len = 1 + rand(9);
    given.add(String.fromCharCode(...Array.from({ length: len }, () => (rand(10) === 0 ? 1 + rand(255) : alphabet[rand(alphabet.length)]!))));
  }
  const rank = (b: Buffer): number => (b.equals(Buffer.from(".")) ? 0 : b.equals(Buffer.from("..")) ? 1 : 2);
  const expected = [...given].map((n) => Buffer.from(n, "latin1")).sort((a, b) => rank(a) - rank(b) || Buffer.compare(a, b)).map((b) => b.toString("latin1"));
  assert.deepEqual(names(listing([...given])), expected);
  // As the supervisor sorts a big directory: runs sorted as read, then merged by compare().
  const b = new ListingBuilder();
  const runs: Uint32Array[] = [];
  const all = [...given];
  for (let from = 0; from < all.length; from += 700) {
    for (const n of all.slice(from, from + 700)) {
      const bytes = Buffer.from(n, "latin1");
      b.add(1, 0, 8, bytes, 0, bytes.length);
    }
    runs.push(b.sorted(from));
  }
  const merged = runs.reduce((acc, run) => {
    const out: number[] = [];
    let i = 0;
    let j = 0;
    while (i < acc.length && j < run.length) out.push(b.compare(acc[i]!, run[j]!) <= 0 ? acc[i++]! : run[j++]!);
    return Uint32Array.from([...out, ...acc.subarray(i), ...run.subarray(j)]);
  });
  assert.deepEqual(names(b.finish(merged)), expected);
});

test("a snapshot is kept per directory, the most recent 64", () => {
  const p = new SortedPositions();
  for (let i = 0; i < 70; i++) p.keepSnapshot(`d:${i}`, listing([`n${i}`]));
  assert.equal(p.snapshot("d:0"), undefined, "the oldest went");
  assert.deepEqual(names(p.snapshot("d:69")!), ["n69"]);
});


test("kept listings hold at most SNAPSHOT_BYTES in all: the oldest go first, one larger than the budget is not kept", () => {
  const named = (n: number, len: number): Listing => listing(Array.from({ length: n }, (_, i) => `${"x".repeat(len)}${i}`));
  const p = new SortedPositions();
  // Listings of 40,000 names of 200 bytes (the sandbox chooses the names): what one holds
  // is its arrays' size, room to grow included, at least its names' bytes.
  const big = named(40_000, 200);
  assert.ok(big.bytes >= 40_000 * 200 && big.bytes < SNAPSHOT_BYTES / 2, `${big.bytes} bytes`);
  const fit = Math.floor(SNAPSHOT_BYTES / big.bytes);
  for (let i = 0; i <= fit; i++) p.keepSnapshot(`1:${i}`, big);
  assert.ok(p.snapshotBytes <= SNAPSHOT_BYTES, String(p.snapshotBytes));
  assert.equal(p.snapshot("1:0"), undefined, "the oldest was dropped");
  for (let i = 1; i <= fit; i++) assert.ok(p.snapshot(`1:${i}`) !== undefined, `1:${i} kept`);
  assert.equal(p.snapshotBytes, big.bytes * fit);
  // Kept again: counted once.
  p.keepSnapshot(`1:${fit}`, big);
  assert.equal(p.snapshotBytes, big.bytes * fit);
  const huge = named(Math.ceil(SNAPSHOT_BYTES / 200), 200);
  p.keepSnapshot("2:0", huge);
  assert.equal(p.snapshot("2:0"), undefined, "a listing above the whole budget is not kept");
  assert.equal(p.snapshotBytes, big.bytes * fit, "and drops nothing");
});

