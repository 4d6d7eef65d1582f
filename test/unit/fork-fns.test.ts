// newWithFns input checking (module paths and URLs, export names, functions sent as
// source) and the per-clone accounting unit of the memory guard.

import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { Sandbox, SandboxError } from "../../src/index.js";
import { checkForkFunctions, FORK_OUTPUT_BUDGET, forkMaxBuffer, type ForkFunctions } from "../../src/fork/fns.js";
import { cloneUnit } from "../../src/supervise/members.js";

const dir = mkdtempSync("/tmp/sandlock-fns-");
after(() => rmSync(dir, { recursive: true, force: true }));
const mod = join(dir, "m.mjs");
writeFileSync(mod, "export function init() {}\nexport function work() {}\n");

function refused(fns: unknown, message: RegExp | string): void {
  assert.throws(
    () => checkForkFunctions(fns as ForkFunctions),
    (e: unknown) => {
      assert.ok(e instanceof SandboxError, String(e));
      if (typeof message === "string") assert.equal((e as Error).message, message);
      else assert.match((e as Error).message, message);
      return true;
    },
  );
}

test("a module by absolute path, relative path, file: URL (string or URL) and data: URL", () => {
  const url = pathToFileURL(mod).href;
  assert.deepEqual(checkForkFunctions({ module: mod }), { moduleUrl: url, modulePath: mod, init: { name: "init", optional: true }, work: { name: "work" } });
  assert.equal(checkForkFunctions({ module: pathToFileURL(mod) }).modulePath, mod);
  assert.equal(checkForkFunctions({ module: url, init: "init", work: "work" }).moduleUrl, url);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    assert.equal(checkForkFunctions({ module: "./m.mjs" }).modulePath, mod);
  } finally {
    process.chdir(cwd);
  }
  const data = checkForkFunctions({ module: "data:text/javascript,export function work(){}" });
  assert.equal(data.modulePath, undefined);
  assert.match(data.moduleUrl!, /^data:/);
});

test("functions travel as their source; methods and arrows both work; no init means nothing to run", () => {
  const spec = checkForkFunctions({ init: () => 1, work: function named(id: number) { return id; } });
  assert.deepEqual(spec.init, { source: "() => 1" });
  assert.match((spec.work as { source: string }).source, /^function named\(id\)/);
  const holder = { work(id: number) { return id; } };
  assert.match((checkForkFunctions({ work: holder.work }).work as { source: string }).source, /^work\(id\)/);
  assert.deepEqual(checkForkFunctions({ work: () => 0 }).init, { source: "() => undefined" });
});

test("bad newWithFns input: each problem named", () => {
  refused(null, "newWithFns: expected { module?, init?, work? }");
  refused({ work: () => 0, extra: 1 }, 'newWithFns: unknown field "extra" (expected module, init, work)');
  refused({ module: "" }, 'newWithFns: module must be a non-empty path or URL, got ""');
  refused({ module: join(dir, "missing.mjs") }, `newWithFns: module ${JSON.stringify(join(dir, "missing.mjs"))} does not exist`);
  refused({ module: dir }, `newWithFns: module ${JSON.stringify(dir)} is not a file`);
  refused({ module: "https://example.com/m.mjs" }, 'newWithFns: module "https://example.com/m.mjs": only file: and data: URLs can be loaded by the zygote');
  refused({ work: "work" }, 'newWithFns: work is the export name "work" but no module was given (pass a function, or a module)');
  refused({}, 'newWithFns: work is the export name "work" but no module was given (pass a function, or a module)');
  refused({ module: mod, work: "not a name" }, 'newWithFns: work: "not a name" is not a valid export name');
  refused({ module: mod, work: 42 }, "newWithFns: work must be an export name or a function, got number");
  refused({ work: Math.max }, "newWithFns: work is a built-in or bound function; its source cannot be sent to the zygote (pass a module instead)");
  refused({ work: (() => 0).bind(null) }, /work is a built-in or bound function/);
  refused({ work: class {} }, "newWithFns: work is a class, not a function");
});

test("fork and reduce misuse", async () => {
  const plain = new Sandbox({});
  await assert.rejects(plain.fork(1), { message: "fork: this sandbox was not made by Sandbox.newWithFns" });
  const sb = Sandbox.newWithFns({}, { work: () => 0 });
  await assert.rejects(sb.fork(0), { message: "fork: n must be a positive integer, got 0" });
  await assert.rejects(sb.fork(1.5), { message: "fork: n must be a positive integer, got 1.5" });
  await assert.rejects(plain.reduce(["/bin/true"], [{} as Sandbox]), { message: "reduce: clones must be an array of the Sandbox handles fork() returned" });
  await assert.rejects(plain.reduce([], []), { message: "cmd must be a non-empty array of strings (argv)" });
});

test("cloneUnit: a clone and what it starts form one unit; the zygote and others are unit 0", () => {
  // launcher 10 -> zygote 20 -> clones 30, 31; 30 -> 40 -> 50; orphan 60 re-parented to 10
  const parents = new Map([
    [20, 10],
    [30, 20],
    [31, 20],
    [40, 30],
    [50, 40],
    [60, 10],
  ]);
  const parentOf = (p: number): number | undefined => parents.get(p);
  assert.equal(cloneUnit(30, 20, parentOf), 30);
  assert.equal(cloneUnit(31, 20, parentOf), 31);
  assert.equal(cloneUnit(50, 20, parentOf), 30);
  assert.equal(cloneUnit(20, 20, parentOf), 0);
  assert.equal(cloneUnit(60, 20, parentOf), 0);
  assert.equal(cloneUnit(99, 20, parentOf), 0, "gone");
  assert.equal(cloneUnit(50, undefined, parentOf), 0, "no fork group: one unit");
});

test("forkMaxBuffer: 1 GiB over the call's 2n streams, at most a run's 100 MiB; an explicit bound as given", () => {
  assert.equal(FORK_OUTPUT_BUDGET, 2 ** 30);
  assert.equal(forkMaxBuffer(1, {}), 100 * 2 ** 20);
  assert.equal(forkMaxBuffer(5, {}), 100 * 2 ** 20, "1 GiB / 10 is above 100 MiB");
  assert.equal(forkMaxBuffer(6, {}), Math.floor(2 ** 30 / 12));
  assert.equal(forkMaxBuffer(64, {}), 8 * 2 ** 20);
  assert.equal(forkMaxBuffer(1000, {}), 536870);
  assert.equal(forkMaxBuffer(1000, { maxBuffer: 5 * 2 ** 20 }), 5 * 2 ** 20);
  assert.throws(() => forkMaxBuffer(1, { maxBuffer: 1.5 }), /^SandboxError: fork: maxBuffer 1\.5 must be a positive integer number of bytes/);
  assert.throws(() => forkMaxBuffer(1, { maxBuffer: "1M" }), /^SandboxError: fork: maxBuffer "1M" must be/);
  assert.throws(() => forkMaxBuffer(1, null), /^SandboxError: fork: options must be an object such as \{ maxBuffer: 1048576 \}, got null$/);
  assert.throws(() => forkMaxBuffer(1, [1]), /got an array$/);
});
