// The mounts of this host, read once from /proc/self/mountinfo: where procfs is mounted
// (the plan hides process directories under every one), and every mount point with its
// filesystem type (kernel interfaces are read-only, device trees are filtered).

import { openSync, readFileSync } from "node:fs";
import { native } from "../confine/native.js";

let cached: readonly string[] | undefined;

/** Unescapes mountinfo's octal escapes (\040 for a space, \011, \012, \134). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountEntry {
  point: string;
  fstype: string;
}

/** Every mount point of a mountinfo text with its filesystem type, in order (a point
 * mounted over again appears once per mount). */
export function parseMounts(mountinfo: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields.length < 5 || fields[dash + 1] === undefined) continue;
    out.push({ point: unescape(fields[4]!), fstype: fields[dash + 1]! });
  }
  return out;
}

/** Mount points of fstype "proc" in a mountinfo text, in order, without duplicates. */
export function parseProcMounts(mountinfo: string): string[] {
  const out: string[] = [];
  for (const m of parseMounts(mountinfo)) if (m.fstype === "proc" && !out.includes(m.point)) out.push(m.point);
  return out;
}

let table: readonly MountEntry[] | undefined;

/** The calling process's mount table (read once; [] when it cannot be read). */
export function hostMounts(): readonly MountEntry[] {
  if (table === undefined) {
    try {
      table = Object.freeze(parseMounts(readFileSync("/proc/self/mountinfo", "utf8")));
    } catch {
      table = Object.freeze([]);
    }
  }
  return table;
}

/** Procfs mount points of the calling process's mount namespace ("/proc" first if present). */
export function procfsMounts(): readonly string[] {
  if (cached === undefined) {
    // From the one reading of mountinfo hostMounts keeps: each plan needs both, and reading
    // and parsing the table twice was a tenth of a CLI run's planning.
    const found: string[] = [];
    for (const m of hostMounts()) if (m.fstype === "proc" && !found.includes(m.point)) found.push(m.point);
    // /proc is where every program looks: always treat it as procfs.
    if (!found.includes("/proc")) found.unshift("/proc");
    found.sort((a, b) => (a === "/proc" ? -1 : b === "/proc" ? 1 : 0));
    cached = Object.freeze(found);
  }
  return cached;
}

/** An open /proc/self/mountinfo whose poll says when the mount table changed (the kernel
 * reports POLLPRI once per change to each open file); -1 when it cannot be opened. */
let watch: number | undefined;
let generation = 0;
const POLLERR = 0x8;
const POLLPRI = 0x2;

/**
 * The mount table's generation, forgetting the tables read above when it changed since
 * the last call (one poll(2) of the open mountinfo). Planning asks before each plan, so
 * a mount added or removed reaches the next plan, and a cached one is not reused
 * (plan/cache.ts). Without the watch (mountinfo unreadable) the tables are read once.
 */
export function mountsGeneration(): number {
  if (watch === undefined) {
    try {
      watch = openSync("/proc/self/mountinfo", "r");
    } catch {
      watch = -1;
    }
    // Tables read before the watch existed may have missed a change: read them again.
    table = undefined;
    cached = undefined;
    return ++generation;
  }
  if (watch >= 0) {
    const ev = native().pollNow(watch);
    if (ev < 0 || (ev & (POLLERR | POLLPRI)) !== 0) {
      table = undefined;
      cached = undefined;
      generation++;
    }
  }
  return generation;
}
