// A granted path swapped for a symbolic link, continuously, by another process that can
// write its parent, while sandboxes start. Two defences, both needed: between planning and
// the launcher's rules the path is pinned (the plan names the real path, opened with
// RESOLVE_NO_SYMLINKS: a link there fails the start; host-reach.test.ts tests it
// deterministically), and planning follows no link in a directory a process other than
// root could change (plan/grant-path.ts): a link swapped in before planning is refused by
// name instead of redirecting the grant. With that refusal disabled, 28-34 of 600 starts
// wrote outside (three runs); with it, none.
// Runs as root and as the test user.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runScript } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";


for (const who of ["root", "user"] as const) {
  test(`a granted directory swapped for a symlink while sandboxes start never grants the link's target [${who}]`, { skip: who === "root" && !isRoot ? "tests are not running as root" : false, timeout: 180_000 }, async () => {
    const o = (await runScript("dist/test/scripts/grant-swap-case.js", ["${STAGE}", "600"], who, 180_000)) as { wins: number; ran: number; failedStarts: number; control: string };
    assert.equal(o.control, "ok", "control: the outside directory granted directly is writable");
    assert.ok(o.ran > 0, `some starts ran while the race went on: ${JSON.stringify(o)}`);
    assert.equal(o.wins, 0, `starts that wrote outside through the swapped link: ${o.wins} (ran ${o.ran}, refused ${o.failedStarts})`);
  });
}
