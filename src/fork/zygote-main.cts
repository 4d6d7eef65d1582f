// The zygote: the program a fork group's confined Node process runs (node --single-threaded
// zygote-main.mjs). It loads the user's init and work, runs init once, then forks clones
// on request. Each clone calls work(cloneId) and exits; the zygote reaps them and reports.
//
// It runs under the sandbox's Landlock rules, so it imports nothing but Node's built-ins
// and the addon (both granted read-only by the parent). Messages are JSON, one per packet
// on a SOCK_SEQPACKET socket that arrives as fd 0 (protocol in src/fork/messages.ts).
// CommonJS, not an ES module: Node reads an ES entry point on libuv's thread pool, whose
// four threads every clone inherits dead (a page of each stack written by glibc's fork
// handler, a page table each: 32 KiB per clone); a CommonJS entry is read synchronously.

import { Console } from "node:console";
import { closeSync } from "node:fs";
import { Writable } from "node:stream";

interface Native {
  pollFd(fd: number, cb: () => void): object;
  pollClose(handle: object): void;
  pipe(): [number, number];
  collapse(start: number, length: number): number;
  forkBatch(n: number, control: number, stopFirst: number): ForkBatch | number;
  reapClones(): [number, number, number][];
  sendFds(sock: number, data: Buffer, fds: readonly number[], waitMs?: number): number;
  recvFds(sock: number, out: Buffer): [number, number[]] | number;
  moveFd(fd: number, min: number): number;
  emptyStdin(): number;
  exitNow(code: number): never;
  processIds(): [number, number];
}

/** What forkBatch returns in the zygote: pids, [stdout, stderr] per clone, and why it stopped early. */
interface ForkBatch {
  pids: number[];
  fds: number[];
  errno: number;
  syscall: string;
}

type FnSpec = { name: string; optional?: boolean } | { source: string };
type Fn = (...args: unknown[]) => unknown;

const EAGAIN = 11;
/** Clones reported per message: two descriptors each, under SCM_RIGHTS' 253. */
const BATCH = 64;

// The parent passes the addon it loaded itself (build/Release or prebuilds/, src/confine/native.ts).
const native: Native = require(process.argv[2]!) as Native;

function fail(text: string): never {
  process.stderr.write(`sandlock zygote: ${text}\n`);
  process.exit(70);
}

/** bench/fork-smaps.ts only: each clone stops itself (SIGSTOP) right after fork, before any
 * JavaScript runs, so that what it holds then can be measured. */
const stopAfterFork = process.env.SANDLOCK_FORK_STOP === "1" ? 1 : 0;
delete process.env.SANDLOCK_FORK_STOP;

// Node reads its pid and its parent's once, at start-up: a clone would report the zygote's.
// Getters instead, defined here once, so that a clone writes nothing for them (ppid stays
// assignable, as in Node).
Object.defineProperty(process, "pid", { get: () => native.processIds()[0], enumerable: true, configurable: true });
Object.defineProperty(process, "ppid", {
  get: () => native.processIds()[1],
  set: (value: unknown) => Object.defineProperty(process, "ppid", { value, writable: true, enumerable: true, configurable: true }),
  enumerable: true,
  configurable: true,
});

const ctl = native.moveFd(0, 3); // any free descriptor above stdio (maxOpenFiles may be small)
if (ctl < 0) fail(`no control socket on fd 0 (errno ${-ctl})`);
if (native.emptyStdin() < 0) fail("cannot replace stdin");

/** How long a send with descriptors waits out the uid's count of descriptors in flight at
 * the sandbox's bound (ETOOMANYREFS: native/fork.c sendFds): the parent reads them. */
const INFLIGHT_WAIT_MS = 10_000;

function send(msg: object, fds: readonly number[] = []): void {
  const rc = native.sendFds(ctl, Buffer.from(JSON.stringify(msg)), fds, INFLIGHT_WAIT_MS);
  // The parent is gone: nothing is left to serve.
  if (rc < 0) native.exitNow(0);
}

function describe(e: unknown): { message: string; stack?: string; name?: string } {
  if (e instanceof Error) return { message: e.message, stack: e.stack, name: e.name };
  return { message: String(e) };
}

/** A function from its source text: an expression (arrow, function) or a method ("init() {...}"). */
function fromSource(source: string, what: string): Fn {
  const indirectEval = eval;
  let value: unknown;
  try {
    value = indirectEval(`(${source}\n)`);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    const holder = indirectEval(`({${source}\n})`) as Record<string, unknown>;
    value = Object.values(holder)[0];
  }
  if (typeof value !== "function") throw new TypeError(`${what}: the source does not evaluate to a function`);
  return value as Fn;
}

function pick(mod: Record<string, unknown> | undefined, spec: FnSpec, what: string, where: string): Fn {
  if ("source" in spec) return fromSource(spec.source, what);
  const fromDefault = (mod?.default ?? undefined) as Record<string, unknown> | undefined;
  const value = mod?.[spec.name] ?? (typeof fromDefault === "object" || typeof fromDefault === "function" ? fromDefault?.[spec.name] : undefined);
  if (value === undefined && spec.optional) return () => undefined;
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`${where}: the export "${spec.name}" is ${value === null ? "null" : `a ${typeof value}`}, not a function`);
  }
  if (typeof value !== "function") {
    const names = Object.keys(mod ?? {}).filter((k) => k !== "default");
    throw new TypeError(`${where} has no function export named "${spec.name}" (its exports: ${names.length ? names.join(", ") : "none"})`);
  }
  return value as Fn;
}

/** A ReferenceError in a function shipped as source usually means it used its closure. */
function explain(e: unknown, what: string, spec: FnSpec): unknown {
  if ("source" in spec && e instanceof ReferenceError) {
    e.message += ` (${what} was sent to the zygote as source text: variables of its surrounding scope do not travel; define everything inside the function, share state through globalThis, or use a module)`;
  }
  return e;
}

let work: Fn | undefined;
let workSpec: FnSpec = { name: "work" };
let handle: object | undefined;

async function init(msg: { module?: string; init: FnSpec; work: FnSpec }): Promise<void> {
  let mod: Record<string, unknown> | undefined;
  try {
    if (msg.module !== undefined) mod = (await import(msg.module)) as Record<string, unknown>;
    const where = `module ${msg.module}`;
    const initFn = pick(mod, msg.init, "init", where);
    work = pick(mod, msg.work, "work", where);
    workSpec = msg.work;
    try {
      await initFn();
    } catch (e) {
      throw explain(e, "init", msg.init);
    }
  } catch (e) {
    send({ op: "failed", ...describe(e) });
    await flushStdio();
    native.exitNow(1);
  }
  // Instantiate the output streams and run the paths every clone takes (a write and its
  // callback, a tick, a settled promise) once here: V8 compiles functions on their first
  // call, and what the zygote compiled, no clone compiles again.
  await new Promise<void>((resolve) => process.nextTick(resolve));
  await Promise.resolve();
  // (a write's callback runs once everything written before it is out: this also flushes)
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
  await rehearse();
  send({ op: "ready" });
}

/**
 * Runs here, once, the Node internals every clone calls between fork and work, so that
 * they are compiled in the zygote and shared: a function V8 compiles in a clone costs the
 * clone its parsing (about a third of its CPU before this, docs/fork.md) and the heap
 * pages the compiler writes. Each step leaves nothing behind: a listener on a signal the
 * zygote does not otherwise watch, added and removed (removeAllListeners, the signal
 * watcher's stop and the 'removeListener' listeners), the exit code read, the streams
 * flushed. becomeClone and its inner functions are compiled eagerly instead (the
 * parentheses around them: V8 compiles a parenthesized function with its script).
 */
async function rehearse(): Promise<void> {
  // (only on a signal init left unwatched: removeAllListeners would take init's listeners too)
  const spare = (["SIGURG", "SIGWINCH", "SIGXCPU"] as const).find((s) => process.listenerCount(s) === 0);
  if (spare !== undefined) {
    process.on(spare, () => undefined);
    process.removeAllListeners(spare);
  }
  void process.exitCode;
  // console.log, the way most work functions report: the global console's methods are the
  // Console prototype's, so a console writing to a sink compiles them (and the formatting
  // of strings, numbers, objects and arrays, and the colour check's module) for every
  // clone. Before this, each clone compiled them: about a third of a clone's CPU
  // (bench/fork.ts, docs/fork.md).
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rehearsal = new Console({ stdout: sink, stderr: sink });
  rehearsal.log("%s %d", "text", 1, { key: [1, "two"] }, 3.5);
  rehearsal.error(new Error("rehearsal").message);
  // The global console's streams are getters (Node binds them lazily), read on its first log.
  void (console as unknown as { _stdout: unknown })._stdout;
  void (console as unknown as { _stderr: unknown })._stderr;
  await flushStdio();
}

function flushStdio(): Promise<unknown> {
  const flush = (s: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => (s.writableLength === 0 ? resolve() : s.write("", () => resolve())));
  return Promise.all([flush(process.stdout), flush(process.stderr)]);
}

/** In the clone: leave the zygote's business, run work(id), flush, exit. (Parenthesized:
 * compiled with the script, in the zygote, not in every clone; see rehearse.) */
const becomeClone = (function becomeClone(id: number): void {
  if (handle) native.pollClose(handle);
  handle = undefined;
  process.removeAllListeners("SIGCHLD");
  process.env.CLONE_ID = String(id);
  // Node's own exit path joins the zygote's worker threads, which do not exist here.
  (process as unknown as { reallyExit: (code: number) => never }).reallyExit = (code) => native.exitNow(Number(code ?? 0));
  process.on("uncaughtException", (e) => {
    process.stderr.write(`clone ${id}: uncaught ${describe(e).stack ?? describe(e).message}\n`, () => native.exitNow(1));
    setTimeout(() => native.exitNow(1), 1000);
  });
  void (async () => {
    let code = 0;
    try {
      await work!(id);
      code = typeof process.exitCode === "number" ? process.exitCode : 0;
    } catch (e) {
      const err = explain(e, "work", workSpec);
      process.stderr.write(`work(${id}) failed: ${describe(err).stack ?? describe(err).message}\n`);
      code = 1;
    }
    await flushStdio();
    native.exitNow(code);
  })();
});

/**
 * Forks n clones, BATCH at a time in native code (see forkBatch: the zygote must write as
 * few pages as possible while it forks), and reports each batch with its descriptors.
 * Returns true in a clone, which must stop serving at once.
 */
function forkClones(n: number, collapse: [number, number][]): boolean {
  for (const [start, length] of collapse) native.collapse(start, length);
  for (let base = 0; base < n; base += BATCH) {
    let batch: ForkBatch | number;
    try {
      batch = native.forkBatch(Math.min(BATCH, n - base), ctl, stopAfterFork);
    } catch (e) {
      send({ op: "forkFailed", forked: base, message: describe(e).message });
      return false;
    }
    if (typeof batch === "number") {
      becomeClone(base + batch);
      return true;
    }
    if (batch.pids.length > 0) {
      unread++;
      send({ op: "forked", pids: batch.pids }, batch.fds);
    }
    for (const fd of batch.fds) closeSync(fd);
    if (batch.errno !== 0) {
      const forked = base + batch.pids.length;
      send({ op: "forkFailed", forked, errno: batch.errno, syscall: batch.syscall, message: `${batch.syscall} failed` });
      return false;
    }
  }
  return false;
}

/** Batches reported whose pids the parent has not read yet ("pidsRead"): until it has, no
 * clone is reaped, so a clone that exited at once still holds its number (a zombie) when
 * the parent opens its pidfd on it (fork/adopt.ts), and no other process can have it. */
let unread = 0;
let reapWaiting = false;

function reap(): void {
  if (unread > 0) {
    reapWaiting = true;
    return;
  }
  reapWaiting = false;
  const rows = native.reapClones();
  if (rows.length > 0) send({ op: "exits", rows });
}

process.on("SIGCHLD", reap);

const buf = Buffer.alloc(1 << 20);
handle = native.pollFd(ctl, () => {
  for (;;) {
    const got = native.recvFds(ctl, buf);
    if (typeof got === "number") {
      if (got === -EAGAIN) return;
      native.exitNow(0); // the parent is gone
    }
    const [len, fds] = got;
    for (const fd of fds) closeSync(fd);
    if (len === 0) native.exitNow(0);
    const msg = JSON.parse(buf.toString("utf8", 0, len)) as { op: string; [k: string]: unknown };
    if (msg.op === "init") {
      void init(msg as unknown as Parameters<typeof init>[0]);
    } else if (msg.op === "pidsRead") {
      unread = Math.max(0, unread - 1);
      if (unread === 0 && reapWaiting) reap();
    } else if (msg.op === "fork") {
      if (forkClones(msg.n as number, (msg.collapse as [number, number][]) ?? [])) return;
    } else {
      fail(`unknown message ${JSON.stringify(msg.op)}`);
    }
  }
});
