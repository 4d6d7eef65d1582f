// Parsers for the /proc files a checkpoint reads: maps, fdinfo, stat, status, auxv and
// pagemap. Pure functions of the text or bytes (parseMapsInTurns also gives the event loop
// its turns), so each is unit-tested on its own.

import { readFileSync } from "node:fs";
import type { MapEntry } from "./image.js";
import type { Turns } from "./turns.js";

/** /proc/<pid>/maps: "start-end perms offset major:minor inode   path". */
export function parseMaps(text: string): MapEntry[] {
  return text.split("\n").filter((line) => line !== "").map(parseMapsLine);
}

/** parseMaps with a turn of the event loop when one is due: a process may hold 65,530
 * mappings (vm.max_map_count), some 6 MB of text. */
export async function parseMapsInTurns(text: string, turns: Turns): Promise<MapEntry[]> {
  const out: MapEntry[] = [];
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    if (end > at) out.push(parseMapsLine(text.slice(at, end)));
    at = end + 1;
    if (out.length % 256 === 0) await turns.maybe();
  }
  return out;
}

function parseMapsLine(line: string): MapEntry {
  const m = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/.exec(line);
  if (m === null) throw new Error(`maps: cannot parse line ${JSON.stringify(line)}`);
  return {
    start: BigInt(`0x${m[1]}`),
    end: BigInt(`0x${m[2]}`),
    perms: m[3]!,
    offset: Number.parseInt(m[4]!, 16),
    device: m[5]!,
    inode: Number(m[6]),
    path: m[7]!,
  };
}

/** /proc/<pid>/stat: state, parent, process group and session (fields 3-6; comm may hold ") "). */
export function parseStat(text: string): { comm: string; state: string; ppid: number; pgid: number; sid: number } {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`stat: cannot parse ${JSON.stringify(text.slice(0, 80))}`);
  const rest = text.slice(close + 2).split(" ");
  return { comm: text.slice(open + 1, close), state: rest[0]!, ppid: Number(rest[1]), pgid: Number(rest[2]), sid: Number(rest[3]) };
}

/** The "Name:\tvalue" fields of /proc/<pid>/status. */
export function parseStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** AT_PAGESZ from a raw auxiliary vector of 64-bit (type, value) pairs, or undefined. */
export function auxvPageSize(auxv: Buffer): number | undefined {
  const AT_PAGESZ = 6n;
  for (let off = 0; off + 16 <= auxv.length; off += 16) {
    const type = auxv.readBigUInt64LE(off);
    if (type === 0n) break;
    if (type === AT_PAGESZ) return Number(auxv.readBigUInt64LE(off + 8));
  }
  return undefined;
}

let pageSizeOfHost: number | undefined;

/** The kernel's page size, from this process's own auxiliary vector. Never a sandboxed
 * process's: a process may rewrite its own auxv without privilege (prctl PR_SET_MM_MAP),
 * and a capture that took a 2 MiB "page size" from it read 512 times the memory the
 * process had into the supervisor. */
export function hostPageSize(): number {
  pageSizeOfHost ??= auxvPageSize(readFileSync("/proc/self/auxv")) ?? 4096;
  return pageSizeOfHost;
}

// Bits of a pagemap entry's high 32-bit word (bits 63, 62 and 61 of the entry).
const PM_PRESENT = 0x80000000;
const PM_SWAPPED = 0x40000000;
/** "page is file-page or shared-anon": still the backing's own page, not a private copy. */
const PM_FILE = 0x20000000;

/**
 * From pagemap entries (8 bytes per page, the first for page index `first`), the runs of
 * pages a private mapping holds on its own: present and anonymous, or swapped out. Each
 * run is [first page index, page count].
 */
export function privatePageRuns(pagemap: Buffer, first: number): [number, number][] {
  const runs: [number, number][] = [];
  let runStart = -1;
  const n = pagemap.length >> 3;
  for (let i = 0; i < n; i++) {
    const hi = pagemap.readUInt32LE(i * 8 + 4);
    const own = ((hi & PM_PRESENT) !== 0 && (hi & PM_FILE) === 0) || (hi & PM_SWAPPED) !== 0;
    if (own && runStart < 0) runStart = i;
    if (!own && runStart >= 0) {
      runs.push([first + runStart, i - runStart]);
      runStart = -1;
    }
  }
  if (runStart >= 0) runs.push([first + runStart, n - runStart]);
  return runs;
}
