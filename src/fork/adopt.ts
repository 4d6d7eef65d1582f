// The parent's hold on each clone: a pidfd it opens itself for the pid the zygote reports,
// kept only when it names a child of the zygote that was still unreaped after the check.
// The zygote runs the sandbox's code, so a reported pid is the sandbox's word, never proof.

import { closeSync, readFileSync, readlinkSync } from "node:fs";
import { native } from "../confine/native.js";
import { parentFromStat } from "../supervise/members.js";

/** A clone the parent holds: its pid in this process's namespace and a pidfd on it. */
export interface Adopted {
  pid: number;
  pidfd: number;
}

/** The pid named by a pidfd now (fdinfo's "Pid:", in the reader's namespace); -1 once the
 * process is reaped, undefined when the descriptor cannot be read. */
function pidfdPid(pidfd: number): number | undefined {
  try {
    const m = /^Pid:\s*(-?\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${pidfd}`, "latin1"));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** A process's parent and its pid in the innermost pid namespace, read now; undefined once
 * it is gone. In this process's namespace (`inner` false) the pid is its own and the
 * shorter /proc/<pid>/stat is read; otherwise /proc/<pid>/status (NSpid). */
function parentAndInner(pid: number, inner = true): { ppid: number; inner: number } | undefined {
  if (!inner) {
    try {
      const ppid = parentFromStat(readFileSync(`/proc/${pid}/stat`, "latin1"));
      return ppid === undefined ? undefined : { ppid, inner: pid };
    } catch {
      return undefined;
    }
  }
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "latin1");
  } catch {
    return undefined;
  }
  const ppid = /^PPid:\s*(\d+)$/m.exec(status);
  const nspid = /^NSpid:\s*([\d\s]+)$/m.exec(status);
  if (ppid === null || nspid === null) return undefined;
  return { ppid: Number(ppid[1]), inner: Number(nspid[1]!.trim().split(/\s+/).pop()) };
}

/**
 * Opens the pidfds of the clones a zygote reports. Why this is as strong as the zygote
 * opening them (a trapped pidfd_open the supervisor checked) and needs no round trip:
 *
 * - A pidfd names the process that held the number when it was opened, for as long as it
 *   lives (a struct pid, never a number). The question is only which process that was.
 * - It is kept when /proc/<pid>/status, read after the open, gives the zygote as the parent
 *   and the reported pid as the pid in the zygote's namespace, and the pidfd's process is
 *   still unreaped after that read (fdinfo): a process keeps its number until it is reaped,
 *   so the status read was of the pidfd's process. A child of the zygote is in the sandbox
 *   (fork keeps the filter and the Landlock domain). The zygote's own number is checked the
 *   same way, through a pidfd opened on it at start, after the batch.
 * - An honest zygote reaps none of a batch before the parent says it has read it
 *   ("pidsRead", zygote-main.cts): a clone that exits at once stays a zombie under its
 *   number, which no other process can then take. So each pidfd names that clone.
 * - A zygote that reaps early, or reports another number, gets for that clone no pidfd and
 *   pid 0 (the handle then signals nothing by number): whatever process holds the number by
 *   then, of the host or of another sandbox, is not the zygote's child and is never held.
 *   Another child of the same zygote is the sandbox's own, as before: a zygote could
 *   always have passed any of its sandbox's pidfds.
 */
export class CloneAdopter {
  readonly #zygote: number;
  #zygoteFd: number;
  /** The zygote lives in this process's pid namespace (not under the kernel view). */
  readonly #sameNs: boolean;

  constructor(zygotePid: number) {
    this.#zygote = zygotePid;
    const fd = native().pidfdOpen(zygotePid);
    this.#zygoteFd = fd >= 0 ? fd : -1;
    let same = true;
    try {
      same = readlinkSync(`/proc/${zygotePid}/ns/pid`) === readlinkSync("/proc/self/ns/pid");
    } catch {
      // the zygote is gone: nothing it reports will be adopted (see adopt)
    }
    this.#sameNs = same;
  }

  /** Each reported pid's clone, or why it is not held (in report order). */
  adopt(reported: readonly number[]): (Adopted | Error)[] {
    const n = native();
    const out: (Adopted | Error)[] = reported.map((r) => {
      const pid = this.#sameNs ? r : this.#hostPidOf(r);
      if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return new Error(`no child of the zygote has pid ${r} in its namespace`);
      const pidfd = n.pidfdOpen(pid);
      if (pidfd < 0) return new Error(`the clone exited before it was reported (the zygote said pid ${r}, which is not trusted)`);
      const seen = parentAndInner(pid, !this.#sameNs);
      const after = pidfdPid(pidfd);
      if (seen === undefined || after !== pid) {
        closeSync(pidfd);
        return new Error(`the clone exited before it was reported (the zygote said pid ${r}, which is not trusted)`);
      }
      if (seen.ppid !== this.#zygote || seen.inner !== r) {
        closeSync(pidfd);
        return new Error(`process ${pid} is not a child of the zygote (the zygote said pid ${r}, which is not trusted)`);
      }
      return { pid, pidfd };
    });
    // The parent number read above was the zygote's only if the zygote still holds it now.
    if (this.#zygoteFd < 0 || pidfdPid(this.#zygoteFd) !== this.#zygote) {
      return out.map((a) => {
        if (!(a instanceof Error)) closeSync(a.pidfd);
        return new Error("the zygote is gone");
      });
    }
    return out;
  }

  /** Under the kernel view: the zygote's children, host pid by pid in its namespace. Kept
   * between batches (each entry is checked again by adopt); a child not yet in it is read
   * once, and a miss after that rereads every child (a number reused since). */
  readonly #inner = new Map<number, number>();
  readonly #known = new Set<number>();

  #hostPidOf(inner: number): number | undefined {
    if (!this.#inner.has(inner)) this.#readChildren(false);
    if (!this.#inner.has(inner)) this.#readChildren(true);
    return this.#inner.get(inner);
  }

  #readChildren(all: boolean): void {
    let children: string;
    try {
      children = readFileSync(`/proc/${this.#zygote}/task/${this.#zygote}/children`, "latin1");
    } catch {
      return;
    }
    if (all) this.#inner.clear(), this.#known.clear();
    for (const word of children.split(" ")) {
      const pid = Number(word);
      if (word === "" || !Number.isInteger(pid) || this.#known.has(pid)) continue;
      const seen = parentAndInner(pid);
      if (seen === undefined) continue;
      this.#known.add(pid);
      this.#inner.set(seen.inner, pid);
    }
  }

  close(): void {
    if (this.#zygoteFd >= 0) closeSync(this.#zygoteFd);
    this.#zygoteFd = -1;
  }
}
