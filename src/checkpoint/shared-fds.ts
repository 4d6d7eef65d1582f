// Which descriptors of a frozen tree share one open file description (a dup in one
// process, or inherited by a child), so a restore can give them back shared (one offset)
// instead of reopening twice: the candidates with one target are sorted by kcmp's order
// of their files (kernel/kcmp.ts), the same file's descriptors side by side. Compared two
// by two, each descriptor against every earlier one with its target, 3,000 separate opens
// of one file took 11 s of the event loop (a sandbox chooses how many descriptors it holds).

import { fileOrder as order, Unordered } from "../kernel/kcmp.js";
import type { FdEntry, ProcessImage } from "./image.js";
import { sortInTurns, type Turns } from "./turns.js";

/** A descriptor of process pid; `parent` for one of the process's parent. */
interface Candidate {
  pid: number;
  fd: number;
  parent: boolean;
}

/** The candidates above 2 of `fds`, by target. */
function byTarget(pid: number, fds: readonly FdEntry[], parent: boolean, into: Map<string, Candidate[]>): void {
  for (const f of fds) {
    if (f.fd <= 2) continue;
    let list = into.get(f.target);
    if (list === undefined) into.set(f.target, (list = []));
    list.push({ pid, fd: f.fd, parent });
  }
}

/** Sets fds[].sharedWith (the parent's lowest fd sharing it first, else the process's own
 * lowest lower fd) and fdsCompared on each process (false when kcmp could not order two of
 * its candidates: none of its descriptors is then marked); descriptors 0-2 are left out (a
 * restore replaces them). The event loop turns between comparisons (turns.ts). */
export async function markSharedFds(processes: ProcessImage[], turns: Turns): Promise<ProcessImage[]> {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const out: ProcessImage[] = [];
  for (const p of processes) out.push(await markProcess(p, byPid.get(p.ppid), turns));
  return out;
}

async function markProcess(p: ProcessImage, parent: ProcessImage | undefined, turns: Turns): Promise<ProcessImage> {
  const groups = new Map<string, Candidate[]>();
  byTarget(p.pid, p.fds, false, groups);
  const own = new Set(groups.keys());
  if (parent !== undefined) byTarget(parent.pid, parent.fds.filter((g) => own.has(g.target)), true, groups);
  const shared = new Map<number, { pid: number; fd: number }>();
  try {
    for (const list of groups.values()) {
      if (list.length < 2) continue;
      const sorted = await sortInTurns(list, order, turns);
      for (let i = 0; i < sorted.length; ) {
        let end = i + 1;
        while (end < sorted.length && order(sorted[i]!, sorted[end]!) === 0) end++;
        const run = sorted.slice(i, end);
        i = end;
        await turns.maybe();
        if (run.length < 2) continue;
        const fromParent = run.filter((c) => c.parent).sort((a, b) => a.fd - b.fd)[0];
        const mine = run.filter((c) => !c.parent).sort((a, b) => a.fd - b.fd);
        for (const c of mine) {
          const to = fromParent ?? mine[0]!;
          if (to !== c) shared.set(c.fd, { pid: to.pid, fd: to.fd });
        }
      }
    }
  } catch (e) {
    if (!(e instanceof Unordered)) throw e;
    return { ...p, fdsCompared: false };
  }
  const fds = p.fds.map((f): FdEntry => {
    const to = f.fd > 2 ? shared.get(f.fd) : undefined;
    return to === undefined ? f : { ...f, sharedWith: to };
  });
  return { ...p, fds, fdsCompared: true };
}
