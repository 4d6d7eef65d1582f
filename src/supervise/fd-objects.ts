// A process's descriptor table read in parts: the sockets, pipes, epoll files and terminals
// it holds (native/kmem.c). A sandbox decides how many descriptors its processes hold (19,000 of
// one process took 55-100 ms to read in one call), so callers on the event loop walk a
// table one part at a time and yield between parts.

import { native } from "../confine/native.js";
import { exiting } from "./members.js";
import type { Step } from "./slices.js";

/** Descriptors read per part at most. */
export const FD_PART = 2048;
/** Microseconds a part may take: it ends at the first descriptor read past this
 * (native/kmem.c), so a slow machine reads fewer descriptors per part rather than holding
 * the event loop longer (2,048 took 16-20 ms on a slow VM). */
export const FD_PART_US = 4000;

/** What a descriptor is: a socket or a pipe (`value`: its inode), an epoll file (`value`:
 * its count of watches), a path whose last name is a number (`value`: the number: a
 * terminal /dev/pts/N, among others), a path ending in "/ptmx" (a terminal's
 * multiplexer), an epoll file whose watches are not read ("epoll-unread", `value` 0:
 * asked for without "epoll", to find which descriptors share an instance before reading
 * each instance once), or a numbered path removed since ("numbered-deleted": a terminal
 * whose multiplexer was closed, held by its other end). */
export type FdObjectKind = "socket" | "pipe" | "epoll" | "numbered" | "ptmx" | "epoll-unread" | "numbered-deleted";

const KINDS: readonly (FdObjectKind | undefined)[] = [undefined, "socket", "pipe", "epoll", "numbered", "ptmx", "epoll-unread", "numbered-deleted"];

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
 * for a sandbox's epoll file of a million watches; one that does, fdObjectPartsOffLoop).
 * `each` returning true stops the walk. A process that is gone, or whose table cannot be
 * read, has nothing. Returns whether `each` stopped it. `read`, when given, counts the
 * descriptors read.
 */
export function* fdObjectParts(pid: number, kinds: readonly FdObjectKind[], each: (kind: FdObjectKind, value: number, fd: number) => boolean | void, read?: { descriptors: number }): Generator<void, boolean> {
  const bits = kindBits(kinds);
  for (let from = 0; ; ) {
    const r = eachIn(native().fdObjectsFrom(pid, from, FD_PART, FD_PART_US, bits), each, read);
    if (typeof r === "boolean") return r;
    from = r.from;
    yield;
  }
}

/**
 * fdObjectParts with each part read on a thread of Node's pool, the event loop only
 * parsing it: for a walk that counts epoll watches, which a sandbox can make as long as
 * memory and fs.epoll.max_user_watches allow (a watch outlives the descriptor it was made
 * on while another refers to its file, so one process of few descriptors can hold an epoll
 * file of millions: 0.7 us each to count). It yields the part's work (slices.ts Step),
 * run in `owner`'s turn (offLoop). `failed`, when given, is told the errno of a table that
 * could not be read while its process lives (see exiting).
 */
export function* fdObjectPartsOffLoop(owner: object, pid: number, kinds: readonly FdObjectKind[], each: (kind: FdObjectKind, value: number, fd: number) => boolean | void, failed?: (errno: number) => void): Generator<Step, boolean> {
  const bits = kindBits(kinds);
  for (let from = 0; ; ) {
    const part = yield* partOffLoop(owner, pid, from, FD_PART, FD_PART_US, bits);
    if (typeof part === "number" && part < 0 && !exiting(pid)) failed?.(-part);
    const r = eachIn(part, each);
    if (typeof r === "boolean") return r;
    from = r.from;
  }
}

/**
 * The watches of the epoll file at descriptor `fd` of `pid` (its fdinfo read on a thread of
 * Node's pool, in `owner`'s turn, as fdObjectPartsOffLoop), or undefined when the
 * descriptor is no epoll file now or cannot be read.
 */
export function* epollWatchesOffLoop(owner: object, pid: number, fd: number): Generator<Step, number | undefined> {
  const part = yield* partOffLoop(owner, pid, fd, 1, 0, kindBits(["epoll"]));
  let watches: number | undefined;
  eachIn(part, (_kind, value, at) => void (at === fd ? (watches = value) : undefined));
  return watches;
}

/** One part of fdObjectsFrom read on a thread of Node's pool in `owner`'s turn (offLoop),
 * yielded as the work it is (its CPU time charged); the part, or -errno. */
function* partOffLoop(owner: object, pid: number, from: number, max: number, budgetUs: number, bits: number): Generator<Step, Buffer | number> {
  let part: Buffer | number = -1;
  yield offLoop(owner, () => native().fdObjectsFromAsync(pid, from, max, budgetUs, bits)).then(([p, cpuUs]) => {
    part = p;
    return cpuUs / 1000;
  });
  return part;
}

/** One part's triples given to `each`: whether it stopped the walk, false at the table's
 * end (or when it could not be read), else the descriptor to go on from. */
function eachIn(part: Buffer | number, each: (kind: FdObjectKind, value: number, fd: number) => boolean | void, read?: { descriptors: number }): boolean | { from: number } {
  if (typeof part === "number") return false;
  // The descriptor to go on from, how many were read, then triples (descriptor, kind, value).
  if (read !== undefined) read.descriptors += part.readUInt32LE(4);
  for (let at = 8; at + 12 <= part.length; at += 12) {
    const kind = KINDS[part.readUInt32LE(at + 4)];
    if (kind !== undefined && each(kind, part.readUInt32LE(at + 8), part.readUInt32LE(at)) === true) return true;
  }
  const from = part.readUInt32LE(0);
  return from === 0 ? false : { from };
}

/** Works on threads of Node's pool at once in this process (the pool has 4 threads by
 * default, which fs, dns and crypto calls share): the rest wait their turn. One owner (a
 * sandbox's watchdog) runs one at a time, so a sandbox whose works are long (an epoll file
 * of millions of watches: seconds) leaves the other place to the rest. */
export const OFF_LOOP_AT_ONCE = 2;
/** Owners with a work running. */
const offLoopRunning = new Set<object>();
/** Works waiting, by owner: owners are served in turn, each its oldest work. */
const offLoopWaiting = new Map<object, (() => void)[]>();

function nextOffLoop(): void {
  if (offLoopRunning.size >= OFF_LOOP_AT_ONCE) return;
  for (const [owner, works] of offLoopWaiting) {
    if (offLoopRunning.has(owner)) continue;
    const go = works.shift()!;
    offLoopWaiting.delete(owner);
    if (works.length > 0) offLoopWaiting.set(owner, works); // to the end of the turn
    go();
    return;
  }
}

/** `start`ed in `owner`'s turn, once fewer than OFF_LOOP_AT_ONCE works run and none of
 * `owner`'s. */
export function offLoop<T>(owner: object, start: () => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const go = (): void => {
      offLoopRunning.add(owner);
      const ended = (): void => {
        offLoopRunning.delete(owner);
        nextOffLoop();
      };
      let work: Promise<T>;
      try {
        work = start();
      } catch (e) {
        ended();
        reject(e as Error);
        return;
      }
      work.then(
        (v) => (ended(), resolve(v)),
        (e: unknown) => (ended(), reject(e as Error)),
      );
    };
    const works = offLoopWaiting.get(owner);
    if (works !== undefined) works.push(go);
    else offLoopWaiting.set(owner, [go]);
    nextOffLoop();
  });
}
