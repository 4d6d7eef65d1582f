// Unified diffs of a dry run's text files (`sandlock run --dry-run --diff`), made by
// diff(1) between the real file and the staged one before the stage is thrown away.

import { spawnSync } from "node:child_process";
import { closeSync, lstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { printable } from "../printable.js";
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

/** What a whole diff may hold (`sandlock run --dry-run --diff`, Sandbox.dryRun's diff, the
 * MCP server's dry runs, which cut it further): past it the rest is named, not shown. A
 * sandbox chooses how much it writes, and every byte of the diff was held in the
 * supervising process's memory (ninth review: 40 staged files of 60 MiB would have made
 * 2.4 GB of text, and one past 64 MiB failed the dry run and kept its branch on disk). */
export const MAX_DIFF_BYTES = 64 << 20;

/** Files larger than this are not handed to diff(1), which reads both sides whole into
 * memory before it writes a line (a staged file has whatever size the sandbox gave it). */
export const MAX_DIFF_FILE = 64 << 20;

/** A staged name as it goes on a header line: a name the sandbox chose with a newline or an
 * escape sequence in it would write header lines of its own (a forged "+++ b/..."), or
 * drive the terminal the diff is printed on (printable.ts). */
const shown = (rel: string): string => printable(rel);

const sizeOf = (path: string): number => (path === "/dev/null" ? 0 : (lstatSync(path, { throwIfNoEntry: false })?.size ?? 0));

/** One unified diff per changed regular file ("Binary files differ" for others, "too large
 * to diff" past MAX_DIFF_FILE), in the order of the change list, at most `maxBytes` in all
 * (cut there, with a line saying so); a/ is the real file, b/ the staged one, as git names them. */
export function unifiedDiff(changes: readonly Change[], upper: string, workdir: string, maxBytes = MAX_DIFF_BYTES): string {
  const out: string[] = [];
  let used = 0;
  const files = changes.filter((c) => c.type === "file");
  for (let i = 0; i < files.length; i++) {
    const c = files[i]!;
    if (used >= maxBytes) {
      out.push(`[diff cut at ${maxBytes} bytes: ${files.length - i} more changed files not shown]\n`);
      break;
    }
    const rel = c.path.slice(workdir.length + 1);
    const name = shown(rel);
    // The real side only when it is a regular file: a FIFO there (one planted by another
    // process that can write the real directory, or a link to one or to a device) would
    // block the open or never end; a file replacing such an entry is shown as new.
    const realIsFile = c.kind !== "added" && lstatSync(c.path, { throwIfNoEntry: false })?.isFile() === true;
    const real = realIsFile ? c.path : "/dev/null";
    const staged = c.kind === "deleted" ? "/dev/null" : join(upper, rel);
    let piece: string;
    let overflow = false;
    if (Math.max(sizeOf(real), sizeOf(staged)) > MAX_DIFF_FILE) {
      piece = `Files a/${name} and b/${name} differ (${Math.max(sizeOf(real), sizeOf(staged))} bytes: too large to diff, at most ${MAX_DIFF_FILE})\n`;
    } else if (!isText(real) || !isText(staged)) {
      piece = `Binary files a/${name} and b/${name} differ\n`;
    } else {
      const room = maxBytes - used;
      const r = spawnSync("diff", ["-u", "--label", realIsFile ? `a/${name}` : "/dev/null", "--label", c.kind === "deleted" ? "/dev/null" : `b/${name}`, real, staged], { encoding: "utf8", maxBuffer: room + 1 });
      // Past the room left, diff(1) is killed and what it wrote so far is kept, cut below.
      overflow = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOBUFS";
      if (r.error !== undefined && !overflow) throw new Error(`diff: ${r.error.message} (the --diff option runs diff(1) from diffutils)`);
      if (!overflow && r.status === 2) throw new Error(`diff: ${r.stderr.trim()}`);
      piece = r.stdout ?? "";
    }
    // maxBuffer counts bytes and the budget characters: an overflow is a cut either way.
    if (overflow || used + piece.length > maxBytes) {
      out.push(piece.slice(0, maxBytes - used), `\n[diff cut at ${maxBytes} bytes: ${files.length - i - 1} more changed files not shown]\n`);
      break;
    }
    out.push(piece);
    used += piece.length;
  }
  return out.join("");
}
