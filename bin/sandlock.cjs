#!/usr/bin/env node
// Entry point of the sandlock command. The CLI is one bundled CommonJS file compiled with
// V8's code cache recorded at build time (scripts/bundle-cli.mjs): start-up is most of
// what a short `sandlock run` costs. Without a usable cache it compiles from source.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { wrap } = require("node:module");

const bundle = path.join(__dirname, "..", "dist", "src", "cli", "sandlock.bundle.cjs");
const cacheFile = `${bundle}.v8cache`;

function load(cachedData) {
  const script = new vm.Script(wrap(fs.readFileSync(bundle, "utf8")), { filename: bundle, cachedData });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, bundle, path.dirname(bundle));
  return { cli: mod.exports, script };
}

function readCache() {
  try {
    return fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

if (process.argv[2] === "--write-code-cache") {
  // Build step: run the start-up path once without starting a process, then save the
  // code V8 compiled for it.
  const { cli, script } = load(undefined);
  cli.warmUp().then(() => fs.writeFileSync(cacheFile, script.createCachedData()));
} else {
  const { cli } = load(readCache());
  cli.main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`sandlock: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
      process.exitCode = 125;
    },
  );
}
