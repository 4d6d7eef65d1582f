// package.json says what the package supports and how it is loaded; package-lock.json's
// root entry must say the same, or `npm install` rewrites the lock in every clone.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT } from "../helpers/system.js";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));

test("package.json: Linux x64 on Node 22.12+, 24 and 26; import and require; the prebuilt pair and legal files shipped", () => {
  assert.deepEqual(pkg.os, ["linux"]);
  assert.deepEqual(pkg.cpu, ["x64"]);
  assert.equal(pkg.engines.node, "^22.12.0 || >=24");
  assert.deepEqual(pkg.exports["."], { types: "./dist/src/index.d.ts", import: "./dist/src/index.js", require: "./dist/src/index.js" });
  for (const f of ["prebuilds/", "LICENSE", "CHANGELOG.md", "SECURITY.md", "scripts/install.cjs", "native/", "binding.gyp"]) assert.ok(pkg.files.includes(f), f);
  // The install step compiles nothing when the prebuilt pair is there (scripts/install.cjs).
  assert.equal(pkg.scripts.install, "node scripts/install.cjs");
  assert.equal(pkg.gypfile, false);
});

test("package-lock.json: its root entry matches package.json (npm install leaves it as it is)", () => {
  const root = lock.packages[""];
  const strip = (bin: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(bin).map(([k, v]) => [k, v.replace(/^\.\//, "")]));
  assert.equal(lock.name, pkg.name);
  assert.equal(lock.version, pkg.version);
  assert.equal(root.version, pkg.version);
  assert.equal(root.license, pkg.license);
  assert.deepEqual(root.os, pkg.os);
  assert.deepEqual(root.cpu, pkg.cpu);
  assert.deepEqual(root.engines, pkg.engines);
  assert.deepEqual(root.bin, strip(pkg.bin));
  assert.deepEqual(root.dependencies, pkg.dependencies);
  assert.deepEqual(root.devDependencies, pkg.devDependencies);
  assert.equal(root.hasInstallScript, true);
});
