// scripts/bundle-test.mjs: npm test bundles the programs the cases start, and each module's
// import.meta must stay its own file's (the library finds the launcher, the addon, the
// zygote's main and package.json beside its modules). A program in one directory importing
// a module from another, bundled over itself, must see the same paths as unbundled.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../helpers/system.js";

const { ownImportMeta } = (await import(pathToFileURL(join(ROOT, "scripts", "bundle-test.mjs")).href)) as { ownImportMeta: object };
const { build } = (await import("esbuild")) as typeof import("esbuild");

test("a bundled program's modules keep their own import.meta (url, dirname, filename) and find what lies beside them", async () => {
  const dir = mkdtempSync("/tmp/sandlock-bundle-test-");
  try {
    mkdirSync(join(dir, "src", "deep"), { recursive: true });
    mkdirSync(join(dir, "test", "scripts"), { recursive: true });
    writeFileSync(join(dir, "src", "deep", "beside.txt"), "found\n");
    writeFileSync(
      join(dir, "src", "deep", "mod.js"),
      `import { readFileSync } from "node:fs";
export const where = { url: import.meta.url, dirname: import.meta.dirname, filename: import.meta.filename };
export const beside = readFileSync(new URL("./beside.txt", import.meta.url), "utf8").trim();
`,
    );
    const program = join(dir, "test", "scripts", "prog.js");
    writeFileSync(program, `import { where, beside } from "../../src/deep/mod.js";\nconsole.log(JSON.stringify({ where, beside, self: import.meta.url }));\n`);
    const run = (): unknown => JSON.parse(execFileSync(process.execPath, [program], { encoding: "utf8" }));
    const unbundled = run();
    const out = join(dir, "out");
    await build({ entryPoints: [program], outdir: out, bundle: true, format: "esm", platform: "node", target: "node20", plugins: [ownImportMeta as never], logLevel: "error" });
    writeFileSync(program, readFileSync(join(out, "prog.js")));
    const bundled = run();
    // The control: the program is a bundle now (the module's text is inside it).
    assert.match(readFileSync(program, "utf8"), /beside\.txt/);
    assert.deepEqual(bundled, unbundled);
    assert.deepEqual(unbundled, {
      where: { url: pathToFileURL(join(dir, "src", "deep", "mod.js")).href, dirname: join(dir, "src", "deep"), filename: join(dir, "src", "deep", "mod.js") },
      beside: "found",
      self: pathToFileURL(program).href,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
