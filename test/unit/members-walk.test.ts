// The walk down a sandbox's tree through each thread's list of children (supervise/members.ts
// walkTree): lists are read one at a time while processes exit and their children are given
// to a subreaper above them. Stories of one move each, then a small kernel of processes that
// exit, are reaped and fork while the walk reads, checked against what a pass must find:
// every process present for the whole walk.

import assert from "node:assert/strict";
import { test } from "node:test";
import { walkTree, type TreeReader } from "../../src/supervise/members.js";

const ROOT = 100; // the launcher, a subreaper

/** A reader over a table that `onRead` may change before each read of a list and of a stat
 * (the reads' clock). */
function storyReader(tree: Map<number, { parent: number; state?: string; lists?: number[][][] }>, onRead: (n: number) => void): TreeReader & { reads: string[] } {
  let n = 0;
  const reads: string[] = [];
  return {
    reads,
    read(pid) {
      onRead(n++);
      reads.push(`children ${pid}`);
      if (pid !== ROOT && !tree.has(pid)) return undefined;
      let pids: number[];
      let whole = true;
      const own = tree.get(pid)?.lists;
      if (own !== undefined) {
        const lists = own.shift()!; // this read's threads' lists, the last one kept
        if (own.length === 0) own.push(lists);
        pids = lists.flat();
        whole = !lists.includes(GONE_THREAD);
      } else pids = [...tree].filter(([, p]) => p.parent === pid).map(([c]) => c);
      onRead(n++);
      const p = tree.get(pid);
      if (pid === ROOT) return { pids, whole, ppid: 1, state: "S" };
      return p === undefined ? undefined : { pids, whole, ppid: p.parent, state: p.state ?? "S" };
    },
  };
}
/** A thread whose list could not be read (it went). */
const GONE_THREAD: number[] = [];

test("a plain tree: every process with its parent, zombies named", () => {
  const tree = new Map([
    [1, { parent: ROOT }],
    [2, { parent: 1 }],
    [3, { parent: 2, state: "Z" }],
    [4, { parent: ROOT }],
    [50, { parent: 7 }], // not the sandbox's
  ]);
  const w = walkTree(ROOT, storyReader(tree, () => {}))!;
  assert.deepEqual([...w.parent].sort((a, b) => a[0] - b[0]), [[1, ROOT], [2, 1], [3, 2], [4, ROOT]]);
  assert.deepEqual([...w.zombies], [3]);
});

test("a child given to the launcher after the launcher's list was read is found by reading it again", () => {
  // 1 exits (reaped at once) between the launcher's read and its own: 2 goes to the launcher
  const tree = new Map([
    [1, { parent: ROOT }],
    [2, { parent: 1 }],
  ]);
  const r = storyReader(tree, (n) => {
    if (n === 2) {
      tree.delete(1);
      tree.get(2)!.parent = ROOT;
    }
  });
  const w = walkTree(ROOT, r)!;
  assert.deepEqual([...w.parent], [[2, ROOT]]);
  assert.ok(r.reads.filter((x) => x === `children ${ROOT}`).length >= 2, "the launcher's list read again");
});

test("a process climbing two levels while the re-reads climb is found", () => {
  // ROOT > 1 (a subreaper) > 2 > 3 > 4. After the walk reads 1 and 2, 3 exits: 4 goes to 1
  // (read already). While 1 is read again, it exits too: 4 goes to the launcher.
  const tree = new Map([
    [1, { parent: ROOT }],
    [2, { parent: 1 }],
    [3, { parent: 2 }],
    [4, { parent: 3 }],
  ]);
  let reads = 0;
  const r = storyReader(tree, () => {
    reads++;
  });
  const inner: TreeReader = {
    read(pid) {
      if (pid === 3) {
        tree.delete(3);
        tree.get(4)!.parent = 1;
      }
      if (pid === 1 && tree.get(4)?.parent === 1 && r.reads.includes("children 3")) {
        tree.delete(1);
        tree.get(2)!.parent = ROOT;
        tree.get(4)!.parent = ROOT;
      }
      return r.read(pid);
    },
  };
  const w = walkTree(ROOT, inner)!;
  assert.deepEqual([...w.parent.keys()].sort(), [2, 4]);
  assert.ok(reads > 0);
});

test("a child given to another thread of its process while the threads' lists were read is found", () => {
  // process 1's second thread forked 5 and exits during the read: its list fails, and 5 is
  // given to the first thread, whose list was read before the move
  const tree = new Map<number, { parent: number; lists?: number[][][] }>([
    [1, { parent: ROOT, lists: [[[], GONE_THREAD], [[5]]] }],
    [5, { parent: 1 }],
  ]);
  const w = walkTree(ROOT, storyReader(tree, () => {}))!;
  assert.deepEqual([...w.parent], [[1, ROOT], [5, 1]]);
});

test("a leader that exited while its threads run: the threads' children are still walked", () => {
  const tree = new Map([
    [1, { parent: ROOT, state: "Z" }],
    [2, { parent: 1 }],
  ]);
  const w = walkTree(ROOT, storyReader(tree, () => {}))!;
  assert.deepEqual([...w.parent], [[1, ROOT], [2, 1]]);
  assert.deepEqual([...w.zombies], [1]);
});

test("processes that keep exiting under the reads: the walk gives up within its rounds", () => {
  // every read of the launcher shows a new child, gone before its stat
  let next = 1000;
  const r: TreeReader = { read: (pid) => (pid === ROOT ? { pids: [next++], whole: true, ppid: 1, state: "S" } : undefined) };
  assert.equal(walkTree(ROOT, r, 8), undefined);
});

test("the launcher gone: nothing", () => {
  const r: TreeReader = { read: () => undefined };
  assert.deepEqual(walkTree(ROOT, r), { parent: new Map(), zombies: new Set() });
});

// A small kernel: processes fork, exit (their children given to the nearest live subreaper
// above them: the launcher, or one of the sandbox's), and are reaped by their parent, at
// random between the walk's reads (before a list, between it and the stat). What the walk
// must find: every process present (alive or a zombie, not reaped) from its start to its
// end. Regimes: few or many subreapers, calm or churning, wide or deep trees. A walk that
// read only the lists of processes found gone or exiting, and those above them, missed 90
// processes in 3,000 walks of a calmer model (a parent exiting and reaped before its own parent's list was read,
// its children given to a list read already).
test("random exits, reaps and forks between the reads: no process present throughout is missed", () => {
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let missed = 0;
  let settled = 0;
  let trials = 0;
  for (const subreapers of [0, 0.2, 0.6])
    for (const maxRate of [0.1, 0.5, 1])
      for (const deep of [0.2, 0.9])
        for (let trial = 0; trial < 300; trial++) {
          trials++;
          type P = { parent: number; zombie: boolean; subreaper: boolean };
          const procs = new Map<number, P>();
          let nextPid = 200;
          const alive = (): number[] => [...procs].filter(([, p]) => !p.zombie).map(([pid]) => pid);
          const fork = (parent: number): void => void procs.set(nextPid++, { parent, zombie: false, subreaper: rand() < subreapers });
          const size = 2 + Math.floor(rand() * 40);
          for (let i = 0; i < size; i++) {
            const live = alive();
            fork(live.length === 0 || rand() > deep ? ROOT : live[live.length - 1 - Math.floor(rand() * Math.min(3, live.length))]!);
          }
          const reaperOf = (pid: number): number => {
            for (let p = procs.get(pid)!.parent; p !== ROOT; p = procs.get(p)!.parent) if (procs.get(p)!.subreaper && !procs.get(p)!.zombie) return p;
            return ROOT;
          };
          const exit = (pid: number): void => {
            const reaper = reaperOf(pid);
            for (const p of procs.values()) if (p.parent === pid) p.parent = reaper;
            procs.get(pid)!.zombie = true;
          };
          const start = new Set(procs.keys());
          const rate = rand() * maxRate;
          const step = (): void => {
            if (rand() >= rate) return;
            const k = rand();
            const live = alive();
            if (k < 0.5 && live.length > 0) exit(live[Math.floor(rand() * live.length)]!);
            else if (k < 0.85) {
              const zombies = [...procs].filter(([, p]) => p.zombie).map(([pid]) => pid);
              if (zombies.length > 0) {
                const z = zombies[Math.floor(rand() * zombies.length)]!;
                if (!procs.get(procs.get(z)!.parent)?.zombie) procs.delete(z); // reaped by its parent
              }
            } else fork(live.length === 0 ? ROOT : live[Math.floor(rand() * live.length)]!);
          };
          const reader: TreeReader = {
            read(pid) {
              step();
              if (pid !== ROOT && !procs.has(pid)) return undefined;
              const pids = [...procs].filter(([, p]) => p.parent === pid).map(([c]) => c);
              step(); // the stat is read after the lists
              if (pid === ROOT) return { pids, whole: true, ppid: 1, state: "S" };
              const p = procs.get(pid);
              return p === undefined ? undefined : { pids, whole: true, ppid: p.parent, state: p.zombie ? "Z" : "S" };
            },
          };
          const w = walkTree(ROOT, reader, 8);
          if (w === undefined) continue;
          settled++;
          for (const pid of start) if (procs.has(pid) && !w.parent.has(pid)) missed++;
        }
  assert.equal(missed, 0, "processes present throughout the walk and left out");
  assert.ok(settled > trials / 2, `control: most walks settled (${settled} of ${trials})`);
});
