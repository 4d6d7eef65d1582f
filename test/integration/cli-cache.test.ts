// The CLI's V8 code cache (bin/sandlock.cjs) and its cache of seccomp programs
// (src/cli/program-cache.ts), as root and as the test user, each running a copy of the
// package it owns: written beside the bundle on the first `run`, used as is after, trusted
// only as the bundle is, and a cache that does not fit never fails a run.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, SYSTEM_RO } from "../helpers/system.js";
import { ensureTestUser, isRoot, stagePackage } from "../helpers/stage.js";
import type { Who } from "../helpers/harness.js";
import { until } from "../helpers/until.js";

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

function ids(who: Who): { uid: number; gid: number } {
  if (who === "user" && isRoot) {
    const u = ensureTestUser();
    return { uid: u.uid, gid: u.gid };
  }
  return { uid: process.getuid!(), gid: process.getgid!() };
}

/** A copy of the package (what the CLI needs of it) owned by `owner`, readable by all,
 * in a new directory whose name starts with `prefix`. */
function packageCopy(owner: Who, prefix = "/tmp/sandlock-cache-test-"): string {
  const stage = stagePackage().dir;
  const dir = mkdtempSync(prefix);
  made.push(dir);
  cpSync(join(stage, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(stage, "dist", "src"), join(dir, "dist", "src"), { recursive: true, filter: (f) => !f.endsWith(".v8cache") && !f.includes("sandlock.seccomp.") });
  copyFileSync(join(stage, "package.json"), join(dir, "package.json"));
  mkdirSync(join(dir, "build", "Release"), { recursive: true });
  for (const f of ["sandlock-launcher", "sandlock_native.node"]) copyFileSync(join(stage, "build", "Release", f), join(dir, "build", "Release", f));
  execFileSync("chmod", ["-R", "go-w,a+rX", dir]);
  const { uid, gid } = ids(owner);
  if (uid !== process.getuid!()) execFileSync("chown", ["-R", `${uid}:${gid}`, dir]);
  return dir;
}

/** The program and arguments that run `sandlock args` of the copy at `pkg` as `who` (the
 * CLI's process keeps the pid: setpriv execs it). */
function sandlockCommand(who: Who, pkg: string, args: readonly string[]): [string, string[]] {
  const argv = [join(pkg, "bin", "sandlock.cjs"), ...args];
  if (who !== "user" || !isRoot) return [process.execPath, argv];
  const u = ensureTestUser();
  return ["setpriv", [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--", process.execPath, ...argv]];
}

/** `sandlock args` of the copy at `pkg`, as `who`, with only PATH set (and extraEnv). */
function sandlock(who: Who, pkg: string, args: readonly string[], extraEnv: Record<string, string> = {}): Ran {
  const [file, argv] = sandlockCommand(who, pkg, args);
  const r = spawnSync(file, argv, { cwd: "/", encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...extraEnv } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Whether the process maps `file` (a line of /proc/PID/maps names it). */
function maps(pid: number, file: string): boolean {
  return readFileSync(`/proc/${pid}/maps`, "utf8")
    .split("\n")
    .some((l) => l.endsWith(` ${file}`));
}

function echoOk(who: Who, pkg: string, extraEnv?: Record<string, string>): void {
  const r = sandlock(who, pkg, ["run", ...RO, "--", "/bin/echo", "ok"], extraEnv);
  assert.deepEqual(r, { status: 0, stdout: "ok\n", stderr: "" });
}

const cliDir = (pkg: string): string => join(pkg, "dist", "src", "cli");

function cacheFiles(pkg: string, kind = "v8cache"): string[] {
  return readdirSync(cliDir(pkg))
    .filter((f) => f.includes(kind))
    .map((f) => join(cliDir(pkg), f));
}

function keyLine(file: string): string {
  const buf = readFileSync(file);
  return buf.toString("latin1", 0, buf.indexOf(10));
}

/** The cache the first run of `who` writes in a fresh copy it owns. */
function firstCache(who: Who): { pkg: string; file: string; key: string } {
  const pkg = packageCopy(who);
  echoOk(who, pkg);
  const files = cacheFiles(pkg);
  assert.equal(files.length, 1, `one cache file expected: ${files.join(", ")}`);
  return { pkg, file: files[0]!, key: keyLine(files[0]!) };
}

/** The cache's head: the key line, padded with spaces so the data V8 reads starts 8-aligned. */
const head = (key: string): Buffer => Buffer.from(`${key}\n`.padEnd((key.length + 8) & ~7, " "), "latin1");
const garbage = (key: string, n: number): Buffer => Buffer.concat([head(key), Buffer.alloc(n, 0xa5)]);

function cases(who: Who): void {
  const skip = who === "root" && !isRoot ? "tests are not running as root" : false;
  const other: Who = who === "root" ? "user" : "root";
  const skipOther = skip || (!isRoot ? "needs root to make files of another user" : false);

  test(`CLI code cache: the first run that starts a sandbox writes one beside the bundle, keyed by build, Node and bundle path; the next uses it unchanged; --version, run --help, a usage error and a command that cannot start write none [${who}]`, { skip }, () => {
    const { pkg, file, key } = firstCache(who);
    const st = statSync(file);
    assert.equal(st.mode & 0o777, 0o644);
    assert.equal(st.uid, ids(who).uid);
    const bundle = join(cliDir(pkg), "sandlock.bundle.cjs");
    assert.match(key, new RegExp(`^sandlock-cli [0-9a-f]{32} ${process.version.replaceAll(".", "\\.")} ${process.arch} ${bundle}$`));
    const before = readFileSync(file);
    echoOk(who, pkg);
    // Accepted by V8: not written again (a rejected one is, see the next cases).
    assert.equal(statSync(file).ino, st.ino);
    assert.ok(readFileSync(file).equals(before));
    // The data starts 8-aligned after the key line (V8 copies data that does not, 640 kB
    // more to fault in at every start).
    assert.ok(before.subarray(0, head(key).length).equals(head(key)), JSON.stringify(before.toString("latin1", 0, 120)));
    assert.equal(head(key).length % 8, 0);
    // --version and the other commands read the cache but never write one.
    const fresh = packageCopy(who);
    assert.equal(sandlock(who, fresh, ["--version"]).status, 0);
    assert.deepEqual(cacheFiles(fresh), []);
    // Nor does a run that starts no sandbox: a usage error (125), `run --help` (0), a command
    // that cannot be started (127). Each compiled too little of a run (`run --help` wrote
    // 263 KB where a run writes about 600), and every later run would accept its cache.
    const bad = sandlock(who, fresh, ["run", "--no-such-flag", "--", "/bin/true"]);
    assert.equal(bad.status, 125, bad.stderr);
    assert.deepEqual(cacheFiles(fresh), []);
    const help = sandlock(who, fresh, ["run", "--help"]);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /sandlock run/);
    assert.deepEqual(cacheFiles(fresh), []);
    const missing = sandlock(who, fresh, ["run", ...RO, "--", "/nonexistent-command"]);
    assert.equal(missing.status, 127, missing.stderr);
    assert.deepEqual(cacheFiles(fresh), []);
    // The next run that starts one writes it, holding what such a run compiles.
    echoOk(who, fresh);
    assert.equal(cacheFiles(fresh).length, 1);
    assert.ok(statSync(cacheFiles(fresh)[0]!).size > 1.5 * 263_000, `${statSync(cacheFiles(fresh)[0]!).size} bytes`);
  });

  test(`CLI bundle: installed under a path a file: URL must escape (space, #, %), it finds its addon and launcher and runs, with and without its cache [${who}]`, { skip }, () => {
    // The bundle's import.meta.url skips node:url for plain paths (scripts/bundle-cli.mjs);
    // this path takes the other branch. A wrong URL would put the binaries elsewhere.
    const pkg = packageCopy(who, "/tmp/sandlock cache #1%20-");
    echoOk(who, pkg);
    assert.equal(cacheFiles(pkg).length, 1);
    echoOk(who, pkg);
    const v = sandlock(who, pkg, ["--version"]);
    assert.deepEqual(v, { status: 0, stdout: `sandlock ${(JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version: string }).version}\n`, stderr: "" });
    // The binaries are looked for in this copy, found by that path: without the addon the
    // run says it is missing there.
    rmSync(join(pkg, "build", "Release", "sandlock_native.node"));
    const r = sandlock(who, pkg, ["run", ...RO, "--", "/bin/true"]);
    assert.equal(r.status, 126, r.stderr);
    assert.ok(r.stderr.includes(`no sandlock_native.node and sandlock-launcher in build/Release or prebuilds/linux-x64 of ${pkg}/`), r.stderr);
    // The bin reads the bundle and its cache through the addon when it loads; without it,
    // the ordinary way (the same answer).
    assert.deepEqual(sandlock(who, pkg, ["--version"]), v);
  });

  test(`CLI bundle: written inside the function the bin calls; a bundle built before that (no wrapper) still runs, with and without its cache [${who}]`, { skip }, () => {
    const pkg = packageCopy(who);
    const bundle = join(cliDir(pkg), "sandlock.bundle.cjs");
    const text = readFileSync(bundle, "latin1");
    const head = "(function (exports, require, module, __filename, __dirname) { ";
    const tail = /\n\}\);\n(\/\/# sandlock-build=[0-9a-f]{32}\n)$/.exec(text);
    assert.ok(text.startsWith(head) && tail !== null, "the build writes the bundle wrapped, its build id last");
    // The older layout: the bare module, the build id last (the bin wraps it itself).
    const bare = `${text.slice(head.length, tail.index)}\n${tail[1]!}`;
    const st = statSync(bundle);
    writeFileSync(bundle, bare, "latin1");
    if (st.uid !== process.getuid!()) chownSync(bundle, st.uid, st.gid);
    echoOk(who, pkg); // compiled from source, the cache written
    assert.equal(cacheFiles(pkg).length, 1);
    echoOk(who, pkg); // from the cache
  });

  test(`CLI bundle: its text is the file's mapping while the run starts and a private copy a second in; truncating the bundle after that leaves the run unharmed [${who}]`, { skip }, async () => {
    const pkg = packageCopy(who);
    echoOk(who, pkg); // the code cache, as a user's later runs have it
    const bundle = join(cliDir(pkg), "sandlock.bundle.cjs");
    const [file, argv] = sandlockCommand(who, pkg, ["run", ...RO, "--", "/bin/sh", "-c", "sleep 5; echo done"]);
    const child = spawn(file, argv, { cwd: "/", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const ended = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // Polled, not looked at after fixed delays: three test files at once can hold the run's
    // start back for most of a second.
    await until("the bundle's text is read from the file's mapping at start", () => maps(child.pid!, bundle), 10_000);
    await until("a second in, the text is a private copy: no mapping of the file is left", () => !maps(child.pid!, bundle), 10_000);
    // (the command sleeps 5 s: the copy was made while the run goes on, not at its end)
    assert.equal(child.exitCode, null, "the run still goes on when the bundle is truncated");
    // A truncated file would be SIGBUS at the next read of a page of its mapping (the unit
    // test of native/startfile.c shows the mapping following the file before settling).
    writeFileSync(bundle, "");
    assert.equal(await ended, 0, err);
    assert.equal(out, "done\n");
  });

  test(`CLI code cache: corrupt data under the right key is rejected by V8, the run goes on silently and the cache is rewritten [${who}]`, { skip }, () => {
    const { pkg, file, key } = firstCache(who);
    const bad = garbage(key, readFileSync(file).length - key.length - 1);
    writeFileSync(file, bad);
    echoOk(who, pkg);
    assert.equal(keyLine(file), key);
    assert.ok(!readFileSync(file).equals(bad), "a rejected cache is replaced");
  });

  test(`CLI code cache: one of another Node version or another build is not read and is replaced in place; old files of other Node versions are pruned [${who}]`, { skip }, () => {
    const { pkg, file, key } = firstCache(who);
    writeFileSync(file, garbage(key.replace(process.version, "v0.0.1"), 1000));
    echoOk(who, pkg);
    assert.equal(keyLine(file), key, "the stale cache is replaced by one of this Node");
    assert.ok(readFileSync(file).length > 1000);
    // Another build of the package at the same place (an upgrade): the same file, replaced.
    // Files of other Node versions untouched for 30 days go then (the control: a younger one stays).
    const aged = join(cliDir(pkg), "sandlock.bundle.1234abcd.v8cache");
    const young = join(cliDir(pkg), "sandlock.bundle.5678abcd.v8cache");
    writeFileSync(aged, "x");
    writeFileSync(young, "x");
    if (who === "user" && isRoot) for (const f of [aged, young]) chownSync(f, ids(who).uid, ids(who).gid);
    const longAgo = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    utimesSync(aged, longAgo, longAgo);
    writeFileSync(file, garbage(key.replace(/ [0-9a-f]{32} /, ` ${"0".repeat(32)} `), 1000));
    echoOk(who, pkg);
    assert.equal(keyLine(file), key);
    assert.deepEqual(cacheFiles(pkg).sort(), [file, young].sort());
  });

  test(`CLI code cache: a directory others can write is neither read nor written; NODE_DISABLE_COMPILE_CACHE turns the cache off [${who}]`, { skip }, () => {
    const { pkg, file, key } = firstCache(who);
    // Garbage under the right key: read, it would be rejected and rewritten (the case above).
    const planted = garbage(key, 1000);
    writeFileSync(file, planted);
    chmodSync(cliDir(pkg), 0o777);
    echoOk(who, pkg);
    assert.ok(readFileSync(file).equals(planted), "nothing read or written in a directory others can write");
    chmodSync(cliDir(pkg), 0o755);
    echoOk(who, pkg, { NODE_DISABLE_COMPILE_CACHE: "1" });
    assert.ok(readFileSync(file).equals(planted), "the cache is off");
    // Positive control: the same directory, private again and with the cache on, is used.
    echoOk(who, pkg);
    assert.ok(!readFileSync(file).equals(planted));
  });

  test(`CLI code cache: a valid cache owned by another user is not trusted and is replaced by one of the bundle's owner [${who}]`, { skip: skipOther }, () => {
    const { pkg, file } = firstCache(who);
    const valid = readFileSync(file);
    const o = ids(other);
    chownSync(file, o.uid, o.gid);
    echoOk(who, pkg);
    // Had it been read, V8 would have accepted it and nothing would be written (first case).
    assert.equal(statSync(file).uid, ids(who).uid);
    assert.equal(readFileSync(file).length > 1000, true);
    assert.ok(valid.length > 1000);
  });

  test(`CLI code cache: a copy of the package owned by another user runs, says nothing and gets no cache from this user [${who}]`, { skip: skipOther }, () => {
    const pkg = packageCopy(other);
    echoOk(who, pkg);
    assert.deepEqual(cacheFiles(pkg), []);
    // The owner's own cache is read by everyone who runs the copy; the run works with it.
    echoOk(other, pkg);
    const [file] = cacheFiles(pkg);
    assert.ok(file !== undefined && existsSync(file));
    const before = readFileSync(file);
    echoOk(who, pkg);
    assert.ok(readFileSync(file).equals(before));
  });
}

/** The cached seccomp program's file: its key (head line and the spec's JSON line) and the program. */
function programParts(file: string): { head: string; spec: string; program: Buffer } {
  const buf = readFileSync(file);
  const a = buf.indexOf(10);
  const b = buf.indexOf(10, a + 1);
  return { head: buf.toString("latin1", 0, a), spec: buf.toString("latin1", a + 1, b), program: buf.subarray(b + 1) };
}

/** One instruction, `ret SECCOMP_RET_KILL_PROCESS`: a run that uses it dies by SIGSYS (159). */
const KILL_ALL = Buffer.from([0x06, 0, 0, 0, 0, 0, 0, 0x80]);

/** The file written as `who`, with what it holds replaced (owner and mode kept). */
function plant(who: Who, file: string, head: string, spec: string, program: Buffer): Buffer {
  const data = Buffer.concat([Buffer.from(`${head}\n${spec}\n`, "latin1"), program]);
  writeFileSync(file, data);
  chmodSync(file, 0o644);
  const { uid, gid } = ids(who);
  chownSync(file, uid, gid);
  return data;
}

/** The program file the first runs of `who` write in a fresh copy: `sandlock run ...RO [extra]`. */
function firstProgram(who: Who, extra: readonly string[] = []): { pkg: string; file: string; head: string; spec: string } {
  const pkg = packageCopy(who);
  const r = sandlock(who, pkg, ["run", ...RO, ...extra, "--", "/bin/echo", "ok"]);
  assert.deepEqual(r, { status: 0, stdout: "ok\n", stderr: "" });
  const files = cacheFiles(pkg, "sandlock.seccomp.");
  assert.equal(files.length, 1, `one program file expected: ${files.join(", ")}`);
  return { pkg, file: files[0]!, ...programParts(files[0]!) };
}

function programCases(who: Who): void {
  const skip = who === "root" && !isRoot ? "tests are not running as root" : false;
  const other: Who = who === "root" ? "user" : "root";
  const skipOther = skip || (!isRoot ? "needs root to make files of another user" : false);
  const run = (pkg: string, extra: readonly string[] = [], env: Record<string, string> = {}): Ran => sandlock(who, pkg, ["run", ...RO, ...extra, "--", "/bin/echo", "ok"], env);

  test(`CLI seccomp cache: the first run writes the program beside the bundle under build id, architecture and the filter's spec; a later run uses what it finds there (a planted kill-all program under that key kills the command: the control of the cases below) [${who}]`, { skip }, () => {
    const { pkg, file, head, spec } = firstProgram(who);
    const st = statSync(file);
    assert.equal(st.mode & 0o777, 0o644);
    assert.equal(st.uid, ids(who).uid);
    const build = /^sandlock-seccomp ([0-9a-f]{32}) x64$/.exec(head);
    assert.ok(build !== null, head);
    assert.ok(readFileSync(join(cliDir(pkg), "sandlock.bundle.cjs"), "latin1").endsWith(`//# sandlock-build=${build[1]}\n`));
    assert.ok(Array.isArray((JSON.parse(spec) as { blocked: unknown }).blocked));
    const real = programParts(file).program;
    assert.ok(real.length > 8 && real.length % 8 === 0);
    // The same run again: served, not written again.
    assert.deepEqual(run(pkg), { status: 0, stdout: "ok\n", stderr: "" });
    assert.equal(statSync(file).ino, st.ino);
    // The positive control: the file is what the next run confines with.
    plant(who, file, head, spec, KILL_ALL);
    const killed = run(pkg);
    assert.equal(killed.status, 159, JSON.stringify(killed));
    assert.equal(killed.stdout, "");
  });

  test(`CLI seccomp cache: a program stored under another spec (another policy), another build or another architecture is not served, and is replaced by the right one [${who}]`, { skip }, () => {
    const a = firstProgram(who);
    // Another policy, another filter: its own file; a kill-all program stored there under
    // the first policy's spec is not served to it.
    const noSup = ["--no-supervisor"];
    assert.deepEqual(run(a.pkg, noSup), { status: 0, stdout: "ok\n", stderr: "" });
    const fileB = cacheFiles(a.pkg, "sandlock.seccomp.").find((f) => f !== a.file)!;
    assert.ok(fileB !== undefined, "the second policy stores its own program");
    const b = programParts(fileB);
    assert.notEqual(b.spec, a.spec);
    for (const [what, head, spec] of [
      ["the other policy's spec", b.head, a.spec],
      ["another build", b.head.replace(/ [0-9a-f]{32} /, ` ${"0".repeat(32)} `), b.spec],
      ["another architecture", b.head.replace(/ x64$/, " arm64"), b.spec],
    ] as const) {
      const planted = plant(who, fileB, head, spec, KILL_ALL);
      assert.deepEqual(run(a.pkg, noSup), { status: 0, stdout: "ok\n", stderr: "" }, what);
      assert.ok(!readFileSync(fileB).equals(planted), `${what}: replaced`);
      assert.deepEqual(programParts(fileB).spec, b.spec, what);
    }
    // The first policy still finds its own (the control: served when the key is right).
    plant(who, fileB, b.head, b.spec, KILL_ALL);
    assert.equal(run(a.pkg, noSup).status, 159);
  });

  test(`CLI seccomp cache: a file others can write, one reached by a symbolic link or a second hard link, one in a directory others can write, and any with NODE_DISABLE_COMPILE_CACHE set is not read [${who}]`, { skip }, () => {
    const { pkg, file, head, spec } = firstProgram(who);
    const ok = { status: 0, stdout: "ok\n", stderr: "" };
    for (const mode of [0o664, 0o646]) {
      plant(who, file, head, spec, KILL_ALL);
      chmodSync(file, mode);
      assert.deepEqual(run(pkg), ok, `mode ${mode.toString(8)}`);
      assert.equal(statSync(file).mode & 0o777, 0o644, "replaced by the owner's");
    }
    // A symbolic link to a trusted file holding the kill-all program: the link is not followed.
    const target = join(cliDir(pkg), "planted-target");
    plant(who, target, head, spec, KILL_ALL);
    rmSync(file);
    symlinkSync(target, file);
    assert.deepEqual(run(pkg), ok, "symbolic link");
    // A second name for the file (a hard link): not read.
    rmSync(file, { force: true });
    linkSync(target, file);
    assert.deepEqual(run(pkg), ok, "hard link");
    rmSync(target);
    // The directory: others can write it, nothing is read (nor written).
    const planted = plant(who, file, head, spec, KILL_ALL);
    chmodSync(cliDir(pkg), 0o777);
    assert.deepEqual(run(pkg), ok, "directory others can write");
    assert.ok(readFileSync(file).equals(planted), "nothing written in a directory others can write");
    chmodSync(cliDir(pkg), 0o755);
    assert.deepEqual(run(pkg, [], { NODE_DISABLE_COMPILE_CACHE: "1" }), ok, "cache off");
    assert.ok(readFileSync(file).equals(planted), "the cache is off");
    // The control: the same file, private again and with the cache on, is read.
    assert.equal(run(pkg).status, 159);
  });

  test(`CLI seccomp cache: a file owned by another user is not read and is replaced by one of the bundle's owner; a copy owned by another user gets no program from this one [${who}]`, { skip: skipOther }, () => {
    const { pkg, file, head, spec } = firstProgram(who);
    plant(other, file, head, spec, KILL_ALL);
    assert.deepEqual(run(pkg), { status: 0, stdout: "ok\n", stderr: "" });
    assert.equal(statSync(file).uid, ids(who).uid);
    assert.notDeepEqual(programParts(file).program, KILL_ALL);
    // The control: owned by the bundle's owner, the same content is read.
    plant(who, file, head, spec, KILL_ALL);
    assert.equal(run(pkg).status, 159);
    // Another user's copy: this user runs it and writes nothing there.
    const theirs = packageCopy(other);
    assert.deepEqual(run(theirs), { status: 0, stdout: "ok\n", stderr: "" });
    assert.deepEqual(cacheFiles(theirs, "sandlock.seccomp."), []);
  });
}

cases("root");
cases("user");
programCases("root");
programCases("user");

test("CLI bundle: no code cache, no source map and no build path are shipped with it", () => {
  const text = readFileSync(join(ROOT, "dist", "src", "cli", "sandlock.bundle.cjs"), "utf8");
  assert.ok(!text.includes(ROOT), `the bundle names the build directory ${ROOT}`);
  assert.match(text, /\n\/\/# sandlock-build=[0-9a-f]{32}\n$/);
  assert.ok(!/sourceMappingURL/.test(text));
  // bin/sandlock.cjs reads it as latin1: only ASCII makes that the same text as UTF-8.
  assert.equal(text.search(/[^\x00-\x7f]/), -1, "the bundle has a non-ASCII character");
  // What npm would pack holds no map pointing at src/ (not shipped) and no code cache, even
  // when the checkout's own runs wrote one.
  const planted = join(ROOT, "dist", "src", "cli", "sandlock.bundle.0.v8cache");
  const program = join(ROOT, "dist", "src", "cli", "sandlock.seccomp.0.cache");
  writeFileSync(planted, "x");
  writeFileSync(program, "x");
  try {
    const packed = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })) as { files: { path: string }[] }[];
    const paths = packed[0]!.files.map((f) => f.path);
    assert.deepEqual(paths.filter((p) => p.endsWith(".map") || p.includes(".v8cache") || p.includes("sandlock.seccomp.")), []);
    assert.ok(paths.includes("dist/src/cli/sandlock.bundle.cjs") && paths.includes("bin/sandlock.cjs"));
  } finally {
    rmSync(planted, { force: true });
    rmSync(program, { force: true });
  }
});

// Each of Node's own modules a start loads costs it (node:crypto about 10 ms and 330 page
// faults on these VMs): a plain run loads vm (the bin's code cache), os and string_decoder,
// nothing else; the rest (crypto for policyFn's digests and randomSeed, dns, net for the
// proxy, streams, child_process for the diff) is loaded by the first run that uses it. A
// --require hook lists what loaded after it, writing with fs.writeSync (process.stderr
// would load the stream modules itself).
test("CLI start: a plain run loads none of Node's own modules beyond vm, os and string_decoder", () => {
  const dir = mkdtempSync("/tmp/sandlock-modules-");
  made.push(dir);
  const hook = join(dir, "hook.cjs");
  writeFileSync(hook, `const base = new Set(process.moduleLoadList);
process.on("exit", () => require("node:fs").writeSync(2, "LOADED " + process.moduleLoadList.filter((m) => !base.has(m) && m.startsWith("NativeModule ") && !m.startsWith("NativeModule internal/")).map((m) => m.slice(13)).join(" ") + "\\n"));
`);
  const loaded = (args: string[]): string[] => {
    const r = spawnSync(process.execPath, ["--require", hook, ...args], { cwd: "/", encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
    assert.equal(r.status, 0, r.stderr);
    const line = /^LOADED (.*)$/m.exec(r.stderr);
    assert.ok(line !== null, r.stderr);
    return line[1]!.split(" ").filter((m) => m !== "").sort();
  };
  const cli = join(ROOT, "bin", "sandlock.cjs");
  loaded([cli, "run", ...RO, "--", "/bin/true"]); // writes the code cache if none
  assert.deepEqual(loaded([cli, "run", ...RO, "--", "/bin/true"]).filter((m) => !["os", "string_decoder", "vm"].includes(m)), []);
  // Control: the hook sees a module a script does load.
  assert.ok(loaded(["-e", "require('node:crypto')"]).includes("crypto"));
});
