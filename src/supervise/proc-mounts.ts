// What the sandbox's /proc/<pid>/mounts, mountinfo and mountstats show (issue 9): the
// kernel's own lines for the mounts its grants reach, and no other. Pure text filters.

import { within } from "../plan/proc-grants.js";

/** Undoes the kernel's octal escapes in a mount path (\040 space, \011, \012, \134). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * A mount point the grants reach: at or above a granted path (the mounts it lies on, down
 * from "/", which df and findmnt need to place it) or below one (mounts inside a granted
 * tree, which the sandbox can walk into anyway). `reach`: the grants' real paths.
 */
export function mountReached(point: string, reach: readonly string[]): boolean {
  return reach.some((g) => within(g, point) || within(point, g));
}

function keepLines(text: string, reach: readonly string[], point: (line: string) => string | undefined): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const p = point(line);
    if (p !== undefined && mountReached(unescape(p), reach)) out.push(line);
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

/** /proc/<pid>/mountinfo: "ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - TYPE SOURCE SUPER". */
export function filterMountinfo(text: string, reach: readonly string[]): string {
  return keepLines(text, reach, (line) => line.split(" ")[4]);
}

/** /proc/<pid>/mounts (and /proc/mounts, /etc/mtab): "SOURCE POINT TYPE OPTIONS 0 0". */
export function filterMounts(text: string, reach: readonly string[]): string {
  return keepLines(text, reach, (line) => line.split(" ")[1]);
}

/**
 * /proc/<pid>/mountstats: one "device SOURCE mounted on POINT with fstype TYPE ..." line
 * per mount ("no device mounted on ..." without a source), NFS adding indented lines
 * below it, which go with their mount. Paths are escaped, so the first " mounted on "
 * is the real one.
 */
export function filterMountstats(text: string, reach: readonly string[]): string {
  const out: string[] = [];
  let keep = false;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("device ") || line.startsWith("no device")) {
      const m = / mounted on (\S+) with fstype /.exec(line);
      keep = m !== null && mountReached(unescape(m[1]!), reach);
    }
    if (keep) out.push(line);
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}
