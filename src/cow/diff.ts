// Unified diffs of a dry run's text files (`sandlock run --dry-run --diff`), made by
// diff(1) between the real file and the staged one before the stage is thrown away.

import { spawnSync } from "node:child_process";
import { closeSync, lstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import type { Change } from "./changes.js";

const BINARY_PROBE = 8192;

/** A file is text when its first 8 KiB hold no NUL byte (as diff and git decide). */
function isText(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return true; // absent: the other side decides
  }
  try {
    const buf = Buffer.alloc(BINARY_PROBE);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return !buf.subarray(0, n).includes(0);
  } finally {
    closeSync(fd);
  }
}

/** One unified diff per changed regular file ("Binary files differ" for others), in the
 * order of the change list; a/ is the real file, b/ the staged one, as git names them. */
export function unifiedDiff(changes: readonly Change[], upper: string, workdir: string): string {
  const out: string[] = [];
  for (const c of changes) {
    if (c.type !== "file") continue;
    const rel = c.path.slice(workdir.length + 1);
    // The real side only when it is a regular file: a FIFO there (one planted by another
    // process that can write the real directory, or a link to one or to a device) would
    // block the open or never end; a file replacing such an entry is shown as new.
    const realIsFile = c.kind !== "added" && lstatSync(c.path, { throwIfNoEntry: false })?.isFile() === true;
    const real = realIsFile ? c.path : "/dev/null";
    const staged = c.kind === "deleted" ? "/dev/null" : join(upper, rel);
    if (!isText(real) || !isText(staged)) {
      out.push(`Binary files a/${rel} and b/${rel} differ\n`);
      continue;
    }
    const r = spawnSync("diff", ["-u", "--label", realIsFile ? `a/${rel}` : "/dev/null", "--label", c.kind === "deleted" ? "/dev/null" : `b/${rel}`, real, staged], { encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.error !== undefined) throw new Error(`diff: ${r.error.message} (the --diff option runs diff(1) from diffutils)`);
    if (r.status === 2) throw new Error(`diff: ${r.stderr.trim()}`);
    out.push(r.stdout);
  }
  return out.join("");
}
