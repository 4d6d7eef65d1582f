// policyFn's ctx.restrictPidNetwork (SPEC 6): the destinations one process of the sandbox,
// and every process it starts, may still reach. Processes are known by pid and start time,
// so a pid the kernel reuses for another process never inherits a restriction.

import { SandboxError } from "../errors.js";
import { parentFromStat, statFields } from "./members.js";
import { readProcText } from "../kernel/proc-text.js";

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), and the parent. */
function identity(pid: number): { start: string; parent: number } | undefined {
  try {
    const stat = readProcText(`/proc/${pid}/stat`);
    const start = statFields(stat)[19];
    const parent = parentFromStat(stat);
    return start === undefined || parent === undefined ? undefined : { start, parent };
  } catch {
    return undefined; // gone
  }
}

/** The process (thread group) a thread belongs to. */
function threadGroup(tid: number): number | undefined {
  try {
    const m = /^Tgid:\s*(\d+)$/m.exec(readProcText(`/proc/${tid}/status`));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * Children inherit a restriction: a check walks from the caller up its parents to the
 * launcher and intersects what it meets. A process whose parent exits is re-parented to
 * the launcher (a child subreaper) and its lineage is lost; so every process found with a
 * restricted ancestor is recorded under its own identity (it keeps the restriction once
 * orphaned), and an orphan the supervisor never saw while its parent lived (any child of
 * the launcher other than the command's first process) is held to every restriction ever
 * given: where it came from is no longer known, and the side that cannot be escaped by a
 * double fork is the narrow one.
 */
export class PidNetwork {
  private readonly restricted = new Map<number, { start: string; ips: Set<string> }>();
  private root: { pid: number; start: string } | undefined;

  constructor(private readonly launcherPid: number, private readonly member: (pid: number) => boolean) {}

  /** The command's first process (its first exec stop): the one child of the launcher
   * that is not an orphan. */
  sawRoot(pid: number): void {
    if (this.root !== undefined) return;
    const id = identity(pid);
    if (id !== undefined) this.root = { pid, start: id.start };
  }

  /** ctx.restrictPidNetwork(pid, ips): narrows pid's process (a thread id names its
   * process) to ips, within what it was allowed before. */
  restrict(pid: unknown, ips: readonly string[]): void {
    if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) throw new SandboxError(`policyFn: ctx.restrictPidNetwork(): pid must be a process id of the sandbox (event.pid), got ${String(pid)}`);
    const tgid = threadGroup(pid);
    const id = tgid === undefined ? undefined : identity(tgid);
    if (tgid === undefined || id === undefined || !this.member(tgid)) throw new SandboxError(`policyFn: ctx.restrictPidNetwork(): pid ${pid} is not a running process of the sandbox`);
    this.narrow(tgid, id.start, new Set(ips));
  }

  private narrow(pid: number, start: string, ips: ReadonlySet<string>): void {
    const had = this.restricted.get(pid);
    const keep = had === undefined || had.start !== start ? new Set(ips) : new Set([...had.ips].filter((x) => ips.has(x)));
    this.restricted.set(pid, { start, ips: keep });
  }

  /** Whether thread tid's process may reach host (an IP as formatIp writes it). */
  allows(tid: number, host: string): boolean {
    if (this.restricted.size === 0) return true;
    const tgid = threadGroup(tid);
    if (tgid === undefined) return false; // gone: its call no longer matters
    const found: Set<string>[] = [];
    let self: string | undefined;
    for (let p = tgid, depth = 0; p > 1 && p !== this.launcherPid && depth < 4096; depth++) {
      const id = identity(p);
      if (id === undefined) return false; // exited while we looked: the narrow side
      if (p === tgid) self = id.start;
      const r = this.restricted.get(p);
      if (r !== undefined && r.start === id.start) found.push(r.ips);
      if (id.parent === this.launcherPid && !(this.root !== undefined && this.root.pid === p && this.root.start === id.start)) {
        // An orphan (or, before the first exec was seen, the command's process, which
        // nothing can have restricted yet): every restriction applies.
        for (const r2 of this.restricted.values()) found.push(r2.ips);
      }
      p = id.parent;
    }
    if (found.length === 0) return true;
    const ips = found.reduce((a, b) => new Set([...a].filter((x) => b.has(x))));
    // Remembered under its own identity: an orphan later still has it.
    if (self !== undefined) this.narrow(tgid, self, ips);
    return ips.has(host);
  }
}
