// Unified diffs of a dry run's text files (`sandlock run --dry-run --diff`), made by
// diff(1) between the real file and the staged one before the stage is thrown away.
//
// Both sides are opened here, beneath the workdir and the branch's upper pinned without
// following a link (cow/beneath.ts), and handed to diff(1) as descriptors: by path, a
// second sandbox that can write the real workdir (the MCP server runs them side by side)
// swapped a checked file for a link to a secret of the user between the check and diff's
// open, and the diff sent back to the caller showed it (measured by the audit: 75 of 315
// diffs), or for a FIFO, and diff(1) blocked the host for ever.

import { spawnSync } from "node:child_process";
import { closeSync, fstatSync, readSync } from "node:fs";
import { printable } from "../printable.js";
import { native } from "../confine/native.js";
import { AT_FDCWD, O, RESOLVE } from "../supervise/paths.js";
import type { Change } from "./changes.js";

const BINARY_PROBE = 8192;
const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

/** A file is text when its first 8 KiB hold no NUL byte (as diff and git decide). */
function isText(fd: number): boolean {
  const buf = Buffer.alloc(BINARY_PROBE);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return !buf.subarray(0, n).includes(0);
}

/** One side of a diff: a regular file opened beneath `dirFd` (never blocking, following no
 * link), or undefined when there is none (absent, or no longer a regular file). */
interface Side {
  readonly fd: number;
  readonly size: number;
}

function openSide(dirFd: number, rel: string): Side | undefined {
  const fd = native().openat2(dirFd, rel, O.NONBLOCK | O.CLOEXEC, 0, BENEATH);
  if (fd < 0) return undefined;
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    return undefined;
  }
  return { fd, size: st.size };
}

/** A directory, reached without following a link; but for a maxDisk stage's upper, which
 * is reached through this process's descriptor of its detached tmpfs (quota.ts stageUpper). */
function pin(path: string, what: string): number {
  const resolve = path.startsWith(`/proc/${process.pid}/fd/`) ? 0 : RESOLVE.NO_SYMLINKS;
  const fd = native().openat2(AT_FDCWD, path, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, resolve);
  if (fd < 0) throw new Error(`cannot open ${what} ${path} (errno ${-fd})`);
  return fd;
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

/** One unified diff per changed regular file ("Binary files differ" for others, "too large
 * to diff" past MAX_DIFF_FILE), in the order of the change list, at most `maxBytes` in all
 * (cut there, with a line saying so); a/ is the real file, b/ the staged one, as git names them. */
export function unifiedDiff(changes: readonly Change[], upper: string, workdir: string, maxBytes = MAX_DIFF_BYTES): string {
  const out: string[] = [];
  let used = 0;
  const files = changes.filter((c) => c.type === "file");
  if (files.length === 0) return "";
  const wfd = pin(workdir, "the workdir");
  let ufd: number;
  try {
    ufd = pin(upper, "the branch's upper");
  } catch (e) {
    closeSync(wfd);
    throw e;
  }
  try {
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
      const real = c.kind !== "added" ? openSide(wfd, rel) : undefined;
      const staged = c.kind !== "deleted" ? openSide(ufd, rel) : undefined;
      let piece: string;
      let overflow = false;
      try {
        const size = Math.max(real?.size ?? 0, staged?.size ?? 0);
        if (c.kind !== "deleted" && staged === undefined) {
          piece = `Files a/${name} and b/${name} differ (b/${name} is no longer a regular file)\n`;
        } else if (size > MAX_DIFF_FILE) {
          piece = `Files a/${name} and b/${name} differ (${size} bytes: too large to diff, at most ${MAX_DIFF_FILE})\n`;
        } else if ((real !== undefined && !isText(real.fd)) || (staged !== undefined && !isText(staged.fd))) {
          piece = `Binary files a/${name} and b/${name} differ\n`;
        } else {
          const room = maxBytes - used;
          // The sides are diff's descriptors 3 and 4 (/dev/fd/N reopens the very file).
          const r = spawnSync("diff", ["-u", "--label", real !== undefined ? `a/${name}` : "/dev/null", "--label", staged !== undefined ? `b/${name}` : "/dev/null", real !== undefined ? "/dev/fd/3" : "/dev/null", staged !== undefined ? "/dev/fd/4" : "/dev/null"], {
            encoding: "utf8",
            maxBuffer: room + 1,
            stdio: ["ignore", "pipe", "pipe", real?.fd ?? "ignore", staged?.fd ?? "ignore"],
          });
          // Past the room left, diff(1) is killed and what it wrote so far is kept, cut below.
          overflow = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOBUFS";
          if (r.error !== undefined && !overflow) throw new Error(`diff: ${r.error.message} (the --diff option runs diff(1) from diffutils)`);
          if (!overflow && r.status === 2) throw new Error(`diff: ${r.stderr.trim()}`);
          piece = r.stdout ?? "";
        }
      } finally {
        if (real !== undefined) closeSync(real.fd);
        if (staged !== undefined) closeSync(staged.fd);
      }
      // maxBuffer counts bytes and the budget characters: an overflow is a cut either way.
      if (overflow || used + piece.length > maxBytes) {
        out.push(piece.slice(0, maxBytes - used), `\n[diff cut at ${maxBytes} bytes: ${files.length - i - 1} more changed files not shown]\n`);
        break;
      }
      out.push(piece);
      used += piece.length;
    }
  } finally {
    closeSync(wfd);
    closeSync(ufd);
  }
  return out.join("");
}
