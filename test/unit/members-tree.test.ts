// Which processes are a sandbox's (supervise/members.ts treeIn): a pass over /proc reads each
// process once, in pid order. After the pid counter wraps, a child can have a lower pid
// than its parent; a parent that exits between the two reads is missing from the pass, and
// its children, already given to the launcher (a subreaper) by then, were left out of the
// sandbox with all they made (the seventeenth review). Their stat is read again now.

import assert from "node:assert/strict";
import { test } from "node:test";
import { treeIn } from "../../src/supervise/members.js";

const ROOT = 100; // the launcher

test("a child whose parent left the pass is read again and found under the launcher it was given to", () => {
  // 5 (low pid, read first) was 30000's child; 30000 exited before the pass reached it. 6 is 5's child.
  const parent = new Map([
    [ROOT, 1],
    [5, 30000],
    [6, 5],
    [200, ROOT],
  ]);
  const reads: number[] = [];
  const tree = treeIn({ parent, zombies: new Set() }, ROOT, false, (pid) => (reads.push(pid), pid === 5 ? ROOT : undefined));
  assert.deepEqual([...tree.keys()].sort((a, b) => a - b), [5, 6, 200]);
  assert.equal(tree.get(5), ROOT, "its parent as read again");
  assert.deepEqual([...new Set(reads)], [5], "only the process whose parent was missing is read again");
});

test("a process whose parent is missing and that reads the same parent again (or is gone) stays outside", () => {
  const parent = new Map([
    [ROOT, 1],
    [7, 30001],
    [8, 30002],
  ]);
  const tree = treeIn({ parent, zombies: new Set() }, ROOT, false, (pid) => (pid === 7 ? 30001 : undefined));
  assert.deepEqual([...tree.keys()], []);
});

test("a process outside the sandbox, whose ancestry ends at init, is not read again", () => {
  const parent = new Map([
    [1, 0],
    [ROOT, 1],
    [50, 1],
    [51, 50],
  ]);
  const reads: number[] = [];
  const tree = treeIn({ parent, zombies: new Set() }, ROOT, false, (pid) => (reads.push(pid), undefined));
  assert.deepEqual([...tree.keys()], []);
  assert.deepEqual(reads, []);
});

test("zombies are left out unless asked for, as before", () => {
  const parent = new Map([
    [ROOT, 1],
    [9, ROOT],
    [10, 9],
  ]);
  const zombies = new Set([10]);
  assert.deepEqual([...treeIn({ parent, zombies }, ROOT, false).keys()], [9]);
  assert.deepEqual([...treeIn({ parent, zombies }, ROOT, true).keys()], [9, 10]);
});
