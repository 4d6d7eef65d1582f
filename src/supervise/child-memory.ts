// Reads a sandboxed thread's memory with process_vm_readv. What is read is only evidence:
// the thread may have exited and its id been reused, so callers confirm with stillValid()
// after reading and before acting on the bytes.

import { native } from "../confine/native.js";
import type { Notification } from "./notification.js";

const PAGE = 4096;

/**
 * The bytes of a NUL-terminated string at addr of at most max bytes, gathered from `chunk`
 * (the readable bytes at an address, at most `room` of them, or null when none are): the
 * bytes up to the NUL, "fault" when the memory ends first, "long" past max + 1 bytes.
 */
function cString(addr: number, max: number, chunk: (at: number, room: number) => Buffer | null): Buffer | "fault" | "long" {
  const parts: Buffer[] = [];
  let total = 0;
  for (let at = addr; total <= max; ) {
    const c = chunk(at, max + 1 - total);
    if (c === null) return "fault";
    const nul = c.indexOf(0);
    if (nul >= 0) {
      parts.push(c.subarray(0, nul));
      return Buffer.concat(parts);
    }
    parts.push(c);
    total += c.length;
    at += c.length;
  }
  return "long";
}

export class ChildMemory {
  constructor(private readonly listener: number) {}

  /** Exactly len bytes at addr, or null if any of them cannot be read. */
  read(n: Notification, addr: number, len: number): Buffer | null {
    if (len === 0) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(len);
    return native().readMemory(n.pid, addr, out) === len ? out : null;
  }

  /**
   * A NUL-terminated string of at most max bytes (without the NUL), or null when it is
   * unreadable or longer. Reads page by page so a string ending just before an unmapped
   * page is still found.
   */
  readString(n: Notification, addr: number, max = PAGE): string | null {
    const bytes = this.readCString(n, addr, max);
    return typeof bytes === "string" ? null : bytes.toString("utf8");
  }

  /** The bytes of a NUL-terminated string of at most max bytes (without the NUL), or why
   * not: "fault" (unreadable before its end), "long" (no NUL within max + 1 bytes). Reads
   * from addr to the end of its page, then page by page, no more than max + 1 bytes. */
  readCString(n: Notification, addr: number, max: number): Buffer | "fault" | "long" {
    return cString(addr, max, (at, room) => {
      const buf = Buffer.allocUnsafe(Math.min(PAGE - (at % PAGE), room));
      const got = native().readMemory(n.pid, at, buf);
      return got <= 0 ? null : buf.subarray(0, got);
    });
  }

  /**
   * readCString for the many strings of one call (an argv, an envp): the last page read is
   * kept, so strings side by side on the stack, as execve's usually are, cost one read per
   * page instead of one per string (policyFn's exec events read every variable of the
   * environment). It holds one page, whatever the strings' addresses.
   */
  cStrings(n: Notification): (addr: number, max: number) => Buffer | "fault" | "long" {
    let base = -1;
    let page = Buffer.alloc(0);
    /** The readable bytes from `at` to the end of its page, at most `room`, or null. */
    const from = (at: number, room: number): Buffer | null => {
      const b = at - (at % PAGE);
      if (b !== base) {
        const buf = Buffer.allocUnsafe(PAGE);
        const got = native().readMemory(n.pid, b, buf);
        if (got <= 0) return null;
        base = b;
        page = buf.subarray(0, got);
      }
      return at - b < page.length ? page.subarray(at - b, at - b + room) : null;
    };
    return (addr, max) => cString(addr, max, from);
  }

  /** Writes data at addr in the calling thread's memory; true when all of it was written.
   * Only for buffers the notified call handed over for its result. */
  write(n: Notification, addr: number, data: Buffer): boolean {
    return native().writeMemory(n.pid, addr, data) === data.length;
  }

  /** The notification is still pending: the thread that made it is blocked in it, so the
   * memory read on its behalf was its own. */
  stillValid(n: Notification): boolean {
    return native().notifIdValid(this.listener, n.id) === 0;
  }
}
