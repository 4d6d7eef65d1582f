// Bundles the programs the integration tests start (the case runner and test/scripts' programs)
// in a staged copy of the package (test/helpers/stage.ts), each into one ES module written
// over its own file. A case starts a fresh Node process that imports the library: about 270
// modules, whose loading (resolution, reads, compilation) cost 0.3 s of CPU a start, more
// than the case itself, and npm test starts some 1,500 of them. The code is the same; only
// how it is loaded changes. Each module's import.meta is replaced by its own file's (the
// stage's), so the paths it finds beside itself (the launcher, the addon, the zygote's
// main, package.json) are the ones it finds unbundled.
import { build } from "esbuild";
import { readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** test/scripts files that other code imports as modules (not run as programs): left as
 * they are. */
const MODULES = new Set(["fork-module.js", "launch-plan.js"]);

/** Each module's import.meta as it would be unbundled. */
export const ownImportMeta = {
  name: "own-import-meta",
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("import.meta")) return undefined;
      const contents = text
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll("import.meta.dirname", JSON.stringify(dirname(args.path)))
        .replaceAll("import.meta.filename", JSON.stringify(args.path));
      if (contents.includes("import.meta")) throw new Error(`bundle-test: ${args.path} uses import.meta in a way this does not replace`);
      return { contents, loader: "js", resolveDir: dirname(args.path) };
    });
  },
};

/** Bundles the stage's programs in place; returns how many. */
export async function bundleTestPrograms(stageDir) {
  const test = join(stageDir, "dist", "test");
  const scripts = readdirSync(join(test, "scripts")).filter((f) => f.endsWith(".js") && !MODULES.has(f)).map((f) => join(test, "scripts", f));
  const entryPoints = [join(test, "helpers", "case-runner.js"), ...scripts];
  const out = join(stageDir, "bundle-tmp");
  await build({
    entryPoints,
    outdir: out,
    outbase: test,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Loaded at run time as unbundled (an optional dependency the stage does not hold).
    external: ["smol-toml"],
    plugins: [ownImportMeta],
    logLevel: "error",
  });
  for (const file of entryPoints) renameSync(join(out, file.slice(test.length + 1)), file);
  rmSync(out, { recursive: true, force: true });
  return entryPoints.length;
}
