// The fifth security review (docs/security.md, "Fifth review"): what the last stop added,
// attacked from inside a sandbox, as root and as the test user. Races are bounded (a fixed
// number of rounds) and expect zero wins; each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

// A checkpoint saved into a directory the captured sandbox can write (`sandlock checkpoint
// NAME DIR` or cp.save(dir)): the sandbox, resumed after the capture, swaps the save's
// temporary directory for a link to a directory it cannot write. The owner wrote every
// file through the link (before the fix: 10 of 10 rounds, 31 files outside). Now the files
// are created beneath a descriptor of the temporary directory (kernel/new-dir.ts) and a
// save whose directory was swapped fails, naming why. Control: a save nobody races is
// complete and loads; the racer did swap (swaps > 0).
scriptCase("a checkpoint saved into a directory the sandbox can write never writes through a link it swapped in", "dist/test/scripts/red4-case.js", ["${PROBE}", "checkpoint", "10"], (o) => {
  assert.equal(o.controlLoaded, 1, `control: an unraced save loads: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0, `the racer swapped the temporary directory: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `files the owner wrote outside the sandbox's grant: ${JSON.stringify(o)}`);
  // A swap before the temporary was opened: ELOOP or ENOTDIR (the link is never followed); after: the rename's check.
  for (const e of o.errors) assert.match(e, /^checkpoint save \S+: writing failed \((ELOOP|ENOTDIR|the temporary directory \.cpN\.tmp-X was replaced while it was written \(another process can write the parent directory\))\)$/);
}, 180_000);
