// What the owner of a named sandbox and `sandlock ps|inspect|kill` say to each other over
// the entry's unix socket: one JSON object per line, each direction, bounded in size.

import { createHash } from "node:crypto";
import type { Socket } from "node:net";

export const PROTOCOL_VERSION = 1;
/** Bytes of the owner's token (see server.ts: why a client must read it from /proc). */
export const TOKEN_BYTES = 32;
/** The largest line either side accepts; a longer one ends the connection. */
export const MAX_LINE_BYTES = 1 << 20;

/** The entry file of a name: a fixed-length hash, so any valid name (up to 64 bytes of
 * UTF-8) fits a socket address, and a file name never carries the name's bytes. */
export function entryFile(name: string): string {
  return `${createHash("sha256").update(name, "utf8").digest("hex").slice(0, 32)}.sock`;
}

export const ENTRY_FILE = /^[0-9a-f]{32}\.sock$/;

/** Sent by the owner as soon as a client connects. */
export interface Hello {
  readonly sandlock: number;
  /** The owner's descriptor holding the token: the client reads /proc/<owner>/fd/<tokenFd>. */
  readonly tokenFd: number;
}

export type Op = "info" | "inspect" | "stop" | "checkpoint";

export interface Request {
  readonly token: string;
  readonly op: Op;
  /** stop: the signal number sent first (SIGKILL: no grace). */
  readonly signal?: number;
  /** stop: milliseconds before everything left is SIGKILLed. */
  readonly killAfterMs?: number;
  /** checkpoint: the absolute path of the directory to save it to (must not exist). */
  readonly dir?: string;
}

/** What a checkpoint answered (op "checkpoint"). */
export interface Checkpointed {
  readonly dir: string;
  readonly processes: number;
  readonly memoryBytes: number;
  /** Why it was saved without a seal (the kernel keyring could not be used), if it was. */
  readonly unsealed?: string;
}

/** What `ps` shows of a sandbox (op "info"). */
export interface SandboxInfo {
  readonly name: string;
  /** "starting" until the command has exec'd, then the Sandbox's state. */
  readonly state: string;
  /** The command's root process, once started. */
  readonly pid: number | null;
  readonly launcherPid: number | null;
  readonly ownerPid: number;
  /** Wall clock, ms since the epoch, when the name was registered. */
  readonly startedAt: number;
  readonly command: readonly string[];
  /** Policy.toJSON(). */
  readonly policy: Record<string, unknown>;
}

export interface ProcessRow {
  readonly pid: number;
  readonly ppid: number;
  /** The /proc state letter (R, S, T, Z...). */
  readonly state: string;
  readonly command: string;
}

export interface Usage {
  readonly processes: number;
  readonly maxProcesses: number;
  /** Sum of RssAnon of the processes: the anonymous memory maxMemory caps (the supervisor
   * also charges kernel buffers, not counted here). */
  readonly memoryBytes: number;
  readonly maxMemory: number | null;
  /** CPU seconds (user + system) of the live processes. */
  readonly cpuSeconds: number;
  readonly maxCpu: number | null;
}

/** What `inspect` shows (op "inspect"). */
export interface SandboxDetails extends SandboxInfo {
  readonly enforcement: Record<string, string> | null;
  readonly processes: readonly ProcessRow[];
  readonly usage: Usage;
}

/** The end of a stop (op "stop"): sent once every process is gone. */
export interface Stopped {
  readonly event: "stopped";
  /** Whether the grace period ran out and everything was SIGKILLed. */
  readonly forced: boolean;
  /** Processes the first signal was sent to. */
  readonly signalled: number;
  readonly status: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
}

export type Reply = ({ readonly ok: true } & (SandboxInfo | SandboxDetails | Stopped)) | { readonly ok: false; readonly error: string };

/** Calls onLine with each complete line; destroys the socket on an oversized one. */
export function readLines(socket: Socket, onLine: (line: string) => void): void {
  let pending = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine(line);
      if (socket.destroyed) return;
    }
    if (pending.length > MAX_LINE_BYTES) socket.destroy(new Error(`a line longer than ${MAX_LINE_BYTES} bytes`));
  });
}

export function sendLine(socket: Socket, value: unknown): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify(value)}\n`);
}

/** The descriptor under a connected net.Socket (for SO_PEERCRED), or undefined. */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}
