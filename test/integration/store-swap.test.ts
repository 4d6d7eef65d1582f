// The copy-on-write branch store, written by the host with the user's rights, against a
// sandbox granted it (docs/security.md, "The branch store"): the host's writes, modes and
// removals there go through descriptors pinned beneath the branch, never by a path the
// sandbox could redirect with a link. Root and the test user; races are bounded and
// expect zero wins, each with a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/store-swap-case.js";

// maxDisk's copy-out (cow/quota.ts drainStage) created the stage's files by path under the
// branch's upper: upper/d swapped for a link mid-copy had the rest of the sandbox's files
// created in the link's target, and the final chmod set that directory 0777.
scriptCase("the maxDisk copy-out into a branch never writes through a directory swapped for a link", SCRIPT, ["copy", "${PROBE}", "6"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.ok(o.controlFiles > 0, `control: a copy by path through the swapped directory lands files in the victim: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0, `the racer swapped a directory under copy: ${JSON.stringify(o)}`);
  assert.equal(o.kept + o.refused, 6, JSON.stringify(o));
  assert.equal(o.wins, 0, `copy-outs that wrote or chmodded the victim: ${JSON.stringify(o)}`);
}, 60_000);

// The branch's record (meta.json) was written to a fixed temporary name by path: a link
// planted there had its target overwritten with the record.
scriptCase("a branch's record is never written through a link planted as its temporary", SCRIPT, ["meta", "${PROBE}", "3"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.control, true, `control: a write by path through the planted name reaches the victim: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0 && o.plantedSeen > 0, `the racer planted links beside the records: ${JSON.stringify(o)}`);
  assert.equal(o.kept, 3, JSON.stringify(o));
  assert.equal(o.records, 3, `each record is a file of its own, its last state written: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `runs that changed the victim file: ${JSON.stringify(o)}`);
}, 60_000);

// A dropped branch's overlay work directory was opened up (chmod 0700, two levels) by path:
// a work swapped for a link had the victim's modes changed, in the background removal of
// an aborted run and in `sandlock branch drop` alike.
scriptCase("dropping a branch never changes what a work directory swapped for a link names", SCRIPT, ["work", "${PROBE}", "3"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.control, "700", `control: a chmod by path of the swapped name reaches the victim: ${JSON.stringify(o)}`);
  // A swap is seen either after a kept run (its work directory is a link) or at a run's
  // start (refused: "replaced since it was made").
  assert.ok(o.swaps > 0 && o.swappedSeen + o.refusedAtStart > 0, `the racer swapped work directories: ${JSON.stringify(o)}`);
  // Each aborted run ends aborted or refused at its start (removed then, not left
  // half-made); each kept run is tried until it reaches its drop, at most 5 times.
  assert.equal(o.dropped + o.keptGaveUp, 3, `every round's kept run was dropped or refused 5 times: ${JSON.stringify(o)}`);
  assert.ok(o.dropped >= 1 && o.aborted + o.dropped >= 2, `most runs reached their drop: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `drops that changed the victim's modes or removed its files: ${JSON.stringify(o)}`);
  assert.deepEqual(o.left, [], `every branch was removed whole: ${JSON.stringify(o)}`);
}, 60_000);
