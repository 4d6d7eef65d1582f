// plan/protect-includes.ts: the git config lines that name files or directories git reads
// (include.path, includeIf.*.path, core.hooksPath) and where git places each.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { PathGrant } from "../../src/plan/landlock.js";
import { includeLines, includeTarget, refuseIncludedConfigs } from "../../src/plan/protect-includes.js";

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

// A sandbox that could write a repository (a plain -w on it) could leave a FIFO as its
// .git/config: the read that looks for includes blocked, and with it every later start with
// protectedFiles on that directory (the host's event loop, in a library). A link to
// /dev/zero read without end. Both are now no config; an oversized one is refused by name.
test("refuseIncludedConfigs: a FIFO or a device as the config is no config; an oversized one is refused by name", () => {
  const root = mkdtempSync("/tmp/sandlock-pincl-");
  try {
    const grant = (name: string): PathGrant => {
      mkdirSync(join(root, name, ".git"), { recursive: true });
      return { path: join(root, name), isDir: true, writable: true };
    };
    const env = { HOME: join(root, "home") };
    const fifo = grant("fifo");
    execFileSync("mkfifo", [join(fifo.path, ".git", "config")]);
    const zero = grant("zero");
    symlinkSync("/dev/zero", join(zero.path, ".git", "config"));
    const started = Date.now();
    refuseIncludedConfigs([fifo, zero], env); // returns: nothing to refuse
    assert.ok(Date.now() - started < 5000);
    const big = grant("big");
    writeFileSync(join(big.path, ".git", "config"), "[core]\n" + "#".repeat(17 << 20));
    assert.throws(() => refuseIncludedConfigs([big], env), (e: Error) => e.message === `protectedFiles: ${join(big.path, ".git", "config")} is ${7 + (17 << 20)} bytes, more than sandlock reads of a git config (16777216) to find what it includes; shrink it, or lift the protection with --allow-protected (protectedFiles: false)`);
    // Control: an include into the grant is still found.
    const inc = grant("inc");
    writeFileSync(join(inc.path, ".git", "config"), "[include]\n\tpath = ../evil.cfg\n");
    assert.throws(() => refuseIncludedConfigs([inc], env), /has include\.path = "\.\.\/evil\.cfg"/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
