#!/usr/bin/env node
// Entry point of the sandlock command: loads the bundled CLI (one CommonJS file, built by
// scripts/bundle-cli.mjs) with a V8 code cache this machine writes for itself on first use.
// Without a usable cache it compiles from source: the cache is an optimisation, never a need.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const bundle = path.join(__dirname, "..", "dist", "src", "cli", "sandlock.bundle.cjs");

// Why a cache of our own and not module.enableCompileCache() (Node >= 22.1): Node's cache
// holds only what V8 compiles eagerly, so the functions `run` calls are compiled again at
// every start (measured: README, "Where the time goes"). This
// one is written after a `run` has executed, with every function it compiled.
//
// Why written here and not shipped: V8 accepts a cache only from the same V8 version and
// flags, so one built at pack time misses on every other Node release; and Node 20's V8
// takes the script name from the cache, which put the build machine's path into
// consumers' stack traces. A cache written on this machine, keyed by this bundle's path,
// has neither problem.

/** The build id scripts/bundle-cli.mjs appends (a hash of the bundle's content). V8 checks
 * only the source's length against a cache, so the key must name the content. */
function buildId(source) {
  const at = source.lastIndexOf("\n//# sandlock-build=");
  return at < 0 ? undefined : source.slice(at + 20).trim();
}

/** The cache file and the key its first line must hold, or undefined when caching is off or
 * there is no private place for it. A cache is code: it lives only in a directory of this
 * user's that nobody else can write (never a shared /tmp), or it is not used. */
function cacheLocation(source) {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined; // Node's own switch, same meaning
  const id = buildId(source);
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME ? path.join(process.env.HOME, ".cache") : "");
  if (id === undefined || !path.isAbsolute(base)) return undefined;
  const where = `${process.version} ${process.arch} ${bundle}`;
  // The name: FNV-1a of where, so each install and Node version keeps one file that a
  // rebuild or an upgrade of the package rewrites in place (the build id is in the key).
  let h = 0x811c9dc5;
  for (let i = 0; i < where.length; i++) h = Math.imul(h ^ where.charCodeAt(i), 0x01000193) >>> 0;
  return { dir: path.join(base, "sandlock"), file: path.join(base, "sandlock", `cli-${h.toString(16)}.v8cache`), key: `sandlock-cli ${id} ${where}` };
}

function privateDir(dir) {
  const st = fs.statSync(dir);
  return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0;
}

/** The cached data when its key matches (the file name is a hash, the key is exact). */
function readCache(loc) {
  try {
    if (!privateDir(loc.dir)) return undefined;
    const buf = fs.readFileSync(loc.file);
    const nl = buf.indexOf(10);
    return nl > 0 && buf.toString("latin1", 0, nl) === loc.key ? buf.subarray(nl + 1) : undefined;
  } catch {
    return undefined;
  }
}

function writeCache(loc, script) {
  try {
    fs.mkdirSync(loc.dir, { recursive: true, mode: 0o700 });
    if (!privateDir(loc.dir)) return;
    const tmp = `${loc.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${loc.key}\n`, "latin1"), script.createCachedData()]), { mode: 0o600 });
    fs.renameSync(tmp, loc.file); // concurrent runs each write whole files; the last one stays
    prune(loc);
  } catch {
    // read-only or full home, a sandbox around us: run without a cache next time as well
  }
}

/** Copies installed elsewhere (npx, scratch projects) or for another Node leave a file each:
 * those untouched for 30 days go when a new cache is written (a file still in use is only
 * rewritten once more). */
function prune(loc) {
  const old = Date.now() - 30 * 24 * 3600 * 1000;
  for (const name of fs.readdirSync(loc.dir)) {
    if (!/^cli-[0-9a-f]+\.v8cache(\.\d+\.tmp)?$/.test(name)) continue;
    const file = path.join(loc.dir, name);
    if (file !== loc.file && fs.statSync(file).mtimeMs < old) fs.rmSync(file, { force: true });
  }
}

const source = fs.readFileSync(bundle, "utf8");
const loc = cacheLocation(source);
const cachedData = loc === undefined ? undefined : readCache(loc);
const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
const script = new vm.Script(wrapped, { filename: bundle, cachedData });
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, require, mod, bundle, path.dirname(bundle));

// Only `run` writes: its start-up is the one that counts, and a cache written by `--help`
// would hold too little and never be replaced. Written at exit, when everything the run
// called has been compiled; a rejected cache (another Node, other V8 flags) is replaced.
if (loc !== undefined && process.argv[2] === "run" && (cachedData === undefined || script.cachedDataRejected)) {
  process.once("exit", () => writeCache(loc, script));
}

mod.exports.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`sandlock: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 125;
  },
);
