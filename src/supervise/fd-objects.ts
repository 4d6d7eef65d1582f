// A process's descriptor table read in parts: the sockets, pipes, epoll files and terminals
// it holds (native/kmem.c). A sandbox decides how many descriptors its processes hold (19,000 of
// one process took 55-100 ms to read in one call), so callers on the event loop walk a
// table one part at a time and yield between parts.

import { native } from "../confine/native.js";

/** Descriptors read per part at most. */
export const FD_PART = 2048;
/** Microseconds a part may take: it ends at the first descriptor read past this
 * (native/kmem.c), so a slow machine reads fewer descriptors per part rather than holding
 * the event loop longer (2,048 took 16-20 ms on a slow VM). */
export const FD_PART_US = 4000;

/** What a descriptor is: a socket or a pipe (`value`: its inode), an epoll file (`value`:
 * its count of watches), a path whose last name is a number (`value`: the number: a
 * terminal /dev/pts/N, among others), or a path ending in "/ptmx" (a terminal's
 * multiplexer). */
export type FdObjectKind = "socket" | "pipe" | "epoll" | "numbered" | "ptmx";

const KINDS: readonly (FdObjectKind | undefined)[] = [undefined, "socket", "pipe", "epoll", "numbered", "ptmx"];

/** The bits of `kinds` for fdObjectsFrom. */
function kindBits(kinds: readonly FdObjectKind[]): number {
  let bits = 0;
  for (const k of kinds) bits |= 1 << KINDS.indexOf(k);
  return bits;
}

/**
 * Calls `each` for every descriptor of process `pid` (the thread whose /proc entry shows
 * its table) of one of `kinds`, with its number, yielding after each part (FD_PART
 * descriptors, fewer when they take longer than FD_PART_US). An epoll file's watches are
 * counted only when "epoll" is among `kinds` (its fdinfo holds a line per watch, and the
 * kernel makes the whole text at the first read: a walk that needs no count must not pay
 * for a sandbox's epoll file of a million watches). `each` returning true stops the walk. A
 * process that is gone, or whose table cannot be read, has nothing. Returns whether `each`
 * stopped it. `read`, when given, counts the descriptors read.
 */
export function* fdObjectParts(pid: number, kinds: readonly FdObjectKind[], each: (kind: FdObjectKind, value: number, fd: number) => boolean | void, read?: { descriptors: number }): Generator<void, boolean> {
  const bits = kindBits(kinds);
  for (let from = 0; ; ) {
    const part = native().fdObjectsFrom(pid, from, FD_PART, FD_PART_US, bits);
    if (typeof part === "number") return false;
    // The descriptor to go on from, how many were read, then triples (descriptor, kind, value).
    if (read !== undefined) read.descriptors += part.readUInt32LE(4);
    for (let at = 8; at + 12 <= part.length; at += 12) {
      const kind = KINDS[part.readUInt32LE(at + 4)];
      if (kind !== undefined && each(kind, part.readUInt32LE(at + 8), part.readUInt32LE(at)) === true) return true;
    }
    from = part.readUInt32LE(0);
    if (from === 0) return false;
    yield;
  }
}
