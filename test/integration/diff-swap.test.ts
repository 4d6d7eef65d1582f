// A dry run's diff (sandlock run --dry-run --diff, Sandbox.dryRun, the MCP server's dry
// runs) against a second sandbox that can write the real workdir, as root and as the test
// user (docs/security.md, "The dry run's diff"). diff(1) was given the real file's path
// after a check that it was a regular file: the racer's link to a secret outside every
// grant put the secret in the diff (measured before the fix: the first round), and a FIFO
// blocked diff(1), and with it the whole process, for ever (the next round never ended).
// Both sides are now opened beneath pinned directories and handed to diff(1) as
// descriptors. Control: a diff by path, made while the racer runs, shows the secret.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("dry run diff: a real file swapped for a link to a secret or for a FIFO neither leaks the secret nor hangs", "dist/test/scripts/diff-swap-case.js", ["6"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.deepEqual(o.errors, []);
  assert.equal(o.controlWins, 1, `control: a diff by path shows the secret while the racer runs: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0, `the racer swapped the real file: ${JSON.stringify(o)}`);
  assert.equal(o.hung, 0, `dry runs that never ended: ${JSON.stringify(o)}`);
  assert.equal(o.diffs, 6);
  assert.equal(o.fileShown, 6, "every diff shows the staged file");
  assert.equal(o.wins, 0, `diffs that held the secret: ${JSON.stringify(o)}`);
}, 120_000);
