// Regenerates the generated parts of the docs (npm run docs, after the build): the flag
// table and "not supported yet" lists of docs/cli.md and README.md, then the TypeDoc API
// reference in docs/api. `--check`: change nothing, exit 1 naming what is out of date.

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { generatedRegions, replaceRegion } = await import(join(root, "dist/src/cli/flag-docs.js"));
const check = process.argv.includes("--check");
const stale = [];
for (const [file, regions] of Object.entries(generatedRegions())) {
  const path = join(root, file);
  const before = readFileSync(path, "utf8");
  let after = before;
  for (const [name, content] of Object.entries(regions)) after = replaceRegion(after, name, content);
  if (after === before) continue;
  if (check) stale.push(file);
  else writeFileSync(path, after);
}
if (!check) execFileSync(process.execPath, [join(root, "node_modules/typedoc/bin/typedoc"), "--options", join(root, "typedoc.json")], { cwd: root, stdio: "inherit" });
if (stale.length > 0) {
  console.error(`out of date (run npm run docs): ${stale.join(", ")}`);
  process.exit(1);
}
