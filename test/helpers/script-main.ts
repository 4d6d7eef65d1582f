// What the red-team case scripts share (test/scripts/red1?-case.ts): printing one JSON line of
// what happened (an exception as { error }) and exiting, and waiting for a sandbox's listener.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Sandbox } from "../../src/index.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `run` in a new directory under `prefix` (any user may list it; removed after) and
 * prints its outcome as one JSON line, then exits 0 (the test reads it). */
export function scriptMain(prefix: string, run: (base: string) => Promise<unknown>): void {
  const base = mkdtempSync(prefix);
  chmodSync(base, 0o755);
  run(base)
    .finally(() => rmSync(base, { recursive: true, force: true }))
    .then(
      (o) => {
        console.log(JSON.stringify(o));
        process.exit(0);
      },
      (e: Error) => {
        console.log(JSON.stringify({ error: e.stack ?? e.message }));
        process.exit(0);
      },
    );
}

/** Waits (3 s at most) until the unix socket at `path` exists (opened as a file: ENXIO),
 * while sandbox `sb`, which makes it, runs (when given). */
export async function untilListening(path: string, sb?: Sandbox): Promise<void> {
  for (let i = 0; i < 300 && (sb === undefined || sb.pid !== undefined); i++) {
    await sleep(10);
    try {
      readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") return;
    }
  }
}

/** An HTTP server on 127.0.0.1 (a port of the kernel's choosing) answering "ok" to every
 * request, and how many it answered: the destination of a domain rule's requests. */
export async function okServer(): Promise<{ port: number; served: () => number; close: () => void }> {
  const { createServer } = await import("node:http");
  let served = 0;
  const server = createServer((_q, s) => {
    served++;
    s.end("ok\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, served: () => served, close: () => server.close() };
}

/** A directory `name` under `base` that any user may write (the test user's sandboxes). */
export function sharedDir(base: string, name: string): string {
  const dir = join(base, name);
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  return dir;
}

/**
 * Sandbox B of a handoff: a directory `name` under `base` that any user may write, the
 * policy both sandboxes of the handoff run under (the program readable, that directory
 * writable), and B spawned as `program serve SOCKET ...serveArgs` (its stdout piped), once
 * its socket listens. Sandbox A then hands B a descriptor through SOCKET.
 */
export async function handoffReceiver(base: string, name: string, view: "kernel" | "supervised", program: string, serveArgs: readonly string[]): Promise<{ socket: string; policy: { fsReadable: string[]; fsWritable: string[]; procView: "kernel" | "supervised" }; b: Sandbox }> {
  const { Sandbox: S } = await import("../../src/index.js");
  const dir = sharedDir(base, name);
  const socket = join(dir, "s");
  const policy = { fsReadable: [program], fsWritable: [dir], procView: view };
  const b = new S(policy);
  await b.spawn([program, "serve", socket, ...serveArgs], { stdout: "pipe" });
  await untilListening(socket, b);
  return { socket, policy, b };
}

/** The longest gap of this process's event loop while `fn` runs, with its CPU time. */
export async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; worstGapMs: number; cpuMs: number }> {
  let last = performance.now();
  let worst = 0;
  const iv = setInterval(() => {
    const t = performance.now();
    worst = Math.max(worst, t - last - 5);
    last = t;
  }, 5);
  const cpu0 = process.cpuUsage();
  try {
    const value = await fn();
    const cpu = process.cpuUsage(cpu0);
    return { value, worstGapMs: Math.round(worst), cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
  } finally {
    clearInterval(iv);
  }
}
