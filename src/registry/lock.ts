// The registry directory's lock. Every change of an entry (a claim linking its socket, a
// client or a claim removing a stale one, an owner removing its own at its close) is made
// holding it, together with the look that decides it: without it, an entry found stale
// could be closed, removed and claimed again by a new owner between that look and the
// unlink, and the new owner's entry went (the fresh-clone CI run of 22081a3 lost 2 of
// 14,721 claims so, registry-claim.test.ts). flock(2) on `.lock` in the directory: the
// kernel drops it when its holder dies, and it is held only for a few system calls, never
// across an await. A process that cannot have it within LOCK_WAIT_MS (another process of
// this user holding it, e.g. a sandbox granted the directory) changes nothing.

import { closeSync, constants, lstatSync, openSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";

export const LOCK_FILE = ".lock";
/** How long a change waits for the lock before it gives up. */
export const LOCK_WAIT_MS = 2_000;

const LOCK_EX = 2;
const LOCK_NB = 4;
const ENOENT = 2;
const EWOULDBLOCK = 11;
const ECONNREFUSED = 111;

export type Locked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly why: string; readonly code?: string };

/** fn's value, run holding the lock of `dir`; "busy" when another process holds it. */
export function tryUnderLock<T>(dir: string, fn: () => T): Locked<T> | "busy" {
  const file = join(dir, LOCK_FILE);
  let fd: number;
  try {
    // (libuv opens every file close-on-exec)
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, why: `open(${file}): ${code ?? String(e)}`, code };
  }
  try {
    const rc = native().flockFd(fd, LOCK_EX | LOCK_NB);
    if (rc === -EWOULDBLOCK) return "busy";
    if (rc < 0) return { ok: false, why: `flock(${file}): ${errnoName(-rc)}` };
    return { ok: true, value: fn() };
  } finally {
    closeSync(fd); // drops the lock
  }
}

/** fn's value, run holding the lock of `dir`, waited for at most waitMs. `background`: the
 * wait does not keep the process alive (a removal a process may leave undone at its exit:
 * the entry is then stale, and the next client or claim removes it). */
export async function underLock<T>(dir: string, fn: () => T, waitMs = LOCK_WAIT_MS, background = false): Promise<Locked<T>> {
  const end = performance.now() + waitMs;
  for (let delay = 1; ; delay = Math.min(2 * delay, 50)) {
    const r = tryUnderLock(dir, fn);
    if (r !== "busy") return r;
    if (performance.now() >= end) return { ok: false, why: `${join(dir, LOCK_FILE)} was held by another process for ${waitMs} ms` };
    await new Promise((resolve) => {
      const t = setTimeout(resolve, delay);
      if (background) t.unref();
    });
  }
}

/** Who listens at the entry `path`: its owner's pid (undefined when its backlog is full),
 * "stale" (nobody: a socket nobody listens on, or a file that is no socket), "gone", or
 * the errno of another failure. */
export function listenerOf(path: string): { pid: number | undefined } | "stale" | "gone" | { errno: string } {
  const r = native().unixListening(Buffer.from(path));
  if (typeof r !== "number") return { pid: r[0] };
  if (r === -EWOULDBLOCK) return { pid: undefined };
  if (r === -ECONNREFUSED) return "stale";
  if (r === -ENOENT) return "gone";
  return { errno: errnoName(-r) };
}

/** Unlinks the entry at `path` if it is a socket (never another kind of file). */
export function unlinkSocket(path: string): boolean {
  try {
    if (!lstatSync(path).isSocket()) return false;
    unlinkSync(path);
    return true;
  } catch {
    return false; // gone meanwhile
  }
}

/** Under the lock: removes the entry at `path` if it is a socket nobody listens on. */
export function removeIfStale(path: string): boolean {
  return listenerOf(path) === "stale" && unlinkSocket(path);
}

/** Removes the entry at `path` if it is stale, holding the lock (a client found it so). */
export function removeStale(path: string): void {
  const dir = dirname(path);
  const r = tryUnderLock(dir, () => removeIfStale(path));
  if (r === "busy") void underLock(dir, () => removeIfStale(path), LOCK_WAIT_MS, true);
}
