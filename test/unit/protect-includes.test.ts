// plan/protect-includes.ts: the git config lines that name files or directories git reads
// (include.path, includeIf.*.path, core.hooksPath) and where git places each.

import assert from "node:assert/strict";
import { test } from "node:test";
import { includeLines, includeTarget } from "../../src/plan/protect-includes.js";

test("include, includeIf (both syntaxes) and core.hooksPath are found, quoted and commented values read as git does", () => {
  const text = [
    "[core]", "\tfilemode = true", "\tHooksPath = \".husky\" # husky", "[Include]", "\tpath = ../local.cfg ; a comment",
    "[includeIf \"gitdir:~/work/\"]", "\tpath = \"~/work/team cfg\"", "[includeIf.onbranch:main]", "path=/abs/x", "[user]", "\tpath = not-an-include",
  ].join("\n");
  assert.deepEqual(includeLines(text), [
    { key: "core.hooksPath", value: ".husky" },
    { key: "include.path", value: "../local.cfg" },
    { key: "includeIf.path", value: "~/work/team cfg" },
    { key: "includeIf.path", value: "/abs/x" },
  ]);
});

test("an include is placed relative to the including file, ~/ in the home; ~user and %(prefix) are not placed", () => {
  assert.equal(includeTarget("../local.cfg", "/r/.git/config", "/h"), "/r/local.cfg");
  assert.equal(includeTarget("~/x.cfg", "/r/.git/config", "/h"), "/h/x.cfg");
  assert.equal(includeTarget("/abs/x", "/r/.git/config", "/h"), "/abs/x");
  assert.equal(includeTarget("~other/x", "/r/.git/config", "/h"), undefined);
  assert.equal(includeTarget("%(prefix)/etc/x", "/r/.git/config", "/h"), undefined);
  assert.equal(includeTarget("", "/r/.git/config", "/h"), undefined);
});
