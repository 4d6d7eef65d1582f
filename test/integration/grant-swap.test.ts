// Between planning and the launcher's Landlock rules, a granted path can change under a
// sandbox that starts: another process that can write its parent swaps it for a symbolic
// link. The rule must land on what was planned or the start must fail: never on the link's
// target (as root and as the test user; the race runs for a fixed number of starts).

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("a granted directory swapped for a symlink while sandboxes start never grants the link's target", "dist/test/scripts/grant-swap-case.js", ["${STAGE}", "150"], (o: { wins: number; ran: number; failedStarts: number; control: string }) => {
  assert.equal(o.control, "ok", "control: the outside directory granted directly is writable");
  assert.equal(o.wins, 0, `starts that wrote outside through the swapped link: ${o.wins} (ran ${o.ran}, refused ${o.failedStarts})`);
  assert.ok(o.ran + o.failedStarts === 150, JSON.stringify(o));
  assert.ok(o.ran > 0, `some starts ran while the race went on: ${JSON.stringify(o)}`);
}, 180_000);
