// randomSeed (SPEC 2.1, 4.5): getrandom fills the caller's buffer from the sandbox's seeded
// stream, and an open of /dev/urandom or /dev/random gets the read end of a pipe the
// supervisor keeps full from a stream of that open's own (the n-th open of the sandbox).
// What reads these (Python's os.urandom, OpenSSL's seeding, `head -c N /dev/urandom`) then
// reads the same bytes in every run with the same seed.

import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { SeededStream } from "../random-stream.js";

const EINVAL = 22;
const EFAULT = 14;
const GRND_NONBLOCK = 1;
const GRND_RANDOM = 2;
const GRND_INSECURE = 4;
/**
 * The most one getrandom call returns here. The kernel's own limit is 33,554,431 bytes,
 * but each byte here is made on the supervisor's event loop: one 32 MiB answer held it for
 * 740 ms (and 64 MiB of buffers), so a sandbox looping on it stalled every sandbox the
 * process serves, with CPU no maxCpu counts. 64 KiB takes about 0.5 ms. A shorter count
 * is within getrandom(2)'s contract for requests over 256 bytes, and the callers that ask
 * for more (glibc's getentropy, Python's os.urandom, OpenSSL, Rust's getrandom) loop.
 */
const GETRANDOM_MAX = 64 * 1024;
/** What each refill writes into a device's pipe (its default capacity). */
const CHUNK = 64 * 1024;
const EMFILE = 24;
/** poll(2): a pipe's write end reports POLLERR once no reader is left. */
const POLLERR = 8;
/**
 * Seeded devices one sandbox may hold open at once. Each open costs this process a pipe's
 * write end, the 64 KiB it holds in the kernel and a chunk queued in Node, none of it
 * counted against the sandbox's maxMemory. Unbounded, a sandbox multiplied that by its
 * descriptor limit and its processes (measured: one process holding 3,000 opens took
 * 1,750 descriptors and 137 MiB of the supervising process in 2.5 s; enough of them run
 * the supervisor out of descriptors, which breaks every sandbox it serves). Beyond the cap
 * an open gets EMFILE, as when a process is out of descriptors. Programs open a random
 * device once and keep it (OpenSSL, Python) or open, read and close it.
 */
export const MAX_OPEN_DEVICES = 64;

const load = createRequire(import.meta.url);

export interface SeededRandom {
  handlers: HandlerTable;
  /** A descriptor to inject for an open of a random device (the read end of a pipe kept
   * full), or -EMFILE when the sandbox holds MAX_OPEN_DEVICES already. */
  openDevice(): number;
}

export function seededRandom(seed: bigint, ctx: SupervisorContext): SeededRandom {
  const calls = new SeededStream(seed, "getrandom");
  let opens = 0;
  /** Each live feeder and its pipe's write end. */
  const feeders = new Map<Socket, number>();
  ctx.onClose(() => {
    for (const s of feeders.keys()) s.destroy();
    feeders.clear();
  });

  /** Ends the feeders whose every reader has closed the pipe: Node learns that only at its
   * next write, which for a full pipe comes later, so a program that opens, reads and
   * closes in a loop would otherwise meet the cap. Asked of the kernel, not the caller. */
  const pruneClosed = (): void => {
    for (const [sock, w] of feeders) {
      if (!sock.destroyed && (native().pollNow(w) & POLLERR) !== 0) {
        sock.destroy();
        feeders.delete(sock);
      }
    }
  };

  // The answer is our bytes, written into the buffer the caller handed over while it is
  // still blocked in the call; nothing of the caller's is read.
  const getrandom = (n: Notification): Action => {
    const flags = n.argU32(2);
    if ((flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) !== 0 || (flags & (GRND_RANDOM | GRND_INSECURE)) === (GRND_RANDOM | GRND_INSECURE)) return deny(EINVAL);
    const count = Number(n.arg(1) > BigInt(GETRANDOM_MAX) ? BigInt(GETRANDOM_MAX) : n.arg(1));
    if (count === 0) return returnValue(0);
    const bytes = calls.next(count);
    if (!ctx.memory.stillValid(n)) return deny(EFAULT);
    // process_vm_writev honours the caller's page protections (no FOLL_FORCE): a read-only
    // or unmapped page is never written. As the kernel's getrandom, the bytes that fit
    // before such a page are the answer, EFAULT when none do.
    const wrote = native().writeMemory(n.pid, n.argAddr(0), bytes);
    return wrote > 0 ? returnValue(wrote) : deny(EFAULT);
  };

  const openDevice = (): number => {
    if (feeders.size >= MAX_OPEN_DEVICES) pruneClosed();
    if (feeders.size >= MAX_OPEN_DEVICES) return -EMFILE;
    const stream = new SeededStream(seed, `device ${opens++}`);
    const [r, w] = native().pipe();
    let sock: Socket;
    try {
      const net = load("node:net") as typeof import("node:net");
      sock = new net.Socket({ fd: w, readable: false, writable: true });
    } catch (e) {
      closeSync(r);
      closeSync(w);
      throw e;
    }
    feeders.set(sock, w);
    // Keep the pipe full; once every reader has closed it, the write fails and it ends.
    // The bytes are made here at the reader's pace, and a reader that splices the device
    // into /dev/null spends almost nothing itself: the time is charged to the sandbox's
    // maxCpu (measured before: a sandbox held to 10% made this process spend 77-97% of a
    // core), so the throttle stops the reader and the feeder with it.
    const fill = (): void => {
      const t0 = performance.now();
      while (!sock.destroyed && sock.write(stream.next(CHUNK)));
      ctx.chargeCpu(performance.now() - t0);
    };
    sock.on("drain", fill);
    sock.on("error", () => sock.destroy());
    sock.on("close", () => feeders.delete(sock));
    sock.unref(); // a feeder alone never keeps the supervising process alive
    fill();
    return r;
  };

  return { handlers: { getrandom }, openDevice };
}
