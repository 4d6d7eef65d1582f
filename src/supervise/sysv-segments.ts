// SysV shared memory segments a sandbox made (maxMemory, with the sysv_ipc group lifted):
// a segment lives in the host's IPC namespace, not in any process, so once detached it is
// in no process's figures and it outlives the sandbox. Charged by its pages while it
// exists, mapped or not, and removed (IPC_RMID) when the sandbox's supervisor closes.

import { readFileSync } from "node:fs";
import { native } from "../confine/native.js";

/** How long a shmget caller's segments are looked for (the next watchdog pass finds them). */
const CALLER_MS = 5_000;

interface Row {
  id: number;
  cpid: number;
  ctime: number;
  bytes: number;
}

/** /proc/sysvipc/shm: id, creator, last change (epoch seconds), resident and swapped bytes. */
function segments(): Row[] {
  let text: string;
  try {
    text = readFileSync("/proc/sysvipc/shm", "latin1");
  } catch {
    return [];
  }
  const out: Row[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 16) continue;
    out.push({ id: Number(f[1]), cpid: Number(f[4]), ctime: Number(f[13]), bytes: Number(f[14]) + Number(f[15]) });
  }
  return out;
}

/**
 * A segment is the sandbox's when its creator (cpid) is a process of the sandbox that
 * called shmget (the call is trapped for this, and continued: nothing is decided on it)
 * and it was made no earlier than that call (a segment a host process made before with
 * the same pid, since reused, is left alone). Once found, it is the sandbox's until it is
 * gone; so the process may exit, and nothing the host makes is removed at the end.
 */
export class SysvSegments {
  private readonly callers = new Map<number, { unit: number; at: number }>();
  private readonly mine = new Map<number, number>(); // segment id -> accounting unit

  /** Process `tgid` (of accounting unit `unit`) is calling shmget now. */
  calling(tgid: number, unit: number): void {
    this.callers.set(tgid, { unit, at: Date.now() });
  }

  /** The sandbox's segments right now: unit, id and bytes (pages resident or swapped). */
  look(): { unit: number; id: number; bytes: number }[] {
    const now = Date.now();
    for (const [tgid, c] of this.callers) if (now - c.at > CALLER_MS) this.callers.delete(tgid);
    if (this.callers.size === 0 && this.mine.size === 0) return [];
    const out: { unit: number; id: number; bytes: number }[] = [];
    const present = new Set<number>();
    for (const row of segments()) {
      present.add(row.id);
      let unit = this.mine.get(row.id);
      if (unit === undefined) {
        const c = this.callers.get(row.cpid);
        // ctime has a resolution of a second.
        if (c === undefined || row.ctime < Math.floor(c.at / 1000) - 1) continue;
        this.mine.set(row.id, (unit = c.unit));
      }
      out.push({ unit, id: row.id, bytes: row.bytes });
    }
    for (const id of this.mine.keys()) if (!present.has(id)) this.mine.delete(id);
    return out;
  }

  /** Removes every segment of the sandbox's still there (destroyed once no one maps it). */
  removeAll(): void {
    this.look();
    for (const id of this.mine.keys()) native().shmRemove(id);
    this.mine.clear();
  }
}
