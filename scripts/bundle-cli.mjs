// Bundles the CLI into one CommonJS file (dist/src/cli/sandlock.bundle.cjs) after tsc.
// Start-up is most of what a short `sandlock run` costs: separate ES modules cost it about
// 20 ms (the module loader and the ESM facades of Node's builtins). The bundle sits beside
// main.js so relative paths (build/Release, package.json) resolve as they do unbundled.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { appendFileSync, readFileSync, readdirSync, rmSync } from "node:fs";

// The CLI never forks a zygote or checkpoints, and Sandbox loads those parts with dynamic
// imports: leave them out of the bundle (they cost start-up to read and to load the code
// cache) and put a module in their place that says so if ever reached.
const libraryOnly = {
  name: "library-only",
  setup(b) {
    b.onResolve({ filter: /\/(fork\/zygote|checkpoint\/capture|checkpoint\/checkpoint)\.js$/ }, (args) => ({ path: args.path, namespace: "library-only" }));
    b.onLoad({ filter: /.*/, namespace: "library-only" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`sandlock CLI bundle: ${args.path} is part of the library only`)});`,
      loader: "js",
    }));
  },
};

await build({
  entryPoints: ["dist/src/cli/main.js"],
  outfile: "dist/src/cli/sandlock.bundle.cjs",
  sourcemap: false, // the sources are not shipped; stack traces name the bundle's lines
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  plugins: [libraryOnly],
  // import.meta.url computed when first read: node:url's pathToFileURL costs start-up
  // (about 0.5 ms) and `run` seldom needs it.
  define: { "import.meta.url": "__sandlock_meta.url" },
  banner: { js: 'const __sandlock_meta = { get url() { return require("node:url").pathToFileURL(__filename).href; } };' },
});

// The build id bin/sandlock.cjs keys its V8 code cache with: V8 compares only a source's
// length with a cache, so a rebuilt bundle of the same length must not meet the old cache.
const out = "dist/src/cli/sandlock.bundle.cjs";
// Caches bin/sandlock.cjs wrote for the previous bundle (and the one earlier builds
// recorded at build time): never packed, and useless to the new bundle.
for (const f of readdirSync("dist/src/cli")) if (/^sandlock\.bundle\.(.+\.)?v8cache$|\.cjs\.v8cache$/.test(f)) rmSync(`dist/src/cli/${f}`, { force: true });
const id = createHash("sha256").update(readFileSync(out)).digest("hex").slice(0, 32);
appendFileSync(out, `\n//# sandlock-build=${id}\n`);
