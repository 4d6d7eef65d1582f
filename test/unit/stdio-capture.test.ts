// The capture of a run's output (src/confine/stdio.ts, captureFd) past maxBuffer: reading
// stops at once, so a writer past the limit blocks on the full pipe until the sandbox's kill
// reaches it. Read and dropped instead, the rest of the output could all be written first
// and the run read as having exited (mcp.test's output case failed so in CI).

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { once } from "node:events";
import { after, test } from "node:test";
import { captureFd, forwardFd, openStdio, streamFd } from "../../src/confine/stdio.js";
import { PassThrough, Writable } from "node:stream";
import { native } from "../../src/confine/native.js";

/** Every writer started, ended after the file's tests: a test that fails while its writer
 * is blocked on a pipe it holds open must not keep this file from exiting. */
const writers: ChildProcess[] = [];
after(() => {
  for (const c of writers) c.kill("SIGKILL");
});

/** A writer of `bytes` zero bytes into a new pipe; the pipe's read end. */
function writer(bytes: number): { fd: number; exited: Promise<unknown>; done: () => boolean } {
  const [r, w] = native().pipe();
  const child = spawn("head", ["-c", String(bytes), "/dev/zero"], { stdio: ["ignore", w, "inherit"] });
  writers.push(child);
  closeSync(w);
  let ended = false;
  const exited = once(child, "exit").then((v) => ((ended = true), v));
  return { fd: r, exited, done: () => ended };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("captureFd: past maxBuffer nothing more is read until the sandbox has ended; the writer blocks, then the capture ends", async () => {
  // 1 MiB: more than a pipe (64 KiB) and one read (64 KiB) can take past the limit.
  const w = writer(1 << 20);
  let release!: () => void;
  const ended = new Promise<void>((r) => (release = r));
  let overflows = 0;
  const cap = captureFd(w.fd, false, { maxBuffer: 1000, onOverflow: () => overflows++, ended });
  while (overflows === 0) await sleep(10);
  await sleep(300);
  assert.equal(w.done(), false, "the writer finished while the capture was held: the pipe was still being read");
  assert.equal(overflows, 1);
  release();
  const kept = await cap.captured;
  assert.equal(kept.length, 1000);
  assert.equal(overflows, 1);
  // (A sandboxed writer is dead by then; this one, outside any sandbox, finds the pipe
  // closed once the capture has read what it held, or its last bytes read.)
  const [code, signal] = (await w.exited) as [number | null, string | null];
  assert.ok(code === 0 || signal === "SIGPIPE", `the writer ended: ${code} ${signal}`);
});

test("captureFd: once the sandbox has ended, the capture keeps what the pipe holds and ends, though a writer outside still holds the pipe", async () => {
  const [r, w] = native().pipe();
  // A process outside the sandbox that got the write end (a second sandbox it was passed to,
  // or a host process): it writes, then keeps the pipe open.
  const child = spawn("sh", ["-c", "printf abc; exec sleep 5"], { stdio: ["ignore", w, "inherit"] });
  closeSync(w);
  let release!: () => void;
  const ended = new Promise<void>((res) => (release = res));
  const cap = captureFd(r, true, { maxBuffer: 1000, onOverflow: () => assert.fail("no overflow"), ended });
  const streamed: Buffer[] = [];
  cap.stream!.on("data", (c: Buffer) => streamed.push(c));
  const streamEnd = once(cap.stream!, "end");
  await sleep(200);
  const t0 = Date.now();
  release();
  const kept = await cap.captured;
  assert.equal(kept.toString(), "abc");
  assert.ok(Date.now() - t0 < 2000, `the capture waited ${Date.now() - t0} ms for a pipe the sandbox no longer held`);
  await streamEnd;
  assert.equal(Buffer.concat(streamed).toString(), "abc", "the exposed stream saw it and ended");
  assert.equal(child.exitCode, null, "control: the writer still held the pipe open");
  child.kill();
  await once(child, "exit");
});

test("captureFd control: without an end, the capture waits for the end of the pipe", async () => {
  const [r, w] = native().pipe();
  const child = spawn("sh", ["-c", "printf abc; sleep 0.5; printf def"], { stdio: ["ignore", w, "inherit"] });
  const exited = once(child, "exit"); // (listened for now: it may come before the capture ends)
  closeSync(w);
  const cap = captureFd(r, false, { maxBuffer: 1000, onOverflow: () => assert.fail("no overflow") });
  assert.equal((await cap.captured).toString(), "abcdef");
  await exited;
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

test("captureFd: without an end to wait for, past the limit the rest is read and dropped (the writer is not held)", async () => {
  const w = writer(1 << 20);
  let overflows = 0;
  const cap = captureFd(w.fd, false, { maxBuffer: 1000, onOverflow: () => overflows++ });
  const [code] = (await w.exited) as [number | null];
  assert.equal(code, 0);
  assert.equal((await cap.captured).length, 1000);
  assert.equal(overflows, 1);
});

// forwardFd: a run whose stdout or stderr is the caller's Writable.
test("forwardFd: every byte reaches the stream, in order, to the end of the pipe", async () => {
  const w = writer(300_000);
  const out = new PassThrough();
  const got: Buffer[] = [];
  out.on("data", (c: Buffer) => got.push(c));
  const f = forwardFd(w.fd, out, new Promise(() => undefined));
  await f.done;
  assert.equal(Buffer.concat(got).length, 300_000);
  assert.equal(out.writableEnded, false, "the caller's stream is left open");
});

test("forwardFd: once the sandbox has ended, what the pipe holds is forwarded and the forwarding ends, though a writer outside still holds the pipe", async () => {
  const [r, w] = native().pipe();
  const child = spawn("sh", ["-c", "printf abc; exec sleep 5"], { stdio: ["ignore", w, "inherit"] });
  closeSync(w);
  const out = new PassThrough();
  const got: Buffer[] = [];
  out.on("data", (c: Buffer) => got.push(c));
  let release!: () => void;
  const f = forwardFd(r, out, new Promise<void>((res) => (release = res)));
  await sleep(200);
  const t0 = Date.now();
  release();
  await f.done;
  assert.ok(Date.now() - t0 < 2000, `the forwarding waited ${Date.now() - t0} ms for a pipe the sandbox no longer held`);
  assert.equal(Buffer.concat(got).toString(), "abc");
  assert.equal(child.exitCode, null, "control: the writer still held the pipe open");
  child.kill();
  await once(child, "exit");
});

test("forwardFd: a stream that asks to wait stops the reads, so the writer blocks", async () => {
  const w = writer(1 << 20);
  let taken = 0;
  // Takes the first write and never calls back: every later write() returns false.
  const stuck = new Writable({ highWaterMark: 1024, write: (c: Buffer) => void (taken += c.length) });
  const f = forwardFd(w.fd, stuck, new Promise(() => undefined));
  await sleep(300);
  assert.equal(w.done(), false, "the writer finished: the pipe was read past the stream's wait");
  assert.ok(taken <= 64 * 1024, `${taken} bytes were handed to a stream that asked to wait`);
  f.socket.destroy();
  await w.exited;
});

// streamFd: spawn with buffer: false, where the caller reads sb.stdout itself.
test("streamFd: once the sandbox has ended, the stream gets what the pipe holds and ends, though a writer outside still holds the pipe", async () => {
  const [r, w] = native().pipe();
  const child = spawn("sh", ["-c", "printf abc; exec sleep 5"], { stdio: ["ignore", w, "inherit"] });
  closeSync(w);
  let release!: () => void;
  const s = streamFd(r, new Promise<void>((res) => (release = res)));
  const got: Buffer[] = [];
  s.stream.on("data", (c: Buffer) => got.push(c));
  const ended = once(s.stream, "end");
  await sleep(200);
  const t0 = Date.now();
  release();
  await ended;
  assert.ok(Date.now() - t0 < 2000, `the stream waited ${Date.now() - t0} ms for a pipe the sandbox no longer held`);
  assert.equal(Buffer.concat(got).toString(), "abc");
  assert.equal(child.exitCode, null, "control: the writer still held the pipe open");
  child.kill();
  await once(child, "exit");
});

test("streamFd: a reader that does not read stops the reads (the writer blocks); destroying the stream closes the pipe (the writer gets EPIPE)", async () => {
  const w = writer(1 << 20);
  const s = streamFd(w.fd, new Promise(() => undefined));
  await sleep(300);
  assert.equal(w.done(), false, "the writer finished: the pipe was read past the stream's high-water mark");
  // (At most the high-water mark and one read more: a first read smaller than the mark is
  // taken, and the next, of up to 64 KiB, fills past it. CI saw 77,824 bytes, 12 KiB then 64.)
  const bound = s.stream.readableHighWaterMark + 64 * 1024;
  assert.ok(s.stream.readableLength <= bound, `${s.stream.readableLength} bytes held for a reader that reads nothing (bound ${bound})`);
  s.stream.destroy();
  const [code, signal] = (await w.exited) as [number | null, string | null];
  assert.equal(signal, "SIGPIPE", `the writer ended by ${code} ${signal}`);
});

test("streamFd control: without an end, every byte is streamed to the end of the pipe", async () => {
  const w = writer(300_000);
  const s = streamFd(w.fd, new Promise(() => undefined));
  let n = 0;
  for await (const c of s.stream) n += (c as Buffer).length;
  assert.equal(n, 300_000);
});

// A caller's memfd given as stdio through a read-only description: the sandbox could reopen it
// for writing through /proc/self/fd (no Landlock rule covers a memfd), so it must be sealed.
test("openStdio refuses a read-only memfd not sealed against writes, naming what to do; a sealed one, or a read-write one, is taken", () => {
  const n = native();
  const limits = { maxBuffer: 1000, buffer: true, onOverflow: () => undefined, ended: new Promise(() => undefined) };
  const defaults = { stdin: "ignore", stdout: "ignore", stderr: "ignore" } as const;
  const open = openSync;
  const m = n.memfd(Buffer.from("secret\n"));
  const ro = open(`/proc/self/fd/${m}`, "r");
  const sealed = n.memfdReadonly("t", Buffer.from("secret\n"));
  const sro = open(`/proc/self/fd/${sealed}`, "r");
  try {
    assert.throws(() => openStdio({ stdin: ro }, defaults, false, limits), {
      name: "SandboxError",
      message: `stdin: descriptor ${ro} is a memfd opened read-only but not sealed against writes: the sandbox could reopen it through /proc/self/fd/${ro} for writing (no Landlock rule covers a memfd) and change it; seal it (F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW), or pass its content as \`input\``,
    });
    assert.throws(() => openStdio({ stdout: ro }, defaults, false, limits), /^SandboxError: stdout: descriptor \d+ is a memfd opened read-only/);
    openStdio({ stdin: sro }, defaults, false, limits).releaseChildFds();
    openStdio({ stdin: m }, defaults, false, limits).releaseChildFds(); // read-write: the caller's choice
  } finally {
    for (const fd of [ro, m, sro, sealed]) closeSync(fd);
  }
});
