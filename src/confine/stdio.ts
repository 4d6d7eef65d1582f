// Standard streams of a sandbox: turns the stdin/stdout/stderr options into the three
// descriptors the command receives, plus the parent-side Node streams and capture.

import { closeSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { SandboxError } from "../errors.js";
import { native } from "./native.js";

/** A number is a descriptor of this process that the command gets as its stdin. */
export type StdinOption = Buffer | string | Readable | number | "pipe" | "inherit" | "ignore";
/** A number is a descriptor of this process the command writes to (a pipeline's pipe). */
export type OutputOption = "pipe" | "inherit" | "ignore" | Writable | number;

export interface StdioOptions {
  stdin?: StdinOption;
  stdout?: OutputOption;
  stderr?: OutputOption;
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

/**
 * Captures everything the socket delivers. With `exposed`, each chunk is also pushed to a
 * stream handed to the caller: it buffers without limit, so a listener attached late
 * still sees the first bytes, and a caller that never reads cannot stall the command.
 */
function collect(sock: Socket, exposed: Readable | null): Promise<Buffer> {
  const chunks: Buffer[] = [];
  sock.on("data", (c: Buffer) => {
    chunks.push(c);
    exposed?.push(c);
  });
  return new Promise((resolve) => {
    sock.once("close", () => {
      exposed?.push(null);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Reads a pipe's read end to its end: the captured bytes, and with `expose` a stream of
 * them as they come; `socket` is what reads it. */
export function captureFd(fd: number, expose: boolean): { socket: Socket; stream: Readable | null; captured: Promise<Buffer> } {
  const socket = pipeSocket(fd, true);
  const stream = expose ? new (streams().Readable)({ read: () => undefined }) : null;
  return { socket, stream, captured: collect(socket, stream) };
}

/** `expose`: give the caller streams of the piped outputs (spawn), not only the capture (run). */
export function openStdio(opts: StdioOptions, defaults: Required<StdioOptions>, expose: boolean): StdioSet {
  const n = native();
  const toClose: number[] = [];
  const childFds: [number, number, number] = [0, 1, 2];
  let stdin: Socket | null = null;
  const outputs: (Readable | null)[] = [null, null];
  const captures: (Promise<Buffer> | null)[] = [null, null];
  const drains: Promise<unknown>[] = [];
  const sockets: Socket[] = [];

  const inOpt = opts.stdin ?? defaults.stdin;
  if (inOpt === "inherit") {
    childFds[0] = 0;
  } else if (typeof inOpt === "number") {
    if (!Number.isInteger(inOpt) || inOpt < 0) throw new SandboxError(`stdin: ${inOpt} is not a file descriptor`);
    childFds[0] = inOpt;
  } else if (inOpt === "ignore") {
    childFds[0] = devNull(false);
    toClose.push(childFds[0]);
  } else {
    const [r, w] = n.pipe();
    childFds[0] = r;
    toClose.push(r);
    stdin = pipeSocket(w, false);
    // A command that exits without reading its input closes the pipe: not an error here.
    stdin.on("error", () => undefined);
    // "pipe" is a keyword; any other string is data (use a Buffer to send the word itself).
    if (inOpt === "pipe") {
      // exposed as sb.stdin
    } else if (typeof inOpt === "string" || Buffer.isBuffer(inOpt)) stdin.end(inOpt);
    else if (typeof inOpt === "object" && inOpt instanceof streams().Readable) inOpt.pipe(stdin);
    else throw new SandboxError(`stdin: unsupported option ${String(inOpt)}`);
  }

  ([opts.stdout ?? defaults.stdout, opts.stderr ?? defaults.stderr] as const).forEach((o, i) => {
    const target = i + 1;
    if (o === "inherit") {
      childFds[target] = target;
    } else if (typeof o === "number") {
      if (!Number.isInteger(o) || o < 0) throw new SandboxError(`${i === 0 ? "stdout" : "stderr"}: ${o} is not a file descriptor`);
      childFds[target] = o;
    } else if (o === "ignore") {
      childFds[target] = devNull(true);
      toClose.push(childFds[target]);
    } else if (o === "pipe" || (typeof o === "object" && o instanceof streams().Writable)) {
      const [r, w] = n.pipe();
      childFds[target] = w;
      toClose.push(w);
      if (o === "pipe") {
        const capture = captureFd(r, expose);
        sockets.push(capture.socket);
        outputs[i] = capture.stream;
        captures[i] = capture.captured;
      } else {
        const sock = pipeSocket(r, true);
        sockets.push(sock);
        sock.pipe(o, { end: false });
        drains.push(new Promise((resolve) => sock.once("close", resolve)));
      }
    } else {
      throw new SandboxError(`${i === 0 ? "stdout" : "stderr"}: unsupported option ${String(o)}`);
    }
  });

  return {
    childFds,
    stdin: inOpt === "pipe" ? stdin : null,
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
