// What the red-team case scripts share (test/scripts/red1?-case.ts): printing one JSON line of
// what happened (an exception as { error }) and exiting, and waiting for a sandbox's listener.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Sandbox } from "../../src/index.js";
import { loopThreadSched } from "./proc.js";

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

/**
 * The longest gap of this process's event loop while `fn` runs (past the 5 ms timer's own
 * period), less the time its thread waited for a CPU within that gap (schedstat's run
 * delay): the loop held by work, on a CPU or blocked in the kernel, which is what the
 * supervisor must not do, rather than by other programs on a busy machine (a 126 ms gap
 * in a CI run beside the background part, 17-25 ms alone, with two busy loops beside it
 * too). The raw longest gap comes with it, and the CPU time. A loop kept busy by this
 * process is still seen whole (supervisor-cost's positive control blocks it 300 ms).
 */
export async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; worstGapMs: number; rawWorstGapMs: number; cpuMs: number }> {
  let last = performance.now();
  let lastWaited = loopThreadSched().waitedMs;
  let worst = 0;
  let worstRaw = 0;
  const iv = setInterval(() => {
    const t = performance.now();
    const waited = loopThreadSched().waitedMs;
    worstRaw = Math.max(worstRaw, t - last - 5);
    worst = Math.max(worst, t - last - 5 - (waited - lastWaited));
    last = t;
    lastWaited = waited;
  }, 5);
  const cpu0 = process.cpuUsage();
  try {
    const value = await fn();
    const cpu = process.cpuUsage(cpu0);
    return { value, worstGapMs: Math.round(worst), rawWorstGapMs: Math.round(worstRaw), cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
  } finally {
    clearInterval(iv);
  }
}
