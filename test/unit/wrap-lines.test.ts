// The wrap protocol's line reader (src/wrap/protocol.ts lineReader): lines split anywhere
// between chunks, a UTF-8 character among them, and the length bound in bytes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { lineReader } from "../../src/wrap/protocol.js";

test("lineReader: lines cut anywhere, a UTF-8 character split between chunks, come out whole", () => {
  const text = "first é line\n{\"x\":\"ü€😀\"}\n\nlast\n";
  const bytes = Buffer.from(text, "utf8");
  // every cut point, one chunk each side, and one byte at a time
  for (const cuts of [...Array.from({ length: bytes.length + 1 }, (_, i) => [i]), Array.from({ length: bytes.length }, (_, i) => i)]) {
    const got: string[] = [];
    const feed = lineReader((l) => got.push(l));
    let at = 0;
    for (const c of [...cuts, bytes.length]) {
      feed(bytes.subarray(at, c));
      at = c;
    }
    assert.deepEqual(got, ["first é line", "{\"x\":\"ü€😀\"}", "", "last"], `cut at ${cuts.join(",")}`);
  }
});

test("lineReader: a line past the bound (in bytes) calls tooLong once and reads nothing more", () => {
  const got: string[] = [];
  let tooLong = 0;
  const feed = lineReader((l) => got.push(l), () => tooLong++, () => 8);
  feed(Buffer.from("ok\n€€€"));
  assert.deepEqual([got, tooLong], [["ok"], 1], "9 bytes (3 characters) without a newline pass a bound of 8");
  feed(Buffer.from("\nmore\n"));
  assert.deepEqual([got, tooLong], [["ok"], 1]);
});

test("lineReader: a line of 16 MiB less a byte (the bound), in 64 KiB chunks, comes out whole", () => {
  const chunk = Buffer.alloc(64 << 10, "a");
  const got: number[] = [];
  const feed = lineReader((l) => got.push(l.length));
  for (let i = 0; i < 255; i++) feed(chunk);
  feed(Buffer.concat([chunk.subarray(0, chunk.length - 1), Buffer.from("\n")]));
  assert.deepEqual(got, [(16 << 20) - 1]);
});
