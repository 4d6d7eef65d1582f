// Standard streams of a sandbox: turns the stdin/stdout/stderr options into the three
// descriptors the command receives, plus the parent-side Node streams and capture.

import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import type { OnReadOpts, Socket, SocketConstructorOpts } from "node:net";
import type { Readable, Writable } from "node:stream";
import { SandboxError } from "../errors.js";
import { native } from "./native.js";

/**
 * What the command's stdin is: a mode, never data ("pipe": a writable `sb.stdin`;
 * "inherit": this process's stdin; "ignore": /dev/null; a number: that descriptor of this
 * process). Data goes in the separate `input` option.
 */
export type StdinOption = "pipe" | "inherit" | "ignore" | number;
/** Data written to the command's stdin, then closed: text (UTF-8), bytes, or a stream. */
export type InputOption = string | Uint8Array | Readable;
/** Where the command's stdout or stderr goes ("pipe": captured, and a stream with spawn;
 * a number: that descriptor of this process, as a pipeline's pipe). */
export type OutputOption = "pipe" | "inherit" | "ignore" | Writable | number;

/** 100 MiB: the default maxBuffer of each captured stream. */
export const DEFAULT_MAX_BUFFER = 100 * 1024 * 1024;

/** The standard streams of a run (part of SpawnOptions). */
export interface StdioOptions {
  /** The command's stdin mode (run: "ignore", runInteractive: "inherit"). Not with `input`. */
  stdin?: StdinOption;
  /** Data for the command's stdin: a string is always data, even "inherit". */
  input?: InputOption;
  /** Where stdout goes (run: "pipe", runInteractive: "inherit"). */
  stdout?: OutputOption;
  /** Where stderr goes (run: "pipe", runInteractive: "inherit"). */
  stderr?: OutputOption;
  /**
   * Bytes of each piped stream kept for the result (default 100 MiB). A command that
   * writes more is killed and run()/wait() reject with OutputLimitError naming the stream.
   * Past the limit the pipe is no longer read, so the command's next writes wait for the
   * kill: only what still fits in the pipe (64 KiB) and one read can be written after it.
   * A piped stream is read until the sandbox has ended, then for what the pipe holds: a
   * write end the sandbox passed outside (to another sandbox, over a unix socket) does not
   * keep the result pending, and its next write there gets EPIPE.
   */
  maxBuffer?: number;
  /**
   * Keep piped output for the result (default true). false (spawn only): nothing is kept,
   * `sb.stdout`/`sb.stderr` stream the pipes as they are read, a reader that does not keep
   * up makes the command block on its writes (backpressure), and each stream ends once the
   * sandbox has ended and what the pipe held has been read. Destroying one closes its pipe.
   */
  buffer?: boolean;
}

/** The parent side of a sandbox's stdio, once the launcher holds the child side. */
export interface StdioSet {
  childFds: [number, number, number];
  stdin: Socket | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** Closes the child-side descriptors in this process (after the launcher has them). */
  releaseChildFds(): void;
  /** Whether the output pipes keep Node's event loop alive (they do by default). */
  setRef(ref: boolean): void;
  /** Resolves with captured output ("pipe" streams only) once both streams ended. */
  collected: Promise<{ stdout: Buffer | null; stderr: Buffer | null }>;
}

// node:net and node:stream load only when a run pipes its output: a run with inherited
// or ignored stdio (the CLI's) never pays for them at start-up.
const load = createRequire(import.meta.url);
let streamModule: typeof import("node:stream") | undefined;
let netModule: typeof import("node:net") | undefined;
const streams = (): typeof import("node:stream") => (streamModule ??= load("node:stream") as typeof import("node:stream"));
const net = (): typeof import("node:net") => (netModule ??= load("node:net") as typeof import("node:net"));

function devNull(write: boolean): number {
  return openSync("/dev/null", write ? "w" : "r");
}

function pipeSocket(fd: number, readable: boolean): Socket {
  return new (net().Socket)({ fd, readable, writable: !readable });
}

/** What captureFd keeps: at most maxBuffer bytes; onOverflow runs once past them. */
export interface CaptureLimit {
  readonly maxBuffer: number;
  readonly onOverflow: () => void;
  /** Settles when the sandbox has ended (its launcher is gone, and every process of it).
   * Past the limit the pipe is not read until then, so its writer blocks on a full pipe and
   * the kill finds it still writing. Read and dropped at once, the rest of a command's
   * output could all be written before the kill reached it (a 200,000-byte `tr` under a
   * 1,000-byte limit, 1 run in 300 on a loaded machine), and the run read as having exited.
   * Once it settles, the capture reads what the pipe holds and ends: no process of the
   * sandbox can write more, and a write end held elsewhere (passed to another sandbox over a
   * unix socket, or to a host process) must neither keep the run's result pending nor be
   * read for ever (the eleventh review: a second sandbox writing into the first's pipe kept
   * its run() open and the supervising process reading and dropping gigabytes). */
  readonly ended?: Promise<unknown>;
}

/** Reads at most this many times (of 64 KiB) from a pipe when its sandbox has ended: more
 * than a pipe can hold (1 MiB at most for a process without CAP_SYS_RESOURCE), bounded
 * against a writer outside the sandbox that keeps it full. */
const FINAL_READS = 20;

/** Reads what a non-blocking pipe holds now into buf, handing each read's length to `each`;
 * stops when it is empty (EAGAIN), at its end, or after FINAL_READS reads. */
function readRest(fd: number, buf: Buffer, each: (got: number) => void): void {
  for (let i = 0; i < FINAL_READS; i++) {
    let got: number;
    try {
      got = readSync(fd, buf, 0, buf.length, null);
    } catch {
      return; // EAGAIN: empty
    }
    if (got === 0) return;
    each(got);
  }
}

/** What every pipe read by pipeReader reads into before a chunk is copied out: one for all,
 * as the callbacks that read it run one at a time on this thread and copy what they keep. */
let socketReadBuffer: Buffer | undefined;

/**
 * A socket reading pipe `fd`: each read is handed to `take` (in the shared buffer, which take
 * copies from if it keeps it); take's false stops the reads until `socket.resume()`. Once
 * `ended` settles (the sandbox is gone, so what its processes wrote is in the pipe), what the
 * pipe holds is handed to take as well, after what the socket read (its reads run on this
 * thread too, so the order holds), and the socket is destroyed, its descriptor closed.
 */
function pipeReader(fd: number, take: (got: number, buf: Buffer) => boolean, ended: Promise<unknown> | undefined): Socket {
  const buffer = (socketReadBuffer ??= Buffer.allocUnsafe(64 * 1024));
  // onread is one of the Socket constructor's options (net.connect passes its options to
  // it), though its types list it only for connect(); stdio.test checks that it holds.
  const opts: SocketConstructorOpts & { onread: OnReadOpts } = { fd, readable: true, writable: false, onread: { buffer, callback: (got: number) => take(got, buffer) } };
  const socket: Socket = new (net().Socket)(opts);
  const finish = (): void => {
    if (socket.destroyed) return;
    readRest(fd, buffer, (got) => take(got, buffer));
    socket.destroy();
  };
  ended?.then(finish, finish);
  return socket;
}

/**
 * Reads a pipe's read end until its end or, once limit.ended settles, until it is empty,
 * up to limit.maxBuffer bytes: past them the chunk is cut at the limit, onOverflow runs once
 * (the caller kills the sandbox), reading stops at once (the socket's onread callback
 * returns false: no read-ahead into a stream's buffer) until limit.ended settles, and what
 * the pipe holds then is read and dropped, so the parent's memory never holds more than the
 * limit and a writer past it holds at most a pipe's worth. With `expose`, each kept chunk
 * is also pushed to a stream handed to the caller: a listener attached late still sees the
 * first bytes, and a caller that never reads cannot stall the command (that stream shares
 * the kept chunks, so it is bounded by the same limit). `socket` is what reads it.
 */
export function captureFd(fd: number, expose: boolean, limit: CaptureLimit = NO_OVERFLOW_ACTION): { socket: Socket; stream: Readable | null; captured: Promise<Buffer> } {
  const exposed = expose ? new (streams().Readable)({ read: () => undefined }) : null;
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  let held = false;
  /** Keeps what fits of a read; false: stop reading (past the limit, until the end). */
  const keep = (got: number, buf: Buffer): boolean => {
    if (over) return !held;
    const room = Math.min(got, limit.maxBuffer - size);
    over = got > room;
    if (room > 0) {
      const c = Buffer.from(buf.subarray(0, room));
      chunks.push(c);
      exposed?.push(c);
      size += room;
    }
    if (!over) return true;
    held = limit.ended !== undefined;
    limit.onOverflow();
    return !held;
  };
  const socket = pipeReader(fd, keep, limit.ended);
  const captured = new Promise<Buffer>((resolve) => {
    socket.once("close", () => {
      exposed?.push(null);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
  });
  return { socket, stream: exposed, captured };
}

/**
 * Forwards a pipe's read end to a caller's Writable until the pipe's end or, once `ended`
 * settles (the sandbox is gone), until it is empty, as captureFd reads. Each read is handed
 * to the stream as it comes (no read-ahead buffer of the socket's that an end could lose);
 * while the stream asks to wait (write() false) the pipe is not read, so the command blocks
 * on its writes. Resolves when the forwarding has ended (the stream itself is left open).
 */
export function forwardFd(fd: number, to: Writable, ended: Promise<unknown>): { socket: Socket; done: Promise<void> } {
  let waiting = false;
  const write = (got: number, buf: Buffer): boolean => {
    if (to.write(Buffer.from(buf.subarray(0, got)))) return true;
    if (!waiting) {
      waiting = true;
      to.once("drain", () => {
        waiting = false;
        if (!socket.destroyed) socket.resume();
      });
    }
    return false;
  };
  const socket = pipeReader(fd, write, ended);
  const done = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, done };
}

/**
 * A pipe's read end as a stream the caller reads (spawn with `buffer: false`), until the
 * pipe's end or, once `ended` settles (the sandbox is gone), until it is empty, as
 * forwardFd hands it on: each read is pushed as it comes, and while the stream holds its
 * high-water mark the pipe is not read. A read error ends the stream with that error.
 */
export function streamFd(fd: number, ended: Promise<unknown>): { socket: Socket; stream: Readable } {
  let waiting = false;
  const stream: Readable = new (streams().Readable)({
    read: () => {
      if (!waiting) return;
      waiting = false;
      if (!socket.destroyed) socket.resume();
    },
  });
  const push = (got: number, buf: Buffer): boolean => {
    if (stream.push(Buffer.from(buf.subarray(0, got)))) return true;
    waiting = true;
    return false;
  };
  const socket = pipeReader(fd, push, ended);
  socket.on("error", (e) => stream.destroy(e));
  socket.once("close", () => {
    if (!stream.destroyed) stream.push(null);
  });
  // The caller destroyed its stream: the pipe is closed, the command's next write gets EPIPE.
  stream.once("close", () => socket.destroy());
  return { socket, stream };
}

const NO_OVERFLOW_ACTION: CaptureLimit = { maxBuffer: DEFAULT_MAX_BUFFER, onOverflow: () => undefined };

/** What capturePipe reads into before a chunk is copied out (one for every pipe). */
let readBuffer: Buffer | undefined;

/** Reads one wakeup of a pipe's poll handle makes at most (then libuv calls again while
 * the pipe stays readable): a writer that keeps a pipe full cannot hold the event loop. */
const READS_PER_WAKEUP = 16;

/**
 * captureFd for the many short-lived pipes of a fork group's clones (two each, a thousand
 * at once): the read end (non-blocking) is read from a libuv poll handle, with no socket
 * and no stream per pipe, which were most of what the parent allocated per clone (about
 * 25 KiB, docs/fork.md). Kept and bounded as captureFd keeps it, except that the capture
 * ends at the limit (the pipe is closed: a writer the clone's kill did not reach, one it
 * left in another session, gets EPIPE instead of being read and dropped for ever).
 * `stream()` makes, on its first call, a Readable holding every chunk kept so far and
 * what follows, so a reader attached late still sees the first bytes. `finish()` reads
 * what the pipe holds now and ends the capture (a clone has exited: what it wrote is in
 * the pipe; a process it left behind holding the write end does not keep its result
 * open). The descriptor is closed at its end.
 */
export function capturePipe(fd: number, limit: CaptureLimit): { captured: Promise<Buffer>; stream(): Readable; finish(): void } {
  const n = native();
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  let exposed: Readable | undefined;
  let resolve!: (b: Buffer) => void;
  const captured = new Promise<Buffer>((r) => (resolve = r));
  const end = (): void => {
    if (ended) return;
    ended = true;
    n.pollClose(handle);
    closeSync(fd);
    exposed?.push(null);
    resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  };
  /** Reads until the pipe is empty (then returns), ends or the limit is passed (then ends
   * the capture); at most `reads` reads. A final pump (finish) ends it when empty too. */
  const pump = (status: number, reads: number, final: boolean): void => {
    if (ended) return;
    readBuffer ??= Buffer.allocUnsafe(64 * 1024);
    for (let i = 0; i < reads; i++) {
      let got: number;
      try {
        got = readSync(fd, readBuffer, 0, readBuffer.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN" && status >= 0 && !final) return;
        got = 0; // a read error ends the capture as the end of the pipe does
      }
      if (got === 0) return end();
      let c = readBuffer.subarray(0, got);
      const over = size + c.length > limit.maxBuffer;
      if (over) c = c.subarray(0, limit.maxBuffer - size);
      size += c.length;
      if (c.length > 0) {
        const kept = Buffer.from(c);
        chunks.push(kept);
        exposed?.push(kept);
      }
      if (over) {
        limit.onOverflow();
        return end();
      }
    }
    if (final) end();
  };
  const handle = n.pollFd(fd, (status: number) => pump(status, READS_PER_WAKEUP, false));
  // (bounded: each read keeps up to 64 KiB until the limit, where the capture ends)
  const finish = (): void => pump(0, Math.ceil(limit.maxBuffer / (64 * 1024)) + 2, true);
  const stream = (): Readable => {
    if (exposed === undefined) {
      exposed = new (streams().Readable)({ read: () => undefined });
      for (const c of chunks) exposed.push(c);
      if (ended) exposed.push(null);
    }
    return exposed;
  };
  return { captured, stream, finish };
}

const STDIN_MODES = ["pipe", "inherit", "ignore"];

/** The checked stdin and input options: a clear error names the bad one. */
function checkInput(opts: StdioOptions): void {
  const { stdin, input } = opts;
  if (stdin !== undefined && !STDIN_MODES.includes(stdin as string) && typeof stdin !== "number") {
    const shown = typeof stdin === "string" ? JSON.stringify(stdin) : Buffer.isBuffer(stdin) ? "a Buffer" : typeof stdin === "object" && stdin !== null ? "a stream" : String(stdin);
    throw new SandboxError(`stdin: ${shown} is not a mode ("pipe", "inherit", "ignore" or a descriptor number); data for the command goes in the input option`);
  }
  if (typeof stdin === "number" && (!Number.isInteger(stdin) || stdin < 0)) throw new SandboxError(`stdin: ${stdin} is not a file descriptor`);
  if (input === undefined) return;
  if (typeof input !== "string" && !(input instanceof Uint8Array) && !(typeof input === "object" && input !== null && input instanceof streams().Readable)) {
    throw new SandboxError(`input: ${input === null ? "null" : typeof input} is not a string, a Buffer/Uint8Array or a Readable stream`);
  }
  if (stdin !== undefined) throw new SandboxError(`input: cannot be combined with stdin ${JSON.stringify(stdin)} (input is what the command's stdin reads)`);
}

/** The checked output options of one stream. */
function checkOutput(name: "stdout" | "stderr", o: unknown): void {
  if (o === undefined || o === "pipe" || o === "inherit" || o === "ignore") return;
  if (typeof o === "number" && Number.isInteger(o) && o >= 0) return;
  if (typeof o === "object" && o !== null && o instanceof streams().Writable) return;
  throw new SandboxError(`${name}: ${typeof o === "string" ? JSON.stringify(o) : typeof o === "number" ? String(o) : typeof o} is not "pipe", "inherit", "ignore", a Writable stream or a file descriptor`);
}

/** Checks every stdio option before anything is opened; throws SandboxError naming the option. */
export function checkStdioOptions(opts: StdioOptions, expose: boolean): void {
  checkInput(opts);
  checkOutput("stdout", opts.stdout);
  checkOutput("stderr", opts.stderr);
  const { maxBuffer, buffer } = opts;
  if (maxBuffer !== undefined && (typeof maxBuffer !== "number" || !Number.isSafeInteger(maxBuffer) || maxBuffer < 1)) {
    throw new SandboxError(`maxBuffer: ${typeof maxBuffer === "number" ? String(maxBuffer) : JSON.stringify(maxBuffer)} must be a positive integer number of bytes (output is never kept without a bound; use buffer: false to stream it instead)`);
  }
  if (buffer !== undefined && typeof buffer !== "boolean") throw new SandboxError(`buffer: ${JSON.stringify(buffer)} must be true or false`);
  if (buffer === false && !expose) throw new SandboxError("buffer: false needs spawn() and a reader of sb.stdout/sb.stderr (run() returns only kept output; stdout: \"ignore\" drops it)");
}

const F_SEAL_SHRINK = 0x2;
const F_SEAL_GROW = 0x4;
const F_SEAL_WRITE = 0x8;
const O_ACCMODE = 3;

/**
 * A descriptor of the caller's given as stdin, stdout or stderr that names a memfd (a file
 * that takes seals) opened read-only must be sealed against writes and size changes: no
 * Landlock rule covers a memfd, so a sandbox can reopen it through /proc/self/fd/N for
 * writing and change the caller's file (the thirteenth review: "HOST-SECRET-CONFIG" became
 * "P" through a read-only stdin). Refused with what to do instead.
 */
function checkPassedMemfd(name: string, fd: number): void {
  const n = native();
  const seals = n.fileSeals(fd);
  if (seals < 0) return; // not a memfd (EINVAL), or not open: the launcher says so
  const flags = n.fileFlags(fd);
  if (flags < 0 || (flags & O_ACCMODE) !== 0) return;
  const needed = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
  if ((seals & needed) === needed) return;
  throw new SandboxError(
    `${name}: descriptor ${fd} is a memfd opened read-only but not sealed against writes: the sandbox could reopen it through /proc/self/fd/${fd} for writing (no Landlock rule covers a memfd) and change it; seal it (F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW), or pass its content as \`input\``,
  );
}

/** What openStdio needs to know about the output limit. */
export interface OutputLimits {
  /** Bytes kept per captured stream. */
  readonly maxBuffer: number;
  /** Keep output for the result (false: the caller streams it). */
  readonly buffer: boolean;
  /** Called once when a captured stream went past maxBuffer. */
  readonly onOverflow: (stream: "stdout" | "stderr") => void;
  /** Settles when every process of the sandbox is gone: each output pipe is read for what it
   * holds and closed, the stdin pipe closed (a pipe end the sandbox passed outside, to
   * another sandbox over a unix socket, is then neither read nor fed). */
  readonly ended: Promise<unknown>;
}

/** The modes of a kind of run when the caller gives none. */
export type StdioDefaults = { readonly stdin: StdinOption; readonly stdout: OutputOption; readonly stderr: OutputOption };

/** `expose`: give the caller streams of the piped outputs (spawn), not only the capture (run). */
export function openStdio(opts: StdioOptions, defaults: StdioDefaults, expose: boolean, limits: OutputLimits): StdioSet {
  checkStdioOptions(opts, expose);
  const n = native();
  const toClose: number[] = [];
  const childFds: [number, number, number] = [0, 1, 2];
  let stdin: Socket | null = null;
  const outputs: (Readable | null)[] = [null, null];
  const captures: (Promise<Buffer> | null)[] = [null, null];
  const drains: Promise<unknown>[] = [];
  const sockets: Socket[] = [];

  // input is data, always: only the stdin option names a mode (a string equal to
  // "inherit" in input must never hand this process's stdin to the sandbox).
  const input = opts.input;
  const inOpt = input !== undefined ? "pipe" : (opts.stdin ?? defaults.stdin);
  if (inOpt === "inherit") {
    childFds[0] = 0;
  } else if (typeof inOpt === "number") {
    checkPassedMemfd("stdin", inOpt);
    childFds[0] = inOpt;
  } else if (inOpt === "ignore") {
    childFds[0] = devNull(false);
    toClose.push(childFds[0]);
  } else {
    const [r, w] = n.pipe();
    childFds[0] = r;
    toClose.push(r);
    const sock = pipeSocket(w, false);
    stdin = sock;
    // A command that exits without reading its input closes the pipe: not an error here.
    sock.on("error", () => undefined);
    let piped: Readable | undefined;
    if (typeof input === "string" || input instanceof Uint8Array) sock.end(input);
    else if (input !== undefined) (piped = input).pipe(sock);
    // Once the sandbox has ended nothing of it reads the pipe: a read end it passed to
    // another sandbox must not get the rest of the input (the twelfth review: an endless
    // input stream fed another sandbox at 2-3 GB/s).
    const close = (): void => {
      piped?.unpipe(sock);
      sock.destroy();
    };
    limits.ended.then(close, close);
  }

  ([opts.stdout ?? defaults.stdout, opts.stderr ?? defaults.stderr] as const).forEach((o, i) => {
    const target = i + 1;
    if (o === "inherit") {
      childFds[target] = target;
    } else if (typeof o === "number") {
      if (!Number.isInteger(o) || o < 0) throw new SandboxError(`${i === 0 ? "stdout" : "stderr"}: ${o} is not a file descriptor`);
      checkPassedMemfd(i === 0 ? "stdout" : "stderr", o);
      childFds[target] = o;
    } else if (o === "ignore") {
      childFds[target] = devNull(true);
      toClose.push(childFds[target]);
    } else if (o === "pipe" || (typeof o === "object" && o instanceof streams().Writable)) {
      const [r, w] = n.pipe();
      childFds[target] = w;
      toClose.push(w);
      if (o === "pipe" && !limits.buffer) {
        // Streaming: the caller reads the pipe through a stream that holds at most its
        // high-water mark, then stops reading the pipe, whose writer then blocks.
        const stream = streamFd(r, limits.ended);
        sockets.push(stream.socket);
        outputs[i] = stream.stream;
      } else if (o === "pipe") {
        const name = i === 0 ? "stdout" : "stderr";
        const capture = captureFd(r, expose, { maxBuffer: limits.maxBuffer, onOverflow: () => limits.onOverflow(name), ended: limits.ended });
        sockets.push(capture.socket);
        outputs[i] = capture.stream;
        captures[i] = capture.captured;
      } else {
        const forward = forwardFd(r, o, limits.ended);
        sockets.push(forward.socket);
        drains.push(forward.done);
      }
    }
  });

  return {
    childFds,
    stdin: input === undefined && inOpt === "pipe" ? stdin : null,
    stdout: outputs[0] ?? null,
    stderr: outputs[1] ?? null,
    setRef: (ref) => {
      for (const sock of sockets) {
        if (ref) sock.ref();
        else sock.unref();
      }
    },
    releaseChildFds: () => {
      for (const fd of toClose.splice(0)) closeSync(fd);
    },
    collected: Promise.all([captures[0], captures[1], ...drains]).then(([o, e]) => ({
      stdout: o ?? null,
      stderr: e ?? null,
    })),
  };
}
