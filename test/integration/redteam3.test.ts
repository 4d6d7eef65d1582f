// The fourth security review (docs/security.md): what the last two stops added, attacked
// from inside a sandbox, as root and as the test user. Races are bounded (a fixed number of
// rounds) and expect zero wins; each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

// A concurrent sandbox with the real workdir granted swaps the commit's temporary files and
// new directories for links to an outside file: the commit sets modes and times on the
// descriptors it created (cow/commit.ts), never by a path that a swap could redirect.
scriptCase("a commit's temporaries and new directories swapped for links never chmod what the links name", "dist/test/scripts/commit-swap-case.js", ["${PROBE}", "8"], (o) => {
  assert.equal(o.control, "640", `control: a chmod by path through a link in the workdir reaches the victim: ${JSON.stringify(o)}`);
  assert.ok(o.swaps > 0, `the racer replaced names during the commits: ${JSON.stringify(o)}`);
  assert.equal(o.wins, 0, `commits that changed the outside file's mode: ${JSON.stringify(o)}`);
}, 400_000);
