// Which processes belong to a sandbox: those descending from its launcher, a child
// subreaper, so an orphan is re-parented to it and never leaves the tree. Parent chains
// come from /proc/<pid>/stat and are cached for a short burst.

import { monotonicMs } from "../kernel/clock.js";
import { existsSync, readdirSync } from "node:fs";
import { constants } from "node:os";
import { readProcText } from "../kernel/proc-text.js";
import { native } from "../confine/native.js";

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
 * The parent of every process descending from root (root itself left out). Zombies
 * (exited, not yet reaped) are left out unless asked for. Where the kernel lists each
 * thread's children (/proc/PID/task/TID/children), a walk down from root reads only the
 * sandbox's own processes (walkTree); elsewhere, or when the walk does not settle, one pass
 * over every process of the host's /proc. `maxAgeMs` lets periodic callers share a recent
 * answer: fifty sandboxes' watchdogs must not each pay a pass over the host, and one
 * sandbox's callers need not walk it twice within the age.
 */
export function processTree(root: number, withZombies = false, maxAgeMs = 0): Map<number, number> {
  if (listsChildren()) {
    const now = Date.now();
    let known = walks.get(root);
    if (known === undefined || maxAgeMs <= 0 || now - known.at > maxAgeMs) {
      const walked = walkTree(root, procReader);
      known = walked === undefined ? undefined : { at: now, ...walked };
      if (known !== undefined) keepWalk(root, known);
    }
    if (known !== undefined) return withoutZombies(known, withZombies);
  }
  if (table === undefined || maxAgeMs <= 0 || Date.now() - table.at > maxAgeMs) table = scanProcesses();
  return treeIn(table, root, withZombies);
}

/** Whether this kernel lists a thread's children (CONFIG_PROC_CHILDREN). Some do not: the
 * launcher's own count (native/launcher/tree.c) reads every process's stat for that. */
let childrenListed: boolean | undefined;
function listsChildren(): boolean {
  return (childrenListed ??= existsSync("/proc/thread-self/children"));
}

/** The last walk of each root, for callers sharing one within their maxAgeMs. */
const walks = new Map<number, ProcessTable>();
function keepWalk(root: number, walk: ProcessTable): void {
  walks.delete(root); // re-inserted last: the map's order is the walks' age
  walks.set(root, walk);
  for (const [old, w] of walks) {
    if (walks.size <= 16 && walk.at - w.at <= 10_000) break;
    walks.delete(old);
  }
}

function withoutZombies(t: Pick<ProcessTable, "parent" | "zombies">, withZombies: boolean): Map<number, number> {
  if (withZombies) return new Map(t.parent);
  const out = new Map<number, number>();
  for (const [pid, ppid] of t.parent) if (!t.zombies.has(pid)) out.set(pid, ppid);
  return out;
}

/** What walkTree reads of a process; the real one reads /proc, a unit test's tells a story. */
export interface TreeReader {
  /** The children of every thread of pid (processes, by their pid) and whether every
   * thread's list was read (false: a thread went between the listing and its read), then
   * pid's parent and state letter (R, S, Z...) as read after them; undefined when pid is
   * gone. */
  read(pid: number): { pids: number[]; whole: boolean; ppid: number; state: string } | undefined;
}

let childrenOut = Buffer.alloc(1024 * 4);
const procReader: TreeReader = {
  read(pid) {
    let n = native().processChildren(pid, childrenOut);
    while (n === -E2BIG) {
      childrenOut = Buffer.alloc(childrenOut.length * 4);
      n = native().processChildren(pid, childrenOut);
    }
    if (n < 0) return undefined;
    const o = new Int32Array(childrenOut.buffer, childrenOut.byteOffset, n);
    return { ppid: o[0]!, state: String.fromCharCode(o[1]!), whole: o[2] === 1, pids: [...o.subarray(3)] };
  },
};
const E2BIG = constants.errno.E2BIG;

/** Passes of re-reads a walk may take before it gives up for a pass over the host. */
const WALK_ROUNDS = 8;

/**
 * The sandbox's processes by walking down from root through each thread's list of
 * children: reads in proportion to the sandbox, not to the host. Undefined when it did not
 * settle within WALK_ROUNDS rounds (the caller then passes over the host's /proc).
 *
 * A list is read once, at one moment, and processes move while the walk goes on: a
 * process whose parent exits is given to the nearest live subreaper above it (the
 * launcher, the kernel view's init, or one the sandbox made) or, when a thread exits, to
 * another thread of its process, often to a list the walk has read already; and the
 * parent that exited may be reaped before its own parent's list is read, so nothing the
 * walk reads names it. So after the walk down, every list is read again (deepest first),
 * and again, until a whole pass finds no process it did not know and none of those it
 * knew gone, newly exited (a zombie: it gave its children away as it exited) or with a
 * thread gone during the read. A process's state is read after its lists: one still alive
 * then was alive when they were read. A sandbox whose processes exit or fork faster than
 * the passes settle (an attacker's fork-and-exit chain, a busy build) gets the pass over
 * the host, as before. What the walk may leave out is a process made after it began, as
 * any pass would. Tested against a model of exits, reaps, forks and subreapers
 * (test/unit/members-walk.test.ts): reading again only what was found exiting, and what
 * was above it, missed processes there.
 */
export function walkTree(root: number, reader: TreeReader, rounds = WALK_ROUNDS): { parent: Map<number, number>; zombies: Set<number> } | undefined {
  const parent = new Map<number, number>(); // from each process's stat: its parent now
  const zombies = new Set<number>();
  const depthOf = new Map<number, number>([[root, 0]]); // lists down from root it was found
  const gone = new Set<number>();
  let changed = false; // a process found gone, newly exited, or a thread gone: children may have moved
  let queue: number[] = [root];
  const read = (pid: number): void => {
    const r = reader.read(pid);
    if (pid === root) {
      if (r === undefined) return;
    } else if (r === undefined) {
      gone.add(pid);
      parent.delete(pid);
      zombies.delete(pid);
      changed = true;
      return;
    } else {
      parent.set(pid, r.ppid);
      // a zombie gave its children away as it exited (a leader's may go on in its
      // threads, still walked): once seen, every list is read after that
      if ((r.state === "Z" || r.state === "X") && !zombies.has(pid)) {
        zombies.add(pid);
        changed = true;
      }
    }
    if (!r.whole) changed = true;
    for (const child of r.pids) {
      if (depthOf.has(child)) continue;
      depthOf.set(child, depthOf.get(pid)! + 1);
      queue.push(child);
    }
  };
  let known = -1;
  for (let round = 0; ; round++) {
    while (queue.length > 0) {
      const next = queue;
      queue = [];
      for (const pid of next) read(pid);
    }
    if (round > 0 && !changed && depthOf.size === known) break;
    if (round > rounds) return undefined;
    // every list read again, deepest first
    known = depthOf.size;
    changed = false;
    const ordered = [...depthOf].filter(([pid]) => !gone.has(pid)).sort((x, y) => y[1] - x[1]);
    for (const [pid] of ordered) read(pid);
  }
  for (const pid of gone) parent.delete(pid);
  return { parent, zombies };
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
