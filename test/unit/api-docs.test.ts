// The API reference in docs/api is TypeDoc's output for the current sources, and every
// public symbol has a doc comment: TypeDoc runs here into a scratch directory with
// notDocumented and treatWarningsAsErrors (typedoc.json), and the files must be the same.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

test("docs/api is up to date and every public symbol is documented (npm run docs)", () => {
  const out = mkdtempSync("/tmp/sandlock-api-docs-");
  try {
    let log = "";
    try {
      log = execFileSync(process.execPath, [join(ROOT, "node_modules/typedoc/bin/typedoc"), "--options", join(ROOT, "typedoc.json"), "--out", out], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      assert.fail(`TypeDoc failed (an undocumented public symbol, or a broken link):\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
    assert.doesNotMatch(log, /warning/, log);
    const committed = join(ROOT, "docs/api");
    assert.deepEqual(files(committed), files(out), "docs/api has other files than TypeDoc generates (run npm run docs)");
    for (const f of files(out)) {
      assert.equal(readFileSync(join(committed, f), "utf8"), readFileSync(join(out, f), "utf8"), `docs/api/${f} is out of date (run npm run docs)`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
