// Which processes belong to a sandbox: those descending from its launcher, a child
// subreaper, so an orphan is re-parented to it and never leaves the tree. Parent chains
// come from /proc/<pid>/stat and are cached for a short burst.

import { monotonicMs } from "../kernel/clock.js";
import { readdirSync } from "node:fs";
import { readProcText } from "../kernel/proc-text.js";

/** How long a membership answer is reused. A live process never leaves the tree; a stale
 * answer needs its pid to die and be reused in that time, i.e. the pid space to wrap. */
const CACHE_MS = 100;

/** The fields of /proc/<pid>/stat after the comm (which may hold ") "): [0] is field 3,
 * the state; field N is [N - 3]. */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** A process's parent from the text of /proc/<pid>/stat. */
export function parentFromStat(stat: string): number | undefined {
  const ppid = Number(statFields(stat)[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** A process's state letter (R, S, T, Z...) from the text of /proc/<pid>/stat. */
export function stateFromStat(stat: string): string | undefined {
  return stat[stat.lastIndexOf(")") + 2];
}

const PF_EXITING = 0x4;

/**
 * Whether process (thread) pid is gone, a zombie or exiting. Such a process has let go of
 * its memory, and the kernel makes its /proc/<pid>/fd the host root's then (as for one
 * that is not dumpable): a supervisor without CAP_SYS_PTRACE gets EACCES from a table
 * that is only closing. Read after the failure: the kernel marks the process exiting
 * before it lets go of its memory.
 */
export function exiting(pid: number): boolean {
  try {
    const f = statFields(readProcText(`/proc/${pid}/stat`));
    return f[0] === "Z" || f[0] === "X" || (Number(f[6]) & PF_EXITING) !== 0;
  } catch {
    return true;
  }
}

/** The state letter of a live or zombie process, or undefined when it is gone. */
export function processState(pid: number): string | undefined {
  try {
    return stateFromStat(readProcText(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

interface ProcessTable {
  at: number;
  /** pid -> parent, zombies included */
  parent: Map<number, number>;
  zombies: Set<number>;
}

let table: ProcessTable | undefined;

/** One pass over /proc: every process's parent, and which are zombies. */
function scanProcesses(): ProcessTable {
  const parent = new Map<number, number>();
  const zombies = new Set<number>();
  for (const name of readdirSync("/proc")) {
    const first = name.charCodeAt(0);
    if (first < 49 || first > 57) continue; // not a pid
    try {
      const stat = readProcText(`/proc/${name}/stat`);
      const state = stateFromStat(stat);
      const ppid = parentFromStat(stat);
      if (ppid === undefined) continue;
      parent.set(Number(name), ppid);
      if (state === "Z" || state === "X") zombies.add(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return { at: Date.now(), parent, zombies };
}

/**
 * Whether pid's parent has changed since the pass read it (the map updated if so). A
 * parent missing from the pass has exited since its child was read (read later in pid
 * order: after the pid counter wraps, a child can have the lower pid), and the kernel gives
 * its children to a subreaper (the launcher) before the parent's /proc entry goes, so the
 * child's stat read again names its new parent. Without it the child and all it made were
 * left out of the sandbox (the seventeenth review, docs/security.md).
 */
function reparented(parent: Map<number, number>, pid: number, parentNow: (pid: number) => number | undefined): boolean {
  const now = parentNow(pid); // undefined: gone
  if (now === undefined || now === parent.get(pid)) return false;
  parent.set(pid, now);
  return true;
}

/**
 * The parent of every process descending from root (root itself left out), from one
 * pass over /proc. Zombies (exited, not yet reaped) are left out unless asked for.
 * `maxAgeMs` lets periodic callers share one pass: the /proc scan costs in proportion to
 * every process of the host, and fifty sandboxes' watchdogs must not each pay it.
 */
export function processTree(root: number, withZombies = false, maxAgeMs = 0): Map<number, number> {
  if (table === undefined || maxAgeMs <= 0 || Date.now() - table.at > maxAgeMs) table = scanProcesses();
  return treeIn(table, root, withZombies);
}

/** processTree over a pass already made; `parentNow` reads a process's parent again (see
 * reparented). Exported for its unit test. */
export function treeIn(table: Pick<ProcessTable, "parent" | "zombies">, root: number, withZombies: boolean, parentNow: (pid: number) => number | undefined = parentOf): Map<number, number> {
  const { parent, zombies } = table;
  const tree = new Map<number, number>();
  for (const pid of [...parent.keys()]) {
    if (!withZombies && zombies.has(pid)) continue;
    for (let cur = pid, depth = 0; depth < 4096; depth++) {
      const p = parent.get(cur);
      if (p === undefined) break;
      if (p === root) {
        tree.set(pid, parent.get(pid)!);
        break;
      }
      if (!parent.has(p) && p > 1) {
        if (reparented(parent, cur, parentNow)) continue;
        break;
      }
      cur = p;
    }
  }
  return tree;
}

/** Every process descending from root; see processTree. */
export function descendantsOf(root: number, withZombies = false): number[] {
  return [...processTree(root, withZombies).keys()];
}

/**
 * The accounting unit of a process in a fork group: the clone it belongs to (a child of
 * the zygote, or a process descending from one), or 0 for the zygote and everything else.
 * `parentOf` gives a process's parent (undefined when gone).
 */
export function cloneUnit(pid: number, zygote: number | undefined, parentOf: (pid: number) => number | undefined): number {
  if (zygote === undefined) return 0;
  for (let p = pid, depth = 0; p > 1 && p !== zygote && depth < 4096; depth++) {
    const pp = parentOf(p);
    if (pp === zygote) return p;
    if (pp === undefined) return 0;
    p = pp;
  }
  return 0;
}

export function parentOf(pid: number): number | undefined {
  try {
    return parentFromStat(readProcText(`/proc/${pid}/stat`));
  } catch {
    return undefined; // gone
  }
}

export class Members {
  private cache = new Map<number, boolean>();
  private since = 0;

  constructor(private readonly launcherPid: number) {}

  /** Whether process (or thread) pid descends from the launcher; the launcher does not. */
  has(pid: number): boolean {
    const now = monotonicMs();
    if (now - this.since > CACHE_MS) {
      this.cache.clear();
      this.since = now;
    }
    const chain: number[] = [];
    let answer = false;
    for (let cur: number | undefined = pid; chain.length < 4096; ) {
      if (cur === this.launcherPid) {
        answer = chain.length > 0;
        break;
      }
      if (cur === undefined || cur <= 1) break;
      const known = this.cache.get(cur);
      if (known !== undefined) {
        answer = known;
        break;
      }
      chain.push(cur);
      cur = parentOf(cur);
    }
    for (const p of chain) this.cache.set(p, answer);
    return answer;
  }

  /** Whether a process whose parent is ppid (read fresh by the caller) belongs. The
   * parent is alive (else the process would have been re-parented), so its cached answer
   * is about the same process. */
  hasParent(ppid: number): boolean {
    return ppid === this.launcherPid || this.has(ppid);
  }
}
