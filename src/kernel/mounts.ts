// Where procfs is mounted on this host (usually only /proc), read once from
// /proc/self/mountinfo: the plan hides process directories under every one of them.

import { readFileSync } from "node:fs";

let cached: readonly string[] | undefined;

/** Unescapes mountinfo's octal escapes (\040 for a space, \011, \012, \134). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points of fstype "proc" in a mountinfo text, in order, without duplicates. */
export function parseProcMounts(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 0 || fields[dash + 1] !== "proc" || fields.length < 5) continue;
    const point = unescape(fields[4]!);
    if (!out.includes(point)) out.push(point);
  }
  return out;
}

/** Procfs mount points of the calling process's mount namespace ("/proc" first if present). */
export function procfsMounts(): readonly string[] {
  if (cached === undefined) {
    let found: string[];
    try {
      found = parseProcMounts(readFileSync("/proc/self/mountinfo", "utf8"));
    } catch {
      found = [];
    }
    // /proc is where every program looks: always treat it as procfs.
    if (!found.includes("/proc")) found.unshift("/proc");
    found.sort((a, b) => (a === "/proc" ? -1 : b === "/proc" ? 1 : 0));
    cached = Object.freeze(found);
  }
  return cached;
}
