#!/usr/bin/env node
// Entry point of the sandlock command: loads the bundled CLI (one CommonJS file, built by
// scripts/bundle-cli.mjs) with a V8 code cache written beside it on the first `run`.
// Without a usable cache it compiles from source: the cache is an optimisation, never a need.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const root = path.join(__dirname, "..");
const cliDir = path.join(root, "dist", "src", "cli");
const bundle = path.join(cliDir, "sandlock.bundle.cjs");

/** The native addon, opened here so the bundle and its cache can be read through it, and
 * handed to the bundle (which would open it anyway) under the path the library computes:
 * the first of build/Release and prebuilds/PLATFORM-ARCH holding it and the launcher
 * (src/confine/native.ts). Undefined when it does not load: the bundle then reports why. */
function loadAddon() {
  try {
    for (const dir of [path.join(root, "build", "Release"), path.join(root, "prebuilds", `${process.platform}-${process.arch}`)]) {
      const file = path.join(dir, "sandlock_native.node");
      if (!fs.existsSync(file) || !fs.existsSync(path.join(dir, "sandlock-launcher"))) continue;
      const m = { exports: {} };
      process.dlopen(m, file);
      return typeof m.exports.startFile === "function" ? { file, module: m } : undefined;
    }
  } catch {
    // a binary for another system: the bundle opens it again and says so
  }
  return undefined;
}
const loaded = loadAddon();
const addon = loaded === undefined ? undefined : loaded.module.exports;

/** The bundle's text; through the addon when it can (see below), else read as usual. */
function readSource() {
  if (addon !== undefined) {
    let fd;
    try {
      fd = fs.openSync(bundle, "r");
      const text = addon.startFile(fd, true);
      if (text !== undefined) return text;
    } catch {
      // read below, where an error says what went wrong
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return fs.readFileSync(bundle, "latin1");
}

// Why a cache of our own and not module.enableCompileCache() (Node >= 22.1): Node's cache
// holds only what V8 compiles eagerly, so the functions `run` calls are compiled again at
// every start (measured: README, "Where the time goes"). This one is taken after a `run`
// has executed, with every function it compiled.
//
// Why written on this machine and not shipped: V8 accepts a cache only from the same V8
// version and flags, so one built at pack time misses on every other Node release; and
// Node 20's V8 takes the script name from the cache, which put the build machine's path
// into consumers' stack traces. One written here, keyed by this bundle's path, has neither.
//
// Why beside the bundle and not in ~/.cache: a code cache is code the next, unsandboxed,
// run executes. A sandbox granted write access to ~/.cache (build tools keep caches there)
// could plant one and escape on the user's next `sandlock run`. Beside the bundle it is
// trusted exactly as the bundle is: only when its owner is the bundle's and nobody else
// can write it or its directory. Whoever can replace it could replace the bundle itself.

/** The build id scripts/bundle-cli.mjs appends (a hash of the bundle's content). V8 checks
 * only the source's length against a cache, so the key must name the content. */
function buildId(source) {
  const at = source.lastIndexOf("\n//# sandlock-build=");
  return at < 0 ? undefined : source.slice(at + 20).trim();
}

/** The cache file and the key its first line must hold, or undefined when caching is off. */
function cacheLocation(source) {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined; // Node's own switch, same meaning
  const id = buildId(source);
  if (id === undefined) return undefined;
  const where = `${process.version} ${process.arch} ${bundle}`;
  // The name: FNV-1a of where, so each Node version keeps one file that a rebuild or an
  // upgrade of the package rewrites in place (the build id is in the key).
  let h = 0x811c9dc5;
  for (let i = 0; i < where.length; i++) h = Math.imul(h ^ where.charCodeAt(i), 0x01000193) >>> 0;
  return { file: path.join(cliDir, `sandlock.bundle.${h.toString(16)}.v8cache`), key: `sandlock-cli ${id} ${where}`, id };
}

/** Owned by the bundle's owner and writable by nobody else. */
function trusted(st, owner) {
  return st.uid === owner && (st.mode & 0o022) === 0;
}

/** Where the data starts after the key line: V8 copies cached data that is not 8-aligned
 * (640 kB more to fault in), so the writer pads with spaces up to the next multiple of 8. */
function dataOffset(key) {
  return (key.length + 1 + 7) & ~7;
}

/** The cached data when the file, its directory and its key are right. */
function readCache(loc) {
  try {
    const owner = fs.statSync(bundle).uid;
    if (!trusted(fs.statSync(cliDir), owner)) return undefined;
    const fd = fs.openSync(loc.file, "r");
    try {
      if (!trusted(fs.fstatSync(fd), owner)) return undefined;
      const mapped = addon === undefined ? undefined : addon.startFile(fd, false);
      const buf = mapped === undefined ? fs.readFileSync(fd) : Buffer.from(mapped);
      const at = dataOffset(loc.key);
      return buf.length > at && buf.toString("latin1", 0, at) === `${loc.key}\n`.padEnd(at, " ") ? buf.subarray(at) : undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Written only by the bundle's owner (so the file is trusted when read), readable by all. */
function writeCache(loc, script) {
  try {
    const owner = fs.statSync(bundle).uid;
    if (process.getuid() !== owner || !trusted(fs.statSync(cliDir), owner)) return;
    const tmp = `${loc.file}.${process.pid}.tmp`;
    const head = Buffer.from(`${loc.key}\n`.padEnd(dataOffset(loc.key), " "), "latin1");
    fs.writeFileSync(tmp, Buffer.concat([head, script.createCachedData()]), { mode: 0o644 });
    fs.chmodSync(tmp, 0o644); // whatever the umask: every user of this copy reads it
    fs.renameSync(tmp, loc.file); // concurrent runs each write whole files; the last one stays
    prune(loc);
  } catch {
    // a read-only install, a full disk: run without a cache next time as well
  }
}

/** Files of other Node versions untouched for 30 days go when a new cache is written (a file
 * still in use is only rewritten once more). */
function prune(loc) {
  const old = Date.now() - 30 * 24 * 3600 * 1000;
  for (const name of fs.readdirSync(cliDir)) {
    if (!/^sandlock\.bundle\.[0-9a-f]+\.v8cache(\.\d+\.tmp)?$/.test(name)) continue;
    const file = path.join(cliDir, name);
    if (file !== loc.file && fs.statSync(file).mtimeMs < old) fs.rmSync(file, { force: true });
  }
}

// latin1: the bundle is ASCII (scripts/bundle-cli.mjs checks), so the text is the same as
// UTF-8 would give, without the decoder's pass over 1 MB (about 0.4 ms). Through the addon
// when it loads: V8 takes the file's own pages (a private mapping) as an external string,
// where a read would land it in fresh memory twice, a Buffer and then the string
// (native/startfile.c: about 5 ms with the cache's likewise, on VMs where the first touch of
// a page is dear). A second into any command the string becomes a private copy (below).
const source = readSource();
const loc = cacheLocation(source);
const cachedData = loc === undefined ? undefined : readCache(loc);
// scripts/bundle-cli.mjs writes the bundle inside this function already (flattening a
// concatenation cost about 0.8 ms); a bundle from before that is wrapped here.
const HEAD = "(function (exports, require, module, __filename, __dirname) { ";
const code = source.startsWith(HEAD) ? source : `${HEAD}${source}\n});`;
const script = new vm.Script(code, { filename: bundle, cachedData });
// The addon opened above: the bundle's loader takes it from here (scripts/bundle-cli.mjs).
const mod = { exports: {}, sandlockAddons: new Map(loaded === undefined ? [] : [[loaded.file, loaded.module]]) };
script.runInThisContext().call(mod.exports, mod.exports, require, mod, bundle, cliDir);

// Only `run` writes, and only once it has started a sandbox (the bundle's sandboxStarted):
// its start-up is the one that counts, and a cache written by `--help`, `run --help`, a
// usage or policy error or a command that could not start would hold too little (263 KB
// against 608 here), be accepted by every later run and leave the rest to compile again at
// each start (about 5 ms). Written once the start-up has run, with what it compiled: at
// exit, or a second in for a longer run (V8 may drop the bytecode of functions not run for
// a while, and a cache taken hours later would miss the start-up). A rejected cache
// (another Node, other V8 flags) is replaced.
if (loc !== undefined && process.argv[2] === "run" && (cachedData === undefined || script.cachedDataRejected)) {
  let written = false;
  const write = () => {
    if (written || typeof mod.exports.sandboxStarted !== "function" || !mod.exports.sandboxStarted()) return;
    written = true;
    writeCache(loc, script);
  };
  setTimeout(write, 1000).unref();
  process.once("exit", write);
}

// The bundle's text as mapped above shows whatever the file holds, and V8 reads from it for
// as long as this process lives (each function the first time it runs): a bundle truncated
// or rewritten in place (a cp over it) would reach a running `sandlock run` at its next
// lazy compile. A second in, the start-up has compiled what it compiles, and the text is
// copied into private memory at the same address: from then on the file does not matter.
// Replacing the file (npm's install, scripts/bundle-cli.mjs) never touched the mapping.
if (addon !== undefined && typeof addon.settleStartFiles === "function") setTimeout(() => addon.settleStartFiles(), 1000).unref();

/** The command has ended with this code: once nothing is left to do, exit at once. Node's
 * own exit would then free the heap page by page and run the environment's cleanup (2 to
 * 3 ms of every `sandlock run` here, medians of 60), which the kernel does in one go when
 * the process ends. 'beforeExit' is emitted only when the event loop is empty: no write to
 * stdout or stderr still pending, no timer, child or descriptor left, so nothing a normal
 * exit would have finished is cut short, and 'exit' listeners still run. */
function ended(code) {
  process.exitCode = code;
  process.once("beforeExit", () => process.exit());
}

// The bundle keeps its own caches beside it under the same trust (src/cli/program-cache.ts),
// keyed by this build; the same switch turns them off.
mod.exports.main(process.argv.slice(2), loc === undefined ? undefined : { bundle, buildId: loc.id }).then(ended, (err) => {
  process.stderr.write(`sandlock: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
  ended(125);
});
