// Bundles the CLI into one CommonJS file (dist/src/cli/sandlock.bundle.cjs) after tsc, and
// records V8's code cache for it. Start-up is most of what a short `sandlock run` costs:
// separate ES modules cost it about 20 ms (the module loader and the ESM facades of Node's
// builtins), compiling the bundle another 5. The bundle sits beside main.js so relative
// paths (build/Release, package.json) resolve as they do unbundled.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";

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
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  plugins: [libraryOnly],
  define: { "import.meta.url": "__sandlock_module_url" },
  banner: { js: 'const __sandlock_module_url = require("node:url").pathToFileURL(__filename).href;' },
});

// The cache is optional: bin/sandlock.cjs compiles from source when it is missing or
// when V8 rejects it (another Node version).
execFileSync(process.execPath, ["bin/sandlock.cjs", "--write-code-cache"], { stdio: "inherit" });
