// The capture of a run's output (src/confine/stdio.ts, captureFd) past maxBuffer: reading
// stops at once, so a writer past the limit blocks on the full pipe until the sandbox's kill
// reaches it. Read and dropped instead, the rest of the output could all be written first
// and the run read as having exited (mcp.test's output case failed so in CI).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { once } from "node:events";
import { test } from "node:test";
import { captureFd } from "../../src/confine/stdio.js";
import { native } from "../../src/confine/native.js";

/** A writer of `bytes` zero bytes into a new pipe; the pipe's read end. */
function writer(bytes: number): { fd: number; exited: Promise<unknown>; done: () => boolean } {
  const [r, w] = native().pipe();
  const child = spawn("head", ["-c", String(bytes), "/dev/zero"], { stdio: ["ignore", w, "inherit"] });
  closeSync(w);
  let ended = false;
  const exited = once(child, "exit").then((v) => ((ended = true), v));
  return { fd: r, exited, done: () => ended };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("captureFd: past maxBuffer nothing more is read until holdUntil settles; the writer blocks, then ends once released", async () => {
  // 1 MiB: more than a pipe (64 KiB) and one read (64 KiB) can take past the limit.
  const w = writer(1 << 20);
  let release!: () => void;
  const holdUntil = new Promise<void>((r) => (release = r));
  let overflows = 0;
  const cap = captureFd(w.fd, false, { maxBuffer: 1000, onOverflow: () => overflows++, holdUntil });
  while (overflows === 0) await sleep(10);
  await sleep(300);
  assert.equal(w.done(), false, "the writer finished while the capture was held: the pipe was still being read");
  assert.equal(overflows, 1);
  release();
  const [code] = (await w.exited) as [number | null];
  assert.equal(code, 0, "released, the rest is read and dropped and the writer ends");
  const kept = await cap.captured;
  assert.equal(kept.length, 1000);
  assert.equal(overflows, 1);
});

test("captureFd: under the limit every byte is kept, through small and large reads alike", async () => {
  const w = writer(300_000);
  const cap = captureFd(w.fd, true, { maxBuffer: 300_000, onOverflow: () => assert.fail("no overflow at exactly the limit") });
  const streamed: Buffer[] = [];
  cap.stream!.on("data", (c: Buffer) => streamed.push(c));
  const ended = once(cap.stream!, "end");
  const kept = await cap.captured;
  assert.equal(kept.length, 300_000);
  assert.ok(kept.every((b) => b === 0));
  await ended;
  assert.equal(Buffer.concat(streamed).length, 300_000, "the exposed stream saw what was kept");
});

test("captureFd: without holdUntil, past the limit the rest is read and dropped (the writer is not held)", async () => {
  const w = writer(1 << 20);
  let overflows = 0;
  const cap = captureFd(w.fd, false, { maxBuffer: 1000, onOverflow: () => overflows++ });
  const [code] = (await w.exited) as [number | null];
  assert.equal(code, 0);
  assert.equal((await cap.captured).length, 1000);
  assert.equal(overflows, 1);
});
