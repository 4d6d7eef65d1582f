// The processes of a running sandbox and what they use, read from /proc without blocking
// the owner's event loop (the owner also supervises: a synchronous scan of every process
// of the host would stall every trapped call of every sandbox it runs).

import { open, readFile, readdir } from "node:fs/promises";
import { parentFromStat, stateFromStat, statFields } from "../supervise/members.js";
import type { ProcessRow } from "./protocol.js";

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat, 100 on every Linux ABI. */
const CLOCK_TICKS = 100;
/** At most this many /proc files are read at once. */
const BATCH = 64;

export interface SandboxProcess extends ProcessRow {
  readonly rssAnonBytes: number;
  readonly cpuSeconds: number;
}

async function readOr(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "latin1");
  } catch {
    return undefined; // exited while we looked
  }
}

/** At most `limit` bytes of a /proc file, read on Node's pool, and whether it went on
 * (kernel/proc-text.ts readProcHead says why a command line needs the bound). */
async function readProcHeadAsync(path: string, limit: number): Promise<{ data: Buffer; more: boolean }> {
  const f = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(limit + 1); // the listing's bound is 4 KiB
    let got = 0;
    for (let n; got < buf.length && (n = (await f.read(buf, got, buf.length - got, null)).bytesRead) > 0; ) got += n;
    return { data: Buffer.from(buf.subarray(0, Math.min(got, limit))), more: got > limit };
  } finally {
    await f.close();
  }
}

/** What a listing shows of a command line: its first 4 KiB. A process can make its
 * /proc/PID/cmdline any length (readProcHead), and listing it read all of it. */
const COMMAND_SHOWN = 4096;

async function commandLine(pid: number): Promise<string | undefined> {
  try {
    const { data, more } = await readProcHeadAsync(`/proc/${pid}/cmdline`, COMMAND_SHOWN);
    return data.toString("latin1") + (more ? "..." : "");
  } catch {
    return undefined; // exited while we looked
  }
}

async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(...(await Promise.all(items.slice(i, i + BATCH).map(fn))));
  return out;
}

/** utime + stime (fields 14 and 15) in seconds. */
function cpuFromStat(stat: string): number {
  const rest = statFields(stat);
  return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS || 0;
}

function rssAnon(status: string | undefined): number {
  const m = status === undefined ? null : /^RssAnon:\s+(\d+) kB$/m.exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** The command line as one string (NUL-separated arguments joined by spaces). */
function commandText(cmdline: string | undefined, stat: string): string {
  if (cmdline !== undefined && cmdline.length > 0) return cmdline.replace(/\0$/, "").split("\0").join(" ");
  return `[${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}]`;
}

/** The part of a Sandbox that says which of its processes are sandlock's own. */
export interface ProcessOwner {
  /** The command's host pid. */
  readonly pid: number | undefined;
  readonly procView: "kernel" | "supervised" | undefined;
}

/**
 * Every process descending from the launcher, in pid order, but the launcher itself and,
 * under the kernel view, its init (the command's parent, a child of the launcher): sandlock's
 * own processes, which maxProcesses does not count and a stop does not need to ask.
 */
export async function sandboxProcesses(launcherPid: number, owner?: ProcessOwner): Promise<SandboxProcess[]> {
  const pids = (await readdir("/proc")).filter((n) => /^\d+$/.test(n)).map(Number);
  const stats = await inBatches(pids, async (pid) => [pid, await readOr(`/proc/${pid}/stat`)] as const);
  const parent = new Map<number, number>();
  const statOf = new Map<number, string>();
  for (const [pid, stat] of stats) {
    if (stat === undefined) continue;
    const ppid = parentFromStat(stat);
    if (ppid === undefined) continue;
    parent.set(pid, ppid);
    statOf.set(pid, stat);
  }
  const cmdParent = owner?.pid === undefined ? undefined : parent.get(owner.pid);
  const init = owner?.procView === "kernel" && cmdParent !== undefined && parent.get(cmdParent) === launcherPid ? cmdParent : undefined;
  const members = pids.filter((pid) => {
    if (pid === init) return false;
    for (let p = parent.get(pid), depth = 0; p !== undefined && depth < 4096; p = parent.get(p), depth++) {
      if (p === launcherPid) return true;
    }
    return false;
  });
  return inBatches(members, async (pid) => {
    const stat = statOf.get(pid)!;
    const [cmdline, status] = await Promise.all([commandLine(pid), readOr(`/proc/${pid}/status`)]);
    return {
      pid,
      ppid: parent.get(pid)!,
      state: stateFromStat(stat) ?? "?",
      command: commandText(cmdline, stat),
      rssAnonBytes: rssAnon(status),
      cpuSeconds: cpuFromStat(stat),
    };
  });
}
