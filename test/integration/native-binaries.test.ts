// Where the native binaries are found (build/Release, else prebuilds/linux-x64) and what a
// user reads when they are missing or built for another system: a ConfinementError from the
// library and one line from the CLI, both naming the fix. As root and as the test user.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { ROOT } from "../helpers/system.js";
import { ensureTestUser, isRoot } from "../helpers/stage.js";

const BINARIES = ["sandlock_native.node", "sandlock-launcher"];
const who = isRoot ? (["root", "user"] as const) : (["user"] as const);
const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

type Layout = "release" | "prebuilt" | "none" | "foreign";

/** A copy of the package (no node_modules: nothing here loads smol-toml) with its binaries as `layout` says. */
function packageCopy(layout: Layout): string {
  const dir = mkdtempSync("/tmp/sandlock-binaries-");
  made.push(dir);
  chmodSync(dir, 0o755);
  for (const part of ["dist/src", "bin", "package.json"]) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  const into = layout === "release" ? join(dir, "build", "Release") : join(dir, "prebuilds", "linux-x64");
  if (layout !== "none") {
    mkdirSync(into, { recursive: true });
    for (const f of BINARIES) copyFileSync(join(ROOT, "build", "Release", f), join(into, f));
  }
  // "release" gets a foreign prebuilt pair beside it: the run succeeds only when a
  // from-source build is preferred to the prebuilt one.
  const foreign = layout === "foreign" ? into : layout === "release" ? join(dir, "prebuilds", "linux-x64") : undefined;
  if (foreign !== undefined) {
    if (foreign !== into) {
      mkdirSync(foreign, { recursive: true });
      for (const f of BINARIES) copyFileSync(join(ROOT, "build", "Release", f), join(foreign, f));
    }
    // The same addon marked as built for arm64 (ELF e_machine 183 at offset 18): what a
    // binary for another system looks like to the dynamic loader.
    const fd = openSync(join(foreign, BINARIES[0]!), "r+");
    writeSync(fd, Buffer.from([183, 0]), 0, 2, 18);
    closeSync(fd);
  }
  execFileSync("chmod", ["-R", "a+rX", dir]);
  return dir;
}

/** Runs node with args in the copy as `as`: [exit status, stdout, stderr]. */
function node(as: "root" | "user", cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const u = as === "user" && isRoot ? ensureTestUser() : undefined;
  const [file, argv] = u ? ["setpriv", [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--", process.execPath, ...args]] : [process.execPath, args];
  const r = spawnSync(file, argv, { cwd, encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A library run in the copy: the outcome as JSON (error class, code, binary, message). */
const LIBRARY = `
const { Sandbox, Policy, ConfinementError } = await import(process.cwd() + "/dist/src/index.js");
try {
  const r = await Sandbox.run(Policy.preset("system"), ["sh", "-c", "echo ran"]);
  console.log(JSON.stringify({ ok: true, status: r.status, out: r.stdoutText.trim() }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, typed: e instanceof ConfinementError, code: e.code, binary: e.binary, message: e.message }));
}`;

for (const as of who) {
  test(`native binaries [${as}]: prebuilds/linux-x64 alone serves the library and the CLI (control)`, () => {
    const dir = packageCopy("prebuilt");
    const lib = JSON.parse(node(as, dir, ["--input-type=module", "-e", LIBRARY]).stdout);
    assert.deepEqual(lib, { ok: true, status: "exited", out: "ran" });
    const cli = node(as, dir, ["bin/sandlock.cjs", "run", "-p", "system", "--", "sh", "-c", "echo cli"]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(cli.stdout, "cli\n");
  });

  test(`native binaries [${as}]: a from-source build in build/Release is preferred to prebuilds/ (control)`, () => {
    const dir = packageCopy("release");
    const lib = JSON.parse(node(as, dir, ["--input-type=module", "-e", LIBRARY]).stdout);
    assert.deepEqual(lib, { ok: true, status: "exited", out: "ran" });
  });

  test(`native binaries [${as}]: none installed: a ConfinementError and one CLI line, each naming npm rebuild`, () => {
    const dir = packageCopy("none");
    const lib = JSON.parse(node(as, dir, ["--input-type=module", "-e", LIBRARY]).stdout);
    assert.equal(lib.ok, false);
    assert.equal(lib.typed, true);
    assert.equal(lib.code, "CONFINEMENT_UNAVAILABLE");
    assert.equal(lib.binary, join(dir, "prebuilds", "linux-x64", "sandlock_native.node"));
    assert.match(lib.message, /^native binaries missing: no sandlock_native\.node and sandlock-launcher in build\/Release or prebuilds\/linux-x64 of .*; .*"npm rebuild sandlock"/);
    for (const args of [["run", "-p", "system", "--", "true"], ["check"]]) {
      const cli = node(as, dir, ["bin/sandlock.cjs", ...args]);
      assert.equal(cli.status, 126, `${args.join(" ")}: ${cli.stderr}`);
      assert.equal(cli.stderr.split("\n").length, 2, `one line: ${cli.stderr}`);
      assert.match(cli.stderr, /^sandlock: native binaries missing: .*"npm rebuild sandlock" \(needs a C compiler, make and python3\)\n$/);
    }
  });

  test(`native binaries [${as}]: an addon built for another system: a ConfinementError with the loader's reason`, () => {
    const dir = packageCopy("foreign");
    const addon = join(dir, "prebuilds", "linux-x64", "sandlock_native.node");
    const lib = JSON.parse(node(as, dir, ["--input-type=module", "-e", LIBRARY]).stdout);
    assert.equal(lib.typed, true);
    assert.equal(lib.code, "CONFINEMENT_UNAVAILABLE");
    assert.equal(lib.binary, addon);
    assert.ok(lib.message.startsWith(`native addon ${addon} does not load in Node ${process.version} (linux-x64): `), lib.message);
    // glibc's reason for a foreign ELF machine is "cannot open shared object file".
    assert.match(lib.message, /\): .*sandlock_native\.node: \S.*; reinstall sandlock on Linux x64, or build it from source with "npm rebuild sandlock"/);
    const cli = node(as, dir, ["bin/sandlock.cjs", "run", "-p", "system", "--", "true"]);
    assert.equal(cli.status, 126, cli.stderr);
    assert.match(cli.stderr, /^sandlock: native addon .* does not load in Node .*"npm rebuild sandlock".*\n$/);
  });
}
