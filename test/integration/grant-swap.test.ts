// Between planning and the launcher's Landlock rules, a granted path can change under a
// sandbox that starts: another process that can write its parent swaps it for a symbolic
// link. Today the planner and the launcher each follow whatever link they find, so under a
// racer swapping continuously some starts grant the link's target (3 of 150 measured). The
// fix (the plan pins what planning resolved: real paths opened with RESOLVE_NO_SYMLINKS, or
// O_PATH descriptors opened at planning; and a grant reached through a link inside the same
// policy's writable grant refused) is not built: this case is marked todo until it is, and
// runs as root and as the test user so the number is kept in view.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runScript } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";

const TODO = "a grant is resolved twice (planning, then the launcher's open), each following links: not pinned yet (see this file's header)";

for (const who of ["root", "user"] as const) {
  test(`a granted directory swapped for a symlink while sandboxes start never grants the link's target [${who}]`, { todo: TODO, skip: who === "root" && !isRoot ? "tests are not running as root" : false, timeout: 180_000 }, async () => {
    const o = (await runScript("dist/test/scripts/grant-swap-case.js", ["${STAGE}", "150"], who, 180_000)) as { wins: number; ran: number; failedStarts: number; control: string };
    assert.equal(o.control, "ok", "control: the outside directory granted directly is writable");
    assert.ok(o.ran > 0, `some starts ran while the race went on: ${JSON.stringify(o)}`);
    assert.equal(o.wins, 0, `starts that wrote outside through the swapped link: ${o.wins} (ran ${o.ran}, refused ${o.failedStarts})`);
  });
}
