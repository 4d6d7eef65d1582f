// scripts/failures-reporter.mjs: the line npm test prints again at its end for each failed
// test (CI's log is read from its end) says what differed, not the start of the diff.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../helpers/system.js";

type Reporter = (source: AsyncIterable<object>) => AsyncGenerator<string>;
const { default: failures } = (await import(pathToFileURL(join(ROOT, "scripts", "failures-reporter.mjs")).href)) as { default: Reporter };

/** The error an assertion throws, as the test runner wraps it (its cause). */
function failed(name: string, check: () => void, extra: object = {}): object {
  try {
    check();
  } catch (e) {
    const wrapped = Object.assign(new Error("test failed"), { cause: e });
    return { type: "test:fail", data: { file: "/x/a.test.js", name, details: { error: wrapped }, ...extra } };
  }
  throw new Error(`${name}: the check did not fail`);
}

async function lines(events: object[]): Promise<{ file: string; name: string; message: string }[]> {
  const out: { file: string; name: string; message: string }[] = [];
  for await (const line of failures((async function* () { yield* events; })())) out.push(JSON.parse(line));
  return out;
}

test("failures reporter: an assertion's diff is reported by its differing lines, other messages by their first four lines, todo and passed tests not at all", async () => {
  const got = await lines([
    failed("deep", () => assert.deepEqual({ exitCode: 0, lines: ["second OK", "fired 4"], a: 1, b: 2 }, { exitCode: 0, lines: ["second OK", "fired 3"], a: 1, b: 2 })),
    failed("plain", () => assert.ok(false, "one\ntwo\nthree\nfour\nfive")),
    failed("todo", () => assert.ok(false), { todo: "later" }),
    { type: "test:pass", data: { file: "/x/a.test.js", name: "passed", details: {} } },
  ]);
  assert.deepEqual(got.map((l) => l.name), ["deep", "plain"]);
  assert.equal(got[0]!.message, "Expected values to be strictly deep-equal: | +     'fired 4' | -     'fired 3'");
  assert.equal(got[1]!.message, "one | two | three | four");
  assert.equal(got[0]!.file, "/x/a.test.js");
});

test("failures reporter: a failure registered by a helper (scriptCase, securityCase) names the test file and line its stack shows", async () => {
  const inHelper = (stack: string): object => ({
    type: "test:fail",
    data: { file: "/x/dist/test/helpers/harness.js", name: "case [root]", details: { error: Object.assign(new Error("test failed"), { cause: Object.assign(new Error("no"), { stack }) }) } },
  });
  const got = await lines([
    inHelper("AssertionError: no\n    at check (file:///x/dist/test/integration/restore.test.js:140:12)\n    at TestContext.<anonymous> (file:///x/dist/test/helpers/harness.js:175:5)"),
    inHelper("AssertionError: no\n    at file:///x/dist/test/helpers/memory-checks.js:13:16\n    at TestContext.<anonymous> (file:///x/dist/test/helpers/harness.js:104:61)"),
  ]);
  assert.deepEqual(got.map((l) => l.file), ["/x/dist/test/integration/restore.test.js:140", "/x/dist/test/helpers/harness.js"]);
});
