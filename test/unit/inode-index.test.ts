// InodeIndex (src/supervise/inode-index.ts), the typed-array map and set of inodes the
// memory watchdog indexes socket dumps and descriptor tables with: the same answers as a
// Map through growth, its memory reused only once released and then cleared, and any use
// after release() an error rather than an empty table (which would charge nothing).

import { test } from "node:test";
import assert from "node:assert/strict";
import { InodeIndex, pooledWords } from "../../src/supervise/inode-index.js";

/** A deterministic generator of 32-bit numbers (xorshift32). */
function numbers(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

test("answers as a Map does through its growth: runs of consecutive inodes, scattered ones, repeats, onlyIfAbsent", () => {
  const next = numbers(7);
  const index = new InodeIndex();
  const oracle = new Map<number, number>();
  // Runs like get_next_ino()'s batches, scattered numbers up to 2^32 - 1, and keys seen again.
  const keys: number[] = [];
  for (let run = 0; run < 40; run++) {
    const from = (next() % 4_000_000_000) + 1;
    for (let i = 0; i < 1000; i++) keys.push(from + i);
    for (let i = 0; i < 200; i++) keys.push((next() % 0xffffffff) + 1);
  }
  for (let i = 0; i < keys.length; i++) {
    const key = i % 7 === 6 ? keys[next() % (i + 1)]! : keys[i]!;
    const value = next();
    const onlyIfAbsent = i % 3 === 0;
    index.set(key, value, onlyIfAbsent);
    if (!(onlyIfAbsent && oracle.has(key))) oracle.set(key, value);
  }
  assert.equal(index.size, oracle.size);
  for (const [key, value] of oracle) assert.equal(index.get(key), value, `key ${key}`);
  for (let i = 0; i < 20_000; i++) {
    const key = (next() % 0xffffffff) + 1;
    assert.equal(index.has(key), oracle.has(key), `key ${key}`);
    assert.equal(index.get(key), oracle.get(key), `key ${key}`);
  }
  assert.equal(index.get(0), undefined);
  assert.equal(index.has(0), false);
});

test("a set: add() says whether the inode was new; get() finds nothing and set() throws", () => {
  const set = new InodeIndex(false);
  assert.equal(set.add(5), true);
  assert.equal(set.add(5), false);
  assert.equal(set.add(0xffffffff), true);
  assert.equal(set.has(5), true);
  assert.equal(set.has(6), false);
  assert.equal(set.size, 2);
  assert.equal(set.get(5), undefined);
  assert.throws(() => set.set(5, 1), /set\(\) on a set made without values/);
});

test("a key that is not a non-zero 32-bit number is refused by name", () => {
  const index = new InodeIndex();
  for (const bad of [0, -1, 2 ** 32, 1.5, Number.NaN]) assert.throws(() => index.set(bad, 1), new RegExp(`key ${bad} is not a non-zero 32-bit number`));
});

test("memory released is reused cleared, and a released index throws at any use", () => {
  const first = new InodeIndex();
  // 40,000 entries: tables of 131,072 slots, which are pooled when released.
  for (let k = 1; k <= 40_000; k++) first.set(k, k);
  const before = pooledWords();
  first.release();
  assert.ok(pooledWords() > before, `pooled words ${before} -> ${pooledWords()}`);
  assert.throws(() => first.has(1), /used after release/);
  assert.throws(() => first.get(1), /used after release/);
  assert.throws(() => first.set(1, 1), /used after release/);
  first.release(); // a second release gives nothing twice
  // The next index of that size takes the released memory: none of the first's keys show.
  const second = new InodeIndex();
  for (let k = 100_001; k <= 140_000; k++) second.set(k, 7);
  assert.ok(pooledWords() < before + 2 * 131_072, "the second index took pooled memory");
  for (let k = 1; k <= 40_000; k += 97) assert.equal(second.has(k), false, `key ${k} of the released index`);
  assert.equal(second.get(120_000), 7);
  assert.equal(second.size, 40_000);
});
