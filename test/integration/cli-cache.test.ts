// The CLI's V8 code cache (bin/sandlock.cjs), as root and as the test user running the
// staged package: written on the first `run` into a private directory, used as is after,
// and a cache that does not fit (other Node, corrupt, unsafe directory) never fails a run.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, SYSTEM_RO } from "../helpers/system.js";
import { ensureTestUser, isRoot, stagePackage } from "../helpers/stage.js";
import type { Who } from "../helpers/harness.js";

const RO = SYSTEM_RO.flatMap((p) => ["-r", p]);
const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh XDG_CACHE_HOME owned by `who`. */
function cacheHome(who: Who): string {
  const dir = mkdtempSync("/tmp/sandlock-cache-test-");
  made.push(dir);
  chmodSync(dir, 0o700);
  if (who === "user" && isRoot) {
    const u = ensureTestUser();
    chownSync(dir, u.uid, u.gid);
  }
  return dir;
}

/** `sandlock args` of the staged package as `who`, with only PATH and XDG_CACHE_HOME set. */
function sandlock(who: Who, xdg: string, args: readonly string[], extraEnv: Record<string, string> = {}): Ran {
  const cli = join(stagePackage().dir, "bin", "sandlock.cjs");
  let file = process.execPath;
  let argv = [cli, ...args];
  if (who === "user" && isRoot) {
    const u = ensureTestUser();
    argv = [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--", file, ...argv];
    file = "setpriv";
  }
  const r = spawnSync(file, argv, { cwd: "/", encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", XDG_CACHE_HOME: xdg, ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function echoOk(who: Who, xdg: string, extraEnv?: Record<string, string>): void {
  const r = sandlock(who, xdg, ["run", ...RO, "--", "/bin/echo", "ok"], extraEnv);
  assert.deepEqual(r, { status: 0, stdout: "ok\n", stderr: "" });
}

function cacheFiles(xdg: string): string[] {
  const dir = join(xdg, "sandlock");
  return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
}

function keyLine(file: string): string {
  const buf = readFileSync(file);
  return buf.toString("latin1", 0, buf.indexOf(10));
}

function cases(who: Who): void {
  const skip = who === "root" && !isRoot ? "tests are not running as root" : false;

  test(`CLI code cache: the first run writes one private cache, keyed by build, Node and this bundle; the next uses it unchanged [${who}]`, { skip }, () => {
    const xdg = cacheHome(who);
    echoOk(who, xdg);
    const [file, ...more] = cacheFiles(xdg);
    assert.ok(file !== undefined && more.length === 0, `one cache file expected: ${cacheFiles(xdg).join(", ")}`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(xdg, "sandlock")).mode & 0o777, 0o700);
    const bundle = join(stagePackage().dir, "dist", "src", "cli", "sandlock.bundle.cjs");
    assert.match(keyLine(file), new RegExp(`^sandlock-cli [0-9a-f]{32} ${process.version.replaceAll(".", "\\.")} ${process.arch} ${bundle}$`));
    const before = readFileSync(file);
    const ino = statSync(file).ino;
    echoOk(who, xdg);
    // Accepted by V8: not written again (a rejected one is, see the next cases).
    assert.equal(statSync(file).ino, ino);
    assert.ok(readFileSync(file).equals(before));
    // --help and the other commands read the cache but never write one.
    const other = cacheHome(who);
    assert.equal(sandlock(who, other, ["--version"]).status, 0);
    assert.deepEqual(cacheFiles(other), []);
  });

  test(`CLI code cache: corrupt data under the right key is rejected by V8, the run goes on silently and the cache is rewritten [${who}]`, { skip }, () => {
    const xdg = cacheHome(who);
    echoOk(who, xdg);
    const [file] = cacheFiles(xdg);
    const good = readFileSync(file!);
    const key = keyLine(file!);
    const garbage = Buffer.concat([Buffer.from(`${key}\n`, "latin1"), Buffer.alloc(good.length - key.length - 1, 0xa5)]);
    writeFileSync(file!, garbage);
    echoOk(who, xdg);
    const now = readFileSync(file!);
    assert.equal(keyLine(file!), key);
    assert.ok(!now.equals(garbage), "a rejected cache is replaced");
  });

  test(`CLI code cache: a cache written by another Node version or another build is not read and is replaced [${who}]`, { skip }, () => {
    const xdg = cacheHome(who);
    echoOk(who, xdg);
    const [file] = cacheFiles(xdg);
    const key = keyLine(file!);
    const stale = Buffer.concat([Buffer.from(`${key.replace(process.version, "v0.0.1")}\n`, "latin1"), Buffer.alloc(1000, 0xa5)]);
    writeFileSync(file!, stale);
    echoOk(who, xdg);
    assert.equal(keyLine(file!), key, "the stale cache is replaced by one of this Node");
    assert.ok(readFileSync(file!).length > 1000);
    // Another build of the package at the same place (an upgrade): the same file, replaced.
    writeFileSync(file!, Buffer.concat([Buffer.from(`${key.replace(/ [0-9a-f]{32} /, ` ${"0".repeat(32)} `)}\n`, "latin1"), Buffer.alloc(1000, 0xa5)]));
    echoOk(who, xdg);
    assert.equal(keyLine(file!), key);
    assert.deepEqual(cacheFiles(xdg), [file]);
    // Files of other copies or Node versions: pruned when a cache is written, after 30 days
    // untouched (the control: a younger one stays).
    const aged = join(xdg, "sandlock", "cli-1234abcd.v8cache");
    const young = join(xdg, "sandlock", "cli-5678abcd.v8cache");
    writeFileSync(aged, "x");
    writeFileSync(young, "x");
    const longAgo = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    utimesSync(aged, longAgo, longAgo);
    writeFileSync(file!, stale);
    echoOk(who, xdg);
    assert.deepEqual(cacheFiles(xdg).sort(), [file, young].sort());
  });

  test(`CLI code cache: a cache directory others can write is neither read nor written; NODE_DISABLE_COMPILE_CACHE turns the cache off [${who}]`, { skip }, () => {
    const xdg = cacheHome(who);
    echoOk(who, xdg);
    const [file] = cacheFiles(xdg);
    const key = keyLine(file!);
    // Garbage under the right key: read, it would be rejected and rewritten (the case above).
    const planted = Buffer.concat([Buffer.from(`${key}\n`, "latin1"), Buffer.alloc(1000, 0xa5)]);
    writeFileSync(file!, planted);
    chmodSync(join(xdg, "sandlock"), 0o777);
    echoOk(who, xdg);
    assert.ok(readFileSync(file!).equals(planted), "nothing read or written in a directory others can write");
    chmodSync(join(xdg, "sandlock"), 0o700);
    echoOk(who, xdg, { NODE_DISABLE_COMPILE_CACHE: "1" });
    assert.ok(readFileSync(file!).equals(planted), "the cache is off");
    // Positive control: the same directory, private and with the cache on, is used again.
    echoOk(who, xdg);
    assert.ok(!readFileSync(file!).equals(planted));
  });

  test(`CLI code cache: no HOME and no XDG_CACHE_HOME, or a read-only cache home: the run works and says nothing [${who}]`, { skip }, () => {
    const cli = join(stagePackage().dir, "bin", "sandlock.cjs");
    const r = sandlock(who, "", ["run", ...RO, "--", "/bin/echo", "ok"]);
    assert.deepEqual(r, { status: 0, stdout: "ok\n", stderr: "" });
    const xdg = cacheHome(who);
    chmodSync(xdg, 0o500);
    echoOk(who, xdg);
    // Root's capabilities pass the mode bits; an unprivileged user's do not.
    if (who === "user" || !isRoot) assert.deepEqual(cacheFiles(xdg), []);
    assert.ok(existsSync(cli));
  });
}

cases("root");
cases("user");

test("CLI bundle: no code cache, no source map and no build path are shipped with it", () => {
  const cliDir = join(ROOT, "dist", "src", "cli");
  const files = readdirSync(cliDir).filter((f) => f.startsWith("sandlock.bundle"));
  assert.deepEqual(files, ["sandlock.bundle.cjs"]);
  const text = readFileSync(join(cliDir, "sandlock.bundle.cjs"), "utf8");
  assert.ok(!text.includes(ROOT), `the bundle names the build directory ${ROOT}`);
  assert.match(text, /\n\/\/# sandlock-build=[0-9a-f]{32}\n$/);
  assert.ok(!/sourceMappingURL/.test(text));
  // What npm would pack holds no map pointing at src/, which is not shipped.
  const packed = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })) as { files: { path: string }[] }[];
  const paths = packed[0]!.files.map((f) => f.path);
  assert.deepEqual(paths.filter((p) => p.endsWith(".map") || p.endsWith(".v8cache")), []);
  assert.ok(paths.includes("dist/src/cli/sandlock.bundle.cjs") && paths.includes("bin/sandlock.cjs"));
});
