// The records KernelBuffers keeps of descriptors passed in flight (SCM_RIGHTS), against
// the real kernel's socket dumps: a sandbox that keeps one message queued and passes a
// stream of sockets it then closes must not grow the supervisor's records without bound, and what is charged must not change.

import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, fstatSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelBuffers } from "../../src/supervise/kernel-buffers.js";
import { PIPE_CHARGE_BYTES } from "../../src/plan/seccomp-kmem.js";
import { native } from "../../src/confine/native.js";

/** A measure run to its end, its works off the event loop waited for. */
async function measure(kb: KernelBuffers, maxAgeMs: number): Promise<Map<number, number>> {
  const g = kb.measure(new Map(), maxAgeMs);
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
    if (r.value !== undefined) await r.value;
  }
}

/** Lets the clock move past the millisecond of the last socket dump (see measure's maxAgeMs). */
const fresher = (): Promise<void> => new Promise((ok) => setTimeout(ok, 3));

const fdOf = (s: Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;

/** A unix stream server and a way to open connections to it, both ends kept. */
async function server(dir: string): Promise<{ srv: Server; accepted: Socket[]; connect: () => Promise<Socket>; all: Socket[] }> {
  const path = join(dir, "s");
  const accepted: Socket[] = [];
  const all: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  // pauseOnConnect: nothing is read from an accepted end until it is resumed.
  const srv = createServer({ pauseOnConnect: true }, (s) => {
    accepted.push(s);
    all.push(s);
    waiting.shift()?.(s);
  });
  await new Promise<void>((ok) => srv.listen(path, ok));
  const connect = async (): Promise<Socket> => {
    const got = new Promise<Socket>((ok) => waiting.push(ok));
    const c = createConnection(path);
    all.push(c);
    await new Promise<void>((ok) => c.once("connect", () => ok()));
    await got;
    return c;
  };
  return { srv, accepted, connect, all };
}

const closed = (s: Socket): Promise<void> => new Promise((ok) => (s.destroyed ? ok() : (s.once("close", () => ok()), s.destroy())));

test("sockets passed and closed leave no records; pipes stay charged while the sender has data queued", async (t) => {
  if (typeof native().unixSockets(0) === "number") return t.skip("no unix_diag on this host");
  const dir = mkdtempSync(join(tmpdir(), "sl-inflight-"));
  const { srv, accepted, connect, all } = await server(dir);
  try {
    // The sender: one message it wrote sits unread in the server's end (its wmem > 0).
    const sender = await connect();
    await new Promise<void>((ok) => sender.write(Buffer.alloc(1000, 1), () => ok()));
    const senderIno = fstatSync(fdOf(sender)).ino;
    const kb = new KernelBuffers();

    // 300 connections passed, then closed on both ends.
    const N = 300;
    for (let i = 0; i < N; i++) {
      const c = await connect();
      kb.passed(2, senderIno, 0, [fdOf(c)]);
      await closed(c);
      await closed(accepted.pop()!);
    }
    assert.equal(kb.records, N, "each passed socket is recorded while it may be queued");

    // Pipes passed and closed: nothing shows them gone; charged while the sender has data queued.
    for (let i = 0; i < 20; i++) {
      const [r, wr] = native().pipe();
      kb.passed(3, senderIno, 0, [r]);
      closeSync(r);
      closeSync(wr);
    }

    await fresher();
    const charged = await measure(kb, 0);
    assert.equal(kb.records, 20, "the closed sockets' records are gone, the pipe records kept");
    assert.equal(charged.get(2), undefined, "closed sockets are charged nothing");
    assert.equal(charged.get(3), 20 * PIPE_CHARGE_BYTES);

    // A socket passed after the last dump was taken is not in it: not dropped on its word.
    await measure(kb, 0);
    const live = await connect();
    kb.passed(2, senderIno, 0, [fdOf(live)]);
    await measure(kb, 60_000);
    assert.equal(kb.records, 20 + 1, "a stale dump does not drop a socket passed after it");
    await measure(kb, 0);
    assert.equal(kb.records, 20 + 1, "a live socket in flight is kept");
    await closed(live);
    await closed(accepted.pop()!);
    await fresher(); // a dump "no older than 0 ms" is one from another millisecond
    await measure(kb, 0);
    assert.equal(kb.records, 20, "and dropped once a fresh dump shows it closed");

    // The receiver reads the message: nothing the sender passed may still be queued.
    const reader = accepted[0]!;
    await new Promise<void>((ok) => {
      reader.once("data", () => ok());
      reader.resume();
    });
    for (let i = 0; i < 50 && kb.records > 0; i++) {
      await new Promise((ok) => setTimeout(ok, 10));
      await measure(kb, 0);
    }
    assert.equal(kb.records, 0, "every record goes once the sender has nothing queued");
  } finally {
    for (const s of all) await closed(s);
    await new Promise<void>((ok) => srv.close(() => ok()));
    rmSync(dir, { recursive: true, force: true });
  }
});
