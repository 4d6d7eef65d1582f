// A small text file of procfs or sysctl (a few KB at most, reported as size 0), read whole.

import { closeSync, openSync, readFile, readFileSync, readSync, readlinkSync } from "node:fs";

/**
 * The file's text, for the ASCII fields read out of it (a number, `CapEff:`, `Seccomp:`,
 * `Max open files`): bytes that are not UTF-8 (a process name may hold any) only ever
 * become U+FFFD, never swallow a newline or a digit.
 *
 * Why "utf8": Node reads it in one native call, where any other encoding (or none) takes
 * the JavaScript path for a file of unknown size: 0.65-0.74 ms for the first such read of
 * a process against 0.05 (a fresh `node`, this VM; open, readSync and close by hand cost
 * 0.36), the cold code of a CLI start paying it once per run; and warm, the supervisor's
 * pass over every process's /proc/PID/stat (members.ts) took 2.6-3.0 ms for 66 processes
 * as latin1 against 1.4-1.6 (100 passes each, three rounds).
 *
 * Not for text whose bytes matter beyond ASCII fields: a path in maps or smaps that names a
 * file, an environ compared byte for byte, a virtual file's content handed to a sandbox.
 */
export function readProcText(path: string): string {
  return readFileSync(path, "utf8");
}

/**
 * What this process's descriptor `fd` refers to, as its /proc link reads: a path, or
 * "anon_inode:[timerfd]", "socket:[N]"...; "" when it is not open. To know a descriptor's
 * kind before reading its fdinfo, whose length some kinds leave to whoever made the file
 * (an epoll file's lists its watches).
 */
export function fdLink(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return "";
  }
}

/** The inode of this process's descriptor fd when it is an anonymous pipe ("pipe:[N]"; a
 * named FIFO shows its path), else undefined. */
export function pipeInode(fd: number): number | undefined {
  const inode = /^pipe:\[(\d+)\]$/.exec(fdLink(fd))?.[1];
  return inode === undefined ? undefined : Number(inode);
}

/**
 * The fdinfo text of this process's descriptor `fd` when its link reads `link` (a kind such
 * as "anon_inode:[timerfd]"), else undefined at once: another kind's fdinfo is the
 * sandbox's to make long (an epoll file's holds a line per watch). Read off the event loop
 * (Node's pool), since even these list the locks taken through the file, which a sandbox
 * can multiply; the promise gives undefined when it cannot be read. The callback API, not
 * fs/promises, which a CLI start would load.
 */
export function fdinfoOfKind(fd: number, link: string): Promise<string | undefined> | undefined {
  if (fdLink(fd) !== link) return undefined;
  return new Promise((resolve) => readFile(`/proc/self/fdinfo/${fd}`, "latin1", (err, text) => resolve(err === null ? text : undefined)));
}

/**
 * At most `limit` bytes of a /proc file whose length its process decides: a process can set
 * its argument area to any range of its memory (prctl PR_SET_MM_MAP, no privilege needed),
 * and /proc/PID/cmdline then reads as all of it (1 GiB of an untouched reserve, measured).
 * Returns the bytes read and whether the file went on past them.
 */
export function readProcHead(path: string, limit: number): { data: Buffer; more: boolean } {
  const fd = openSync(path, "r");
  try {
    // In chunks, kept as read: a command line of a few hundred bytes costs one 16 KiB read,
    // not an allocation of the whole bound (8 MiB for a capture's) kept alive by its slice.
    const chunks: Buffer[] = [];
    let got = 0;
    while (got <= limit) {
      const chunk = Buffer.allocUnsafe(Math.min(16 * 1024, limit + 1 - got));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(n === chunk.length ? chunk : Buffer.from(chunk.subarray(0, n)));
      got += n;
    }
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got);
    return { data: got > limit ? data.subarray(0, limit) : data, more: got > limit };
  } finally {
    closeSync(fd);
  }
}
