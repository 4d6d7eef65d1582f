// The shared socket dumps (src/supervise/socket-dumps.ts) against the real kernel: a dump's
// table, whose memory is reused once released, stays whole while any look holds it, however
// many dumps are taken after it, and is given back only once its last holder lets it go
// and a later dump has replaced it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { fstatSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unixDump } from "../../src/supervise/socket-dumps.js";

/** A generator run to its end (the dump's get() yields between parts). */
function run<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
  }
}

/** Lets the clock move past the millisecond of the last dump (get's maxAgeMs). */
const later = (): Promise<void> => new Promise((ok) => setTimeout(ok, 3));

test("a dump held by a look stays whole through later dumps, and is given back only after its last holder", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sl-dumps-"));
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(join(dir, "s"), ok));
  t.after(() => {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // The listener's inode, which every dump taken from here on lists.
  const ino = fstatSync((srv as unknown as { _handle: { fd: number } })._handle.fd).ino;
  await later();
  const first = run(unixDump.get(0));
  if (first.value.failed) {
    unixDump.release(first);
    t.skip("no unix_diag on this host: dumps fail");
    return;
  }
  const lists = (h: typeof first): boolean => h.value.has(ino);
  assert.equal(lists(first), true, "the dump lists the listener");
  // Two holders of the first dump, then two more dumps taken after it.
  const again = run(unixDump.get(60_000));
  assert.equal(again, first, "a dump young enough is shared");
  await later();
  const second = run(unixDump.get(0));
  assert.notEqual(second.seq, first.seq);
  await later();
  const third = run(unixDump.get(0));
  assert.equal(lists(first), true, "held and replaced twice: still whole");
  unixDump.release(first);
  assert.equal(lists(first), true, "one holder left: still whole");
  unixDump.release(again);
  assert.throws(() => lists(first), /used after release/, "its last holder gone, and replaced: given back");
  assert.equal(lists(second), true, "replaced but held: whole");
  unixDump.release(second);
  assert.throws(() => lists(second), /used after release/, "replaced, its holder gone: given back");
  // The current dump is not given back when its holder lets go: looks to come may get it.
  unixDump.release(third);
  assert.equal(lists(third), true, "the current dump stays");
  const next = run(unixDump.get(60_000));
  assert.equal(next, third, "and is given to the next look");
  unixDump.release(next);
});
