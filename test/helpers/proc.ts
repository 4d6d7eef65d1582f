// Process facts the tests check from outside a sandbox.

import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { descendantsOf } from "../../src/supervise/members.js";

/** True while pid exists and is neither a zombie nor dead. */
export function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Waits (3 s at most) until every pid is gone; returns the ones still there. */
export async function gone(pids: readonly number[]): Promise<number[]> {
  for (let i = 0; i < 300 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 10));
  return pids.filter(alive);
}

/** The children of pid's main thread, with their command names ("?" once gone). */
export function childrenOf(pid: number): { pid: number; comm: string }[] {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1");
  } catch {
    return [];
  }
  return text
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => {
      let comm = "?";
      try {
        comm = readFileSync(`/proc/${p}/comm`, "latin1").trim();
      } catch {
        // gone meanwhile
      }
      return { pid: Number(p), comm };
    });
}

/** A process's parent and its own CPU time (user + system) in clock ticks, from its stat;
 * undefined once it is gone. */
export function statOf(pid: number): { ppid: number; cpuTicks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "latin1");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** Whether pid is a supervising process's sender (native/launcher/sender.c: argv[0]
 * "sandlock-sender"): one per process that supervises, started at the first send passing
 * descriptors and kept for the ones to come, part of no sandbox. */
function isSender(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0] === "sandlock-sender";
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes descending from pid, but for its sender (a helper of the
 * supervising process's that outlives its sandboxes by design, as its threads do). */
export function descendants(pid: number): number[] {
  return descendantsOf(pid).filter((p) => !isSender(p));
}

/**
 * The host pid of the process that is `inner` in the pid namespace of `member` (a process of
 * a kernel-view sandbox names itself by its namespace's pid: docs/kernel-view.md, "Pids across
 * the boundary"), or undefined when no live process of that namespace has it.
 */
export function hostPidIn(member: number, inner: number): number | undefined {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${member}/ns/pid`);
  } catch {
    return undefined;
  }
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) !== ns) continue;
      const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${name}/status`, "latin1"))?.[1].trim().split(/\s+/);
      if (nspid !== undefined && Number(nspid[nspid.length - 1]) === inner) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * A pid a sandbox's process printed, as this process names it: itself when `member` (a
 * process of that sandbox) shares this process's pid namespace (the supervised view), else
 * translated (the kernel view). Throws when no such process lives, rather than name none.
 */
export function outerPid(member: number, printed: number): number {
  if (readlinkSync(`/proc/${member}/ns/pid`) === readlinkSync("/proc/self/ns/pid")) return printed;
  const pid = hostPidIn(member, printed);
  if (pid === undefined) throw new Error(`no live process is ${printed} in the pid namespace of ${member}`);
  return pid;
}

/**
 * The pid (as this process names it) of the descendant of this process that names itself
 * `printed` in its own pid namespace: itself under the supervised view, the host pid of a
 * kernel-view sandbox's process; `printed` when no descendant matches (gone already).
 */
export function descendantNamed(printed: number): number {
  for (const pid of descendants(process.pid)) {
    try {
      const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1].trim().split(/\s+/);
      if (nspid !== undefined && Number(nspid[nspid.length - 1]) === printed) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return printed;
}

/** This process's main thread (its event loop's) from /proc/self/task/PID/schedstat, in ms:
 * its time on a CPU and its time waiting for one (the run-queue delay). */
export function loopThreadSched(): { ranMs: number; waitedMs: number } {
  const [ran, waited] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "latin1").split(" ");
  return { ranMs: Number(ran) / 1e6, waitedMs: Number(waited) / 1e6 };
}
