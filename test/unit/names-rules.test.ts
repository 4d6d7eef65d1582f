// The position rules of protectedFiles by the supervisor (policy/protected.ts) and
// policyFn's denyPath/allowPath rules (supervise/policy-files.ts), on their own.

import assert from "node:assert/strict";
import { test } from "node:test";
import { holdsAt, protectedAt } from "../../src/policy/protected.js";
import { DynamicFiles } from "../../src/supervise/policy-files.js";
import { splitPath } from "../../src/supervise/handlers/names-site.js";

const parts = (p: string): string[] => p.split("/").filter((c) => c !== "");

test("protectedAt: a protected name or what lies beneath it, at any depth; nothing else", () => {
  for (const p of [".envrc", ".git/config", ".git/hooks", ".git/hooks/pre-commit", "sub/.git/config", "a/b/.envrc", "x/.vscode/tasks.json", ".claude/settings.json", "node-compile-cache", "node-compile-cache/v22.12.0-x64-abc-0/0badc0de", "tmp/node-compile-cache/v"]) assert.equal(protectedAt(parts(p)), true, p);
  for (const p of [".git", "sub/.git", ".git/HEAD", ".git/config.lock", "hooks", "a/hooks/x", "src/config", ".envrc.bak", "envrc", "node-compile-cache.old", "compile-cache", ""]) assert.equal(protectedAt(parts(p)), false, p);
});

test("holdsAt: the names protected names live in (.git at any depth)", () => {
  for (const p of [".git", "sub/.git"]) assert.equal(holdsAt(parts(p)), true, p);
  for (const p of [".git/hooks", ".envrc", "git", "sub", ""]) assert.equal(holdsAt(parts(p)), false, p);
});

test("splitPath: the parent and the last component, trailing slashes and the root", () => {
  const s = (p: string) => { const x = splitPath(Buffer.from(p)); return [x.dir.toString(), x.name.toString(), x.trailing]; };
  assert.deepEqual(s("a"), ["", "a", false]);
  assert.deepEqual(s("a/b"), ["a", "b", false]);
  assert.deepEqual(s("/a"), ["/", "a", false]);
  assert.deepEqual(s("a/b//"), ["a", "b", true]);
  assert.deepEqual(s("/"), ["/", ".", false]);
  assert.deepEqual(s("a/.."), ["a", "..", false]);
});

test("DynamicFiles: the most specific rule wins, allowPath lifts only what was denied, bad paths are refused by name", () => {
  const f = new DynamicFiles();
  assert.equal(f.denied("/w/a"), false);
  f.allow("/w/a"); // nothing to lift
  assert.equal(f.denied("/w/a"), false);
  f.deny("/w");
  assert.equal(f.denied("/w"), true);
  assert.equal(f.denied("/w/a/b"), true);
  assert.equal(f.denied("/wx"), false);
  f.allow("/w/a");
  assert.equal(f.denied("/w/a/b"), false);
  assert.equal(f.denied("/w/c"), true);
  f.deny("/w"); // the later, wider rule replaces the one beneath it
  assert.equal(f.denied("/w/a/b"), true);
  f.allow("/w");
  assert.equal(f.denied("/w/a"), false);
  assert.throws(() => f.deny("rel/x"), { message: `policyFn: ctx.denyPath() takes an absolute path, got "rel/x"` });
  assert.throws(() => f.allow(7 as unknown as string), { message: "policyFn: ctx.allowPath() takes an absolute path, got 7" });
});
