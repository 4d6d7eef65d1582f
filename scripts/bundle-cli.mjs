// Bundles the CLI into one CommonJS file (dist/src/cli/sandlock.bundle.cjs) after tsc.
// Start-up is most of what a short `sandlock run` costs: separate ES modules cost it about
// 20 ms (the module loader and the ESM facades of Node's builtins). The bundle sits beside
// main.js so relative paths (build/Release, package.json) resolve as they do unbundled.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";

/** The start of the function the bundle is written inside (bin/sandlock.cjs knows it too). */
const WRAPPER_HEAD = "(function (exports, require, module, __filename, __dirname) { ";

// The CLI never forks a zygote, and Sandbox loads that part with a dynamic import: leave it
// out of the bundle (it costs start-up to read and to load the code cache) and put a module
// in its place that says so if ever reached. The checkpoint code stays in: `sandlock
// checkpoint NAME` asks the `sandlock run` that owns the sandbox to take it (44 KB more,
// initialised only when a checkpoint is asked for).
const libraryOnly = {
  name: "library-only",
  setup(b) {
    b.onResolve({ filter: /\/(fork\/zygote)\.js$/ }, (args) => ({ path: args.path, namespace: "library-only" }));
    b.onLoad({ filter: /.*/, namespace: "library-only" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`sandlock CLI bundle: ${args.path} is part of the library only`)});`,
      loader: "js",
    }));
  },
};

// The bundle is CommonJS and has a require of its own, so the sources' createRequire
// (ESM code needs it for lazy builtins and the addon) becomes that require: loading the
// public node:module costs about 1.3 ms of start-up. The addon (an absolute path to a .node
// file) is opened with process.dlopen, which is what require does for it once resolved;
// require's resolution walks package.json files for a self-reference first (about 1.5 ms).
const bundleRequire = {
  name: "bundle-require",
  setup(b) {
    b.onResolve({ filter: /^(node:)?module$/ }, (args) => ({ path: args.path, namespace: "bundle-require" }));
    b.onLoad({ filter: /.*/, namespace: "bundle-require" }, () => ({
      contents: "export function createRequire() { return __sandlock_require; }",
      loader: "js",
    }));
  },
};

// The banner: import.meta.url computed once, when first read (node:url's pathToFileURL
// costs start-up, about 0.5 ms, and a path made only of characters a file: URL keeps as
// they are needs none of it), and the require that stands for createRequire's (with the
// addon bin/sandlock.cjs opened already, by its path, in module.sandlockAddons).
const banner = `const __sandlock_meta = { get url() { return this.u ??= /^\\/[\\w/.~+@-]*$/.test(__filename) ? "file://" + __filename : require("node:url").pathToFileURL(__filename).href; } };
const __sandlock_addons = module.sandlockAddons instanceof Map ? module.sandlockAddons : new Map();
function __sandlock_require(id) {
  if (!require("node:path").isAbsolute(id) || !id.endsWith(".node")) return require(id);
  let m = __sandlock_addons.get(id);
  if (m === undefined) { m = { exports: {} }; process.dlopen(m, id); __sandlock_addons.set(id, m); }
  return m.exports;
}`;

const out = "dist/src/cli/sandlock.bundle.cjs";
// Kept in memory (write: false) and written below: the file is only ever replaced whole
// (a running CLI reads its text from a mapping of the file it started with).
const built = await build({
  entryPoints: ["dist/src/cli/main.js"],
  outfile: out,
  write: false,
  sourcemap: false, // the sources are not shipped; stack traces name the bundle's lines
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  plugins: [libraryOnly, bundleRequire],
  // import.meta.dirname: the bundle's directory, which is dist/src/cli like the sources'.
  define: { "import.meta.url": "__sandlock_meta.url", "import.meta.dirname": "__dirname" },
  banner: { js: banner },
});

// The build id bin/sandlock.cjs keys its V8 code cache with: V8 compares only a source's
// length with a cache, so a rebuilt bundle of the same length must not meet the old cache.
// Caches bin/sandlock.cjs wrote for the previous bundle (and the one earlier builds
// recorded at build time), and the seccomp programs it assembled (src/cli/program-cache.ts):
// never packed, and useless to the new bundle.
for (const f of readdirSync("dist/src/cli")) if (/^sandlock\.bundle\.(.+\.)?v8cache$|\.cjs\.v8cache$|^sandlock\.seccomp\./.test(f)) rmSync(`dist/src/cli/${f}`, { force: true });
if (built.outputFiles.length !== 1) throw new Error(`bundle-cli: esbuild gave ${built.outputFiles.length} files, expected the bundle alone`);
const bytes = Buffer.from(built.outputFiles[0].contents);
// bin/sandlock.cjs reads the bundle as latin1, which is UTF-8 only for ASCII (esbuild's
// default charset escapes everything else).
const wide = bytes.findIndex((b) => b > 0x7f);
if (wide >= 0) throw new Error(`bundle-cli: ${out} has a non-ASCII byte at offset ${wide}; bin/sandlock.cjs reads it as latin1`);
// The file holds the bundle already inside the function bin/sandlock.cjs calls it as (the
// parameters of a CommonJS module's wrapper): one flat string for V8 to compile, where the
// bin's concatenation cost about 0.8 ms of each start to flatten. Required as a module by
// mistake it defines that function and runs nothing.
const wrapped = Buffer.concat([Buffer.from(WRAPPER_HEAD, "latin1"), bytes, Buffer.from("\n});", "latin1")]);
const id = createHash("sha256").update(wrapped).digest("hex").slice(0, 32);
// A new file renamed over the old, never a rewrite in place: a running `sandlock run` reads
// the bundle's text from a mapping of the file it started with (native/startfile.c).
writeFileSync(`${out}.tmp`, Buffer.concat([wrapped, Buffer.from(`\n//# sandlock-build=${id}\n`, "latin1")]));
renameSync(`${out}.tmp`, out);
