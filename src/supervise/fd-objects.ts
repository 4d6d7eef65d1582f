// A process's descriptor table read in parts: the sockets, pipes and epoll files it holds
// (native/kmem.c). A sandbox decides how many descriptors its processes hold (19,000 of
// one process took 55-100 ms to read in one call), so callers on the event loop walk a
// table one part at a time and yield between parts.

import { native } from "../confine/native.js";

/** Descriptors read per part (a few milliseconds). */
export const FD_PART = 2048;

/** What a descriptor is: a socket or a pipe (`value`: its inode), or an epoll file (`value`:
 * its count of watches). */
export type FdObjectKind = "socket" | "pipe" | "epoll";

const KINDS: readonly (FdObjectKind | undefined)[] = [undefined, "socket", "pipe", "epoll"];

/**
 * Calls `each` for every socket, pipe and epoll descriptor of process `pid` (the thread
 * whose /proc entry shows its table), yielding after each part of FD_PART descriptors. A
 * process that is gone, or whose table cannot be read, has nothing.
 */
export function* fdObjectParts(pid: number, each: (kind: FdObjectKind, value: number) => void): Generator<void, void> {
  for (let from = 0; ; ) {
    const part = native().fdObjectsFrom(pid, from, FD_PART);
    if (typeof part === "number") return;
    // The descriptor to go on from, then triples (0, kind, value).
    for (let at = 4; at + 12 <= part.length; at += 12) {
      const kind = KINDS[part.readUInt32LE(at + 4)];
      if (kind !== undefined) each(kind, part.readUInt32LE(at + 8));
    }
    from = part.readUInt32LE(0);
    if (from === 0) return;
    yield;
  }
}
