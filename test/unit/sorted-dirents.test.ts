// The sorted listing's pieces: name order, record encoding in both getdents formats (read
// back by the same parser the supervisor uses), and where a listing resumes after entries
// come and go.

import assert from "node:assert/strict";
import { test } from "node:test";
import { compareEntries, cookieOf, encodeFrom, listingBytes, parseDirents64, SNAPSHOT_BYTES, SortedPositions, type DirEntry } from "../../src/supervise/sorted-dirents.js";

const entry = (name: string, ino = 7n, type = 8): DirEntry => ({ inoLo: Number(ino & 0xffffffffn), inoHi: Number(ino >> 32n), type, key: name });
const names = (es: readonly DirEntry[]): string[] => es.map((e) => e.key);

test("name order: . and .. first, then bytes (upper case before lower, '-' before '.')", () => {
  const sorted = ["b", "..", "-x", "B", ".", ".hidden", "a10", "a9", "\xe9"].map((n) => entry(n)).sort(compareEntries);
  assert.deepEqual(names(sorted), [".", "..", "-x", ".hidden", "B", "a10", "a9", "b", "\xe9"]);
});

test("getdents64 records: what is encoded parses back, with each name's cookie as d_off, 8-byte aligned", () => {
  const es = [entry(".", 1n, 4), entry("..", 2n, 4), entry("a-long-name", 3n, 8), entry("d", 2n ** 40n, 10)];
  const { bytes, taken } = encodeFrom(es, 0, 4096, false);
  assert.equal(taken, 4);
  assert.equal(bytes.length % 8, 0);
  const back = parseDirents64(bytes);
  assert.deepEqual(back.map((e) => [e.inoLo, e.inoHi, e.type, e.key]), es.map((e) => [e.inoLo, e.inoHi, e.type, e.key]));
  assert.equal(bytes.readBigInt64LE(8), BigInt(cookieOf(".")));
  // d_ino as the kernel lays it out: one little-endian 64-bit number.
  assert.equal(bytes.readBigUInt64LE(0), 1n);
  assert.equal(encodeFrom([entry("d", 2n ** 40n + 5n)], 0, 64, false).bytes.readBigUInt64LE(0), 2n ** 40n + 5n);
});

test("legacy getdents records: d_type in the last byte, the name NUL-terminated at offset 18", () => {
  const { bytes, taken } = encodeFrom([entry("abc", 9n, 4)], 0, 64, true);
  assert.equal(taken, 1);
  const reclen = bytes.readUInt16LE(16);
  assert.equal(reclen, 24); // 18 + 3 + 2, aligned to 8
  assert.equal(bytes.toString("latin1", 18, 21), "abc");
  assert.equal(bytes[21], 0);
  assert.equal(bytes[reclen - 1], 4);
});

test("a batch takes only the records that fit; a buffer too small for one takes none", () => {
  const es = ["aaaa", "bbbb", "cccc"].map((n) => entry(n));
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
  const all = ["a", "b", "c", "d", "e"].map((n) => entry(n));
  assert.equal(p.resumeAt("1:2", all, 0n), 0);
  p.remember("1:2", cookieOf("b"), "b");
  const withoutB = all.filter((e) => e.key !== "b");
  assert.deepEqual(names(withoutB.slice(p.resumeAt("1:2", withoutB, BigInt(cookieOf("b")))!)), ["c", "d", "e"]);
  // An entry added before the position is not shown again; one added after is.
  const more = [...all, entry("bb"), entry("aa")].sort(compareEntries);
  assert.deepEqual(names(more.slice(p.resumeAt("1:2", more, BigInt(cookieOf("b")))!)), ["bb", "c", "d", "e"]);
  // Not remembered, still present: found by its hash.
  assert.equal(p.resumeAt("1:2", all, BigInt(cookieOf("d"))), 4);
  // The same cookie remembered for another directory does not apply here.
  assert.equal(p.resumeAt("9:9", withoutB, BigInt(cookieOf("b"))), undefined);
  assert.equal(p.resumeAt("1:2", all, 2n ** 40n), undefined);
});

test("entries sort by their latin1 keys exactly as names compare as bytes", () => {
  const names = ["b", "..", "-x", "B", ".", ".hidden", "a10", "a9", "\xe9", "\xff", "\x01"];
  const byKey = names.map((n) => entry(n)).sort(compareEntries).map((e) => e.key);
  const rank = (b: Buffer): number => (b.equals(Buffer.from(".")) ? 0 : b.equals(Buffer.from("..")) ? 1 : 2);
  const byBytes = names.map((n) => Buffer.from(n, "latin1")).sort((a, b) => rank(a) - rank(b) || Buffer.compare(a, b)).map((b) => b.toString("latin1"));
  assert.deepEqual(byKey, byBytes);
});

test("a snapshot is kept per directory, the most recent 64", () => {
  const p = new SortedPositions();
  for (let i = 0; i < 70; i++) p.keepSnapshot(`d:${i}`, [entry(`n${i}`)]);
  assert.equal(p.snapshot("d:0"), undefined, "the oldest went");
  assert.deepEqual(p.snapshot("d:69")!.map((e) => e.key), ["n69"]);
});


test("kept listings hold at most SNAPSHOT_BYTES in all: the oldest go first, one larger than the budget is not kept", () => {
  const listing = (n: number, len: number): DirEntry[] => Array.from({ length: n }, (_, i) => ({ inoLo: i, inoHi: 0, type: 8, key: `${"x".repeat(len)}${i}` }));
  const p = new SortedPositions();
  // Three listings of about 40% of the budget each (the sandbox chooses the names).
  const big = listing(Math.floor((SNAPSHOT_BYTES * 0.4) / 264), 200);
  p.keepSnapshot("1:1", big);
  p.keepSnapshot("1:2", big);
  p.keepSnapshot("1:3", big);
  assert.ok(p.snapshotBytes <= SNAPSHOT_BYTES, String(p.snapshotBytes));
  assert.equal(p.snapshot("1:1"), undefined, "the oldest was dropped");
  assert.ok(p.snapshot("1:2") !== undefined && p.snapshot("1:3") !== undefined);
  assert.equal(p.snapshotBytes, listingBytes(big) * 2);
  // Kept again: counted once.
  p.keepSnapshot("1:3", big);
  assert.equal(p.snapshotBytes, listingBytes(big) * 2);
  p.keepSnapshot("1:4", listing(Math.ceil(SNAPSHOT_BYTES / 264) + 10, 200));
  assert.equal(p.snapshot("1:4"), undefined, "a listing above the whole budget is not kept");
  assert.equal(p.snapshotBytes, listingBytes(big) * 2, "and drops nothing");
});

