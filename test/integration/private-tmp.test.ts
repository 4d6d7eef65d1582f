// The private temporary directory (privateTmp, the workspace presets) after its run, as
// root and as the test user: its removal never follows a link another sandbox swapped in,
// and one left by a killed process is removed by the next one (docs/security.md,
// "The private temporary directory's removal").

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/private-tmp-case.js";

// A sandbox granted the temporary directory could write in another run's private
// directory, and swap a directory there, once its removal began, for a link to the user's
// files: fs.rmSync lists and removes by path, and emptied the linked directory (measured
// before the fix: 8 of 8 rounds, 2,360 of the victim's files). The removal now goes
// through descriptors (cow/beneath.ts removeBeneath). Control: the same race against
// fs.rmSync of a directory laid out the same way wins.
scriptCase("privateTmp: its removal never removes what a link swapped in by another sandbox names", SCRIPT, ["race", "${PROBE}", "8"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.ok(o.controlWins > 0, `control: a removal by path is won by the racer: ${JSON.stringify(o)}`);
  assert.equal(o.runs, 8, JSON.stringify(o));
  assert.ok(o.swaps > 0, `the racer swapped a directory under removal: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `removals that removed the user's files: ${JSON.stringify(o)}`);
  assert.equal(o.warnings, 0, `every private directory was removed whole, the one the racer moved aside too: ${JSON.stringify(o)}`);
}, 180_000);

// SIGKILL gives a process no chance to remove its directory. The next process's first
// removal of its own removes every directory named for a process of this pid namespace
// that no longer runs, and owned by this user; nothing a link there names.
scriptCase("privateTmp: a directory left by a killed process is removed by the next run, and nothing else", SCRIPT, ["sweep", "${PROBE}"], (o, who) => {
  assert.equal(o.error, undefined, o.error);
  assert.match(o.heldTag, new RegExp(`^\\d+\\.${o.childTag}\\.\\d+$`), "the directory is named for the process that made it");
  assert.equal(o.leftAfterKill, true, "control: the killed process left its directory and what its sandbox wrote");
  assert.equal(o.heldGone, true, "the next run removed it");
  assert.equal(o.ownGone, true);
  assert.equal(o.after.reused, false, "a directory of a pid now used by another process is removed (start times differ)");
  assert.equal(o.after.live, true, "a directory of a running process stays");
  assert.equal(o.after.otherNs, true, "a directory of another pid namespace stays");
  assert.equal(o.after.untagged, true, "a directory whose name does not say who made it stays");
  assert.equal(o.after.file, true, "a file stays");
  if (who === "root") assert.equal(o.after.otherUser, true, "a directory of another user stays");
  assert.equal(o.victimLeft, 300, "what a link in a removed directory named is untouched");
}, 60_000);
