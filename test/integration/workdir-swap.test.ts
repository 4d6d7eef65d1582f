// A workdir swapped for a symbolic link, continuously, by another process that can write its
// parent, while sandboxes with that workdir start (root and the test user): none may read
// the link's target through the workdir. Three things hold it: planning refuses the link by
// name (plan/grant-path.ts), the launcher mounts the overlay on the directory it opened
// without following links (cow.c: a swap after planning fails the start with ELOOP), and
// the workdir's Landlock rule is opened the same way, so an overlay that landed elsewhere
// would be unreadable. Measured: with the first two disabled (the old launcher), still 0 of
// 300 read outside, the rule alone stopped them; this guards all three together. The
// control reads the outside directory as its own workdir.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("a workdir swapped for a symlink while sandboxes start never shows the link's target", "dist/test/scripts/workdir-swap-case.js", ["300"], (o) => {
  assert.equal(o.control, "OUTSIDE", "control: the outside directory as the workdir is read");
  assert.ok(o.ran > 0, `some starts ran while the race went on: ${JSON.stringify(o)}`);
  assert.ok(o.failedStarts > 0, `the race was live: some starts met the link and were refused: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `starts that read outside through the swapped link: ${JSON.stringify(o)}`);
}, 300_000);
