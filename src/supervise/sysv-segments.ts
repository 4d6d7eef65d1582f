// SysV shared memory segments a sandbox made (maxMemory, with the sysv_ipc group lifted):
// a segment lives in the host's IPC namespace, not in any process, so once detached it is
// in no process's figures. Charged by its pages while it exists, mapped or not. The
// supervisor makes every segment of a sandbox of the supervised view itself and removes
// them when it closes (handlers/sysv.ts), which tells which are the sandbox's.

import { readFileSync } from "node:fs";
import { sysvObjectsOf } from "./handlers/sysv.js";

/** How long a shmget caller's segments are looked for (the next watchdog pass finds them). */
const CALLER_MS = 5_000;

interface Row {
  id: number;
  bytes: number;
}

/** /proc/sysvipc/shm: id, resident and swapped bytes. */
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
    out.push({ id: Number(f[1]), bytes: Number(f[14]) + Number(f[15]) });
  }
  return out;
}

/**
 * A segment is the sandbox's when the supervisor made it (handlers/sysv.ts); it is charged
 * to the accounting unit of the process that asked, noted when it called shmget.
 */
export class SysvSegments {
  private readonly callers = new Map<number, { unit: number; at: number }>();
  private readonly mine = new Map<number, number>(); // segment id -> accounting unit

  constructor(private readonly launcherPid: number) {}

  /** Process `tgid` (of accounting unit `unit`) is calling shmget now. */
  calling(tgid: number, unit: number): void {
    this.callers.set(tgid, { unit, at: Date.now() });
  }

  /** The sandbox's segments right now: unit, id and bytes (pages resident or swapped). */
  look(): { unit: number; id: number; bytes: number }[] {
    const now = Date.now();
    for (const [tgid, c] of this.callers) if (now - c.at > CALLER_MS) this.callers.delete(tgid);
    const made = sysvObjectsOf(this.launcherPid)?.made.shm;
    if (made === undefined || made.size === 0) return [];
    const out: { unit: number; id: number; bytes: number }[] = [];
    const present = new Set<number>();
    for (const row of segments()) {
      const asker = made.get(row.id);
      if (asker === undefined) continue;
      present.add(row.id);
      let unit = this.mine.get(row.id);
      if (unit === undefined) this.mine.set(row.id, (unit = this.callers.get(asker)?.unit ?? 0));
      out.push({ unit, id: row.id, bytes: row.bytes });
    }
    for (const id of this.mine.keys()) if (!present.has(id)) this.mine.delete(id);
    return out;
  }
}
