// protectedFiles (workspace preset; --allow-protected lifts it): every name operation on
// existing protected files (.git/hooks, .git/config, .vscode, .envrc) is refused by the
// supervisor (handlers/names.ts; protected-names.test.ts: absent names, races) while
// reads, exec and other files stay as they were; the same ops succeed without it (the
// control); git still commits; a workdir's commit holds protected changes back.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Policy } from "../../src/index.js";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/deny-case.js";

const REFUSED: Record<string, string> = {
  "config-read": "ok", // reads and exec are untouched
  "hook-exec": "ok",
  "hook-create": "EACCES", // the supervisor performs every name operation and write open (names.ts)
  "hook-write": "EACCES",
  "hook-chmod": "EACCES", // the supervisor's chmod refuses protected positions too (fs-meta.ts)
  "hook-symlink": "EACCES",
  "hook-mkdir": "EACCES",
  "hook-mknod": "EACCES",
  "hook-link": "EACCES",
  "hook-rename-in": "EACCES",
  "config-write": "EACCES",
  "config-truncate": "EACCES",
  "config-replace": "EACCES",
  "vscode-create": "EACCES",
  "vscode-write": "EACCES",
  "envrc-write": "EACCES",
  "other-write": "ok", // the rest of the tree stays writable
  "hook-unlink": "EACCES",
  "config-unlink": "EACCES",
  "envrc-unlink": "EACCES",
  "hooks-rename": "EACCES",
  "vscode-rename": "EACCES",
  "git-rename": "EACCES", // .git cannot be swapped for a directory the sandbox made
};

scriptCase("protectedFiles: every name op on existing protected files is refused, reads and exec work, nothing protected changes; without it every op succeeds", SCRIPT, ["${PROBE}", "protected"], (o) => {
  assert.deepEqual(o.protected.ops, REFUSED);
  assert.deepEqual(o.protected.after.filter((l: string) => !l.startsWith(".git/config.new")), o.protected.before, "the protected files are unchanged");
  for (const [op, got] of Object.entries(o.allowed.ops as Record<string, string>)) assert.equal(got, "ok", `control: ${op}`);
  assert.deepEqual(Object.keys(o.allowed.ops), Object.keys(REFUSED));
});

scriptCase("protectedFiles: git commits in a repository, its hooks and config stay as they were", SCRIPT, ["${PROBE}", "git"], (o) => {
  assert.deepEqual(o.stdout, ["committed", "config-refused", "hook-refused"], o.stderr);
  assert.deepEqual(o.log, ["two", "one"]);
  assert.equal(o.hooksSame, true);
  assert.equal(o.configSame, true);
});

scriptCase("protectedFiles with a workdir: changes to protected paths are held back in the branch and named, the rest commits; without it all commit", SCRIPT, ["${PROBE}", "commit"], (o) => {
  const p = o.protected;
  assert.equal(p.stdout, "done");
  assert.equal(p.action, "committed");
  assert.deepEqual(p.committed, ["added .git", "added b.txt"]);
  const held = ["added .claude", "added .claude/settings.json", "added .envrc", "added .git/hooks", "added .git/hooks/post-checkout"];
  assert.deepEqual(p.held, held);
  assert.deepEqual(p.real, [".git", "a.txt", "b.txt"], "nothing protected reached the real directory");
  assert.deepEqual(p.branches, [{ id: p.branch, state: "kept" }], "the branch stays, listed");
  assert.deepEqual(p.shown, held, "the branch holds exactly the held-back changes");
  const a = o.allowed;
  assert.deepEqual(a.held, []);
  assert.deepEqual(a.real, [".claude", ".claude/settings.json", ".envrc", ".git", ".git/hooks", ".git/hooks/post-checkout", "a.txt", "b.txt"]);
  assert.deepEqual(a.branches, []);
});

test("protectedFiles: on in preset workspace, lifted by protectedFiles: false (--allow-protected); a non-boolean is refused by name", () => {
  assert.equal(Policy.preset("workspace", { cwd: "/tmp" }).protectedFiles, true);
  assert.equal(new Policy({ fsWritable: ["/tmp"] }).protectedFiles, false);
  assert.equal(Policy.preset("workspace", { cwd: "/tmp", protectedFiles: false }).protectedFiles, false);
  assert.throws(() => new Policy({ protectedFiles: "yes" as unknown as boolean }), { field: "protectedFiles", message: `protectedFiles: "yes" is not a boolean (true or false)` });
});
