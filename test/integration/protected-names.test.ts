// protectedFiles by the supervisor (issue 12): protected names that did not exist at the
// start, at any depth, and every way to reach them (.., /proc/self/fd, O_PATH dirfds, hard
// links, renames, a symlink swapped in during the create) are refused; the same ops succeed
// without protectedFiles (the control); git commits, git init in a subdirectory is refused.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/names-case.js";

const REFUSED: Record<string, string> = {
  "envrc-create": "EACCES", // absent at the start
  "claude-mkdir": "EACCES",
  "mcp-symlink": "EACCES",
  "nested-git-mkdir": "ok", // a new repository's directory...
  "nested-config-create": "EACCES", // ...but not its config or hooks (any depth)
  "nested-hooks-mkdir": "EACCES",
  "deep-envrc-create": "EACCES",
  "deep-vscode-mkdir": "EACCES",
  "git-file-create": "EACCES", // a .git file would point git at a directory of the sandbox's
  "git-symlink": "EACCES",
  "dotdot-create": "EACCES",
  "procfd-create": "EACCES", // /proc/self/fd/N/.envrc, N an O_PATH descriptor of the tree
  "opath-dirfd-create": "EACCES", // openat(O_PATH descriptor of .git/hooks, ...)
  "opath-procfd-create": "EACCES",
  "config-hardlink": "EACCES", // a second, writable name for a protected file
  "hook-hardlink": "EACCES",
  "hook-write": "EACCES",
  "config-truncate": "EACCES",
  "hook-chmod": "EACCES",
  "hook-unlink": "EACCES",
  "mv-evil-git": "EACCES", // a directory holding hooks/ moved in as .git
  "mv-into-hooks": "EACCES",
  "exchange-git": "EACCES",
  openat2: "ENOSYS", // its flags are in memory: refused, libc falls back to openat
  "other-create": "ok",
  "other-mkdir": "ok",
  "other-rename": "ok",
  "other-link": "ok",
  "other-symlink": "ok",
  "other-mkfifo": "ok",
  "other-truncate": "ok",
  "other-unlink": "ok",
  "other-rmdir": "ok",
  "dev-stdout": "ok", // /dev/stdout -> /proc/self/fd/1, the caller's own pipe
  "umask-mode": "600", // created with the caller's umask (077)
  "git-rename-away": "EACCES", // a protected subtree moved to an unprotected name
};

/** What the control must be able to do: every refused op above (bar the ones an earlier
 * op of the control makes moot: the .git name then exists, evil was moved). */
const CONTROL_OK = Object.keys(REFUSED).filter((k) => REFUSED[k] !== "ok" && !["git-symlink", "mv-into-hooks", "exchange-git", "umask-mode"].includes(k));

scriptCase("protectedFiles (supervisor): protected names absent or present, at any depth, reached by .., /proc/self/fd, O_PATH dirfds, links and renames are refused; without it each succeeds", SCRIPT, ["${PROBE}", "ops"], (o) => {
  assert.deepEqual(o.protected.ops, REFUSED, o.protected.stderr);
  assert.deepEqual(o.protected.made, [], "nothing protected was made");
  assert.deepEqual(o.protected.hooks, ["pre-commit"]);
  for (const op of CONTROL_OK) assert.equal(o.allowed.ops[op], "ok", `control: ${op}`);
  assert.ok(o.allowed.made.includes(".envrc") && o.allowed.made.includes("sub/.git/config") && o.allowed.made.includes("sub4/.git"), "the control made them");
});

scriptCase("protectedFiles (supervisor): a thread swapping a path component for a symlink to .git/hooks during 2000 creates wins never; without protection it does", SCRIPT, ["${PROBE}", "race"], (o) => {
  assert.equal(o.protected.wins, 0, o.protected.stderr);
  assert.ok(o.protected.creates > 0, "creates under the plain directory succeed");
  assert.ok(o.protected.swaps > 0, `the swapping thread ran while the protected run's creates did: ${JSON.stringify(o.protected)}`);
  assert.ok(o.allowed.wins > 0, `control: the swap does reach .git/hooks without protection: ${JSON.stringify(o.allowed)}`);
});

scriptCase("protectedFiles (supervisor): git commits; git init in a subdirectory cannot write its config or hooks; without it both work", SCRIPT, ["${PROBE}", "git"], (o) => {
  assert.deepEqual(o.protected.stdout, ["committed", "init-refused"], o.protected.stderr);
  assert.deepEqual(o.protected.log, ["two", "one"]);
  assert.equal(o.protected.subConfig, false);
  assert.equal(o.protected.subHooks, false);
  assert.deepEqual(o.allowed.stdout, ["committed", "init-ok"], o.allowed.stderr);
  assert.equal(o.allowed.subConfig, true);
}, 240_000);

scriptCase("protectedFiles (supervisor): no namespace is needed (the sandbox keeps the host's mount namespace, so a host refusing them changes nothing) and nothing is adjusted", SCRIPT, ["${PROBE}", "ns"], (o) => {
  assert.equal(o.inside, o.outside, o.stderr);
  assert.deepEqual(o.adjustments, []);
});

scriptCase("protectedFiles (supervisor) from the CLI: -p workspace refuses a new .envrc and a nested repository's config; --allow-protected lets both be made", SCRIPT, ["${PROBE}", "cli"], (o) => {
  assert.deepEqual(o.protected.stdout, ["envrc=2", "config=2"]);
  assert.equal(o.protected.envrc, false);
  assert.equal(o.protected.config, false);
  assert.deepEqual(o.allowed.stdout, ["envrc=0", "config=0"]);
  assert.equal(o.allowed.envrc, true);
  assert.equal(o.allowed.config, true);
});

scriptCase("protectedFiles (supervisor): Node's compile cache beneath a writable grant (node-compile-cache, its default name under /tmp) cannot be planted in, emptied, moved or made afresh; without it each succeeds", SCRIPT, ["${PROBE}", "compileCache"], (o) => {
  const all = ["overwrite", "add", "version-mkdir", "unlink", "rename-away", "make-afresh", "symlink-as"];
  assert.deepEqual(o.protected.ops, Object.fromEntries(all.map((k) => [k, "EACCES"])), o.protected.stderr);
  assert.equal(o.protected.entry, "cached", "the cached entry is as it was");
  // The control: the same ops with protectedFiles off (the entry, overwritten, then removed).
  assert.deepEqual(o.allowed.ops, Object.fromEntries(all.map((k) => [k, "ok"])), o.allowed.stderr);
  assert.equal(o.allowed.entry, null);
});
