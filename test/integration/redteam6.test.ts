// The sixth security review (docs/security.md, "Sixth review"): what the last stop added,
// attacked from inside a sandbox, as root and as the test user. Races are bounded (a fixed
// number of rounds) and expect zero wins; each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

// protectedFiles keeps .git/config, but a protected config may include another file
// (`[include] path`, `[includeIf "gitdir:..."] path`, in the repository's config or the
// user's ~/.gitconfig). One inside the writable grant was config the sandbox could write:
// its core.fsmonitor ran at the user's next `git status` (the control, protectedFiles off).
// Now such a start is refused, naming the config, the include and the grant
// (plan/protect-includes.ts). Control: an include outside the grant starts and runs.
scriptCase("protectedFiles: a git config that includes a file in a writable grant refuses the start, so git never runs a planted include", "dist/test/scripts/red6-case.js", ["${PROBE}", "git-include"], (o) => {
  for (const way of ["repo", "global"]) {
    assert.equal(o[`${way}-allowed`].started, "exit 0", `control (${way}): without protectedFiles the sandbox runs: ${JSON.stringify(o)}`);
    assert.equal(o[`${way}-allowed`].ran, true, `control (${way}): without protectedFiles git runs the planted include: ${JSON.stringify(o)}`);
    assert.equal(o[`${way}-protected`].ran, false, `${way}: git ran the planted include: ${JSON.stringify(o)}`);
  }
  assert.match(o["repo-protected"].started, /^PolicyError: protectedFiles: BASE\/repo-protected\/\.git\/config has include\.path = "\.\.\/local\.cfg", which is BASE\/repo-protected\/local\.cfg, inside the writable grant BASE\/repo-protected: .*--allow-protected/);
  assert.match(o["global-protected"].started, /^PolicyError: protectedFiles: BASE\/home\/\.gitconfig has includeIf\.path = "BASE\/global-protected\/team\.cfg", which is BASE\/global-protected\/team\.cfg, inside the writable grant BASE\/global-protected: /);
  assert.deepEqual(o["outside-protected"], { started: "exit 0", ran: true }, `an include outside the grant: ${JSON.stringify(o)}`);
}, 180_000);

// A writable grant that is a home directory: the shell start-up files were protected, the
// user's own git config was not (`~/.gitconfig`, `~/.config/git/config`: read by every
// git command the user types anywhere). A planted core.fsmonitor ran at the next `git
// status` in another repository (the control, protectedFiles off). Both are protected
// names now (policy/protected.ts): the write is refused with EACCES.
scriptCase("protectedFiles: a home directory grant cannot plant the user's own git config", "dist/test/scripts/red6-case.js", ["${PROBE}", "git-home"], (o) => {
  for (const file of [".gitconfig", ".config/git/config"]) {
    assert.equal(o[`${file}-allowed`].ran, true, `control (${file}): without protectedFiles git runs the planted config: ${JSON.stringify(o)}`);
    assert.equal(o[`${file}-protected`].ran, false, `${file}: git ran the planted config: ${JSON.stringify(o)}`);
    assert.notEqual(o[`${file}-protected`].exit, 0, JSON.stringify(o));
    assert.match(o[`${file}-protected`].stderr, /Permission denied/, JSON.stringify(o));
  }
}, 180_000);
