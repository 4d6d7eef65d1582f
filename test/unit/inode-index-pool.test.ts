// The inode tables' pool (src/supervise/inode-index.ts) lets its memory go once nothing
// has taken from it for 10 s: a burst of sockets does not leave the supervising process
// holding up to 32 MB for the rest of its life. In a file of its own: the pool and its
// timer are the module's, and the clock here is node:test's mock.

import { test } from "node:test";
import assert from "node:assert/strict";
import { InodeIndex, pooledWords } from "../../src/supervise/inode-index.js";

/** An index grown past the pooled size (16,384 slots), then released into the pool. */
function released(): void {
  const index = new InodeIndex();
  for (let k = 1; k <= 10_000; k++) index.set(k, k);
  index.release();
}

test("the pool is emptied once idle for 10 s, and a take meanwhile puts that off", (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  released();
  assert.ok(pooledWords() > 0, "released memory is pooled");
  t.mock.timers.tick(9_000);
  assert.ok(pooledWords() > 0, "kept while recently used");
  // A new index takes from the pool (a use) and gives back again when released.
  released();
  t.mock.timers.tick(9_000);
  assert.ok(pooledWords() > 0, "10 s after the first release but 9 s after a take: kept");
  t.mock.timers.tick(999);
  assert.ok(pooledWords() > 0, "still within 10 s of the take");
  t.mock.timers.tick(1);
  assert.equal(pooledWords(), 0, "idle 10 s: emptied");
  released();
  assert.ok(pooledWords() > 0, "pooled again after emptying");
  t.mock.timers.tick(10_000);
  assert.equal(pooledWords(), 0, "and emptied again");
});
