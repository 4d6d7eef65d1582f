// A granted path swapped for a symbolic link, continuously, by another process that can
// write its parent, while sandboxes start. Between planning and the launcher's rules the
// path is pinned (the plan names the real path, opened with RESOLVE_NO_SYMLINKS: a link
// there fails the start; host-reach.test.ts tests it deterministically). What remains is
// planning itself: a grant follows the link it finds when the sandbox is planned (as a
// grant of /lib follows /lib -> usr/lib), so a racer that wins before planning redirects
// the grant (1 of 150 starts with the pin, 3 without). Closing it means refusing grants
// that pass through a link an untrusted process can swap (one inside a writable grant of
// the same policy, or a directory others can write): not built, so this case is todo and
// runs as root and as the test user to keep the number in view.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runScript } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";

const TODO = "planning follows a link it finds in a grant; a racer that swaps before planning redirects the grant (see this file's header)";

for (const who of ["root", "user"] as const) {
  test(`a granted directory swapped for a symlink while sandboxes start never grants the link's target [${who}]`, { todo: TODO, skip: who === "root" && !isRoot ? "tests are not running as root" : false, timeout: 180_000 }, async () => {
    const o = (await runScript("dist/test/scripts/grant-swap-case.js", ["${STAGE}", "150"], who, 180_000)) as { wins: number; ran: number; failedStarts: number; control: string };
    assert.equal(o.control, "ok", "control: the outside directory granted directly is writable");
    assert.ok(o.ran > 0, `some starts ran while the race went on: ${JSON.stringify(o)}`);
    assert.equal(o.wins, 0, `starts that wrote outside through the swapped link: ${o.wins} (ran ${o.ran}, refused ${o.failedStarts})`);
  });
}
