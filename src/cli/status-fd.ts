// --status-fd: JSON lines about the run ("started" with the pid, "exited" with the
// result) written to a descriptor the caller opened for us.

import { readFileSync, readdirSync, readlinkSync, writeSync } from "node:fs";
import { badValue } from "./usage-error.js";

const O_ACCMODE = 0o3;
const O_RDONLY = 0o0;

/** Access mode and target of one of our descriptors, or undefined when it is not open. */
function describeFd(fd: number): { target: string; access: number } | undefined {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    return { target, access: flags ? parseInt(flags[1]!, 8) & O_ACCMODE : O_RDONLY };
  } catch {
    return undefined;
  }
}

/**
 * A descriptor the caller opened for writing. Node opens its own descriptors (epoll,
 * eventfds, self-pipes) before any of our code runs; writing JSON into one of those
 * corrupts the event loop (libuv reads pointers from its signal pipe), so a number that
 * names one of them is refused: an anon inode, or a pipe whose read end we also hold.
 */
export function readStatusFd(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 2 ** 31 - 1) throw badValue(flag, text, "is not a file descriptor number");
  const fd = Number(text);
  const own = describeFd(fd);
  if (own === undefined) throw badValue(flag, text, "is not an open file descriptor (open it in the calling shell, e.g. 3>status.jsonl)");
  if (own.access === O_RDONLY) throw badValue(flag, text, `is not open for writing (${own.target})`);
  const internal = `is not a descriptor sandlock's caller opened (it is Node's own ${own.target})`;
  if (own.target.startsWith("anon_inode:")) throw badValue(flag, text, internal);
  if (own.target.startsWith("pipe:")) {
    for (const name of readdirSync("/proc/self/fd")) {
      const other = Number(name);
      if (other === fd) continue;
      const d = describeFd(other);
      if (d !== undefined && d.target === own.target && d.access === O_RDONLY) throw badValue(flag, text, internal);
    }
  }
  return fd;
}

export class StatusWriter {
  private failed = false;
  constructor(private readonly fd: number) {}

  /** One JSON line; a reader that went away must not stop the run, so errors are reported once. */
  write(event: Record<string, unknown>): void {
    if (this.failed) return;
    try {
      writeSync(this.fd, `${JSON.stringify(event)}\n`);
    } catch (e) {
      this.failed = true;
      process.stderr.write(`sandlock: --status-fd ${this.fd}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; no more status events\n`);
    }
  }
}
