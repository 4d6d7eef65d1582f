// fsDenied's start-time walk of a denied directory (plan/deny.ts): at most DENIED_SCAN_MAX
// entries are looked at for hard links; one more refuses the policy naming the directory,
// and a hard link among the entries the walk may look at is still found.
// (An integration file, not a unit one: it makes 100,000 files, about 20 s on a loaded VM.)

import assert from "node:assert/strict";
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DENIED_SCAN_MAX, planDenied } from "../../src/plan/deny.js";
import { PolicyError } from "../../src/errors.js";

test("fsDenied: a directory of exactly DENIED_SCAN_MAX entries is walked (a hard link in it is found); one more entry is refused by name", () => {
  const base = mkdtempSync("/tmp/sandlock-deny-scan-");
  try {
    const d = join(base, "big"), sub = join(d, "sub");
    mkdirSync(sub, { recursive: true });
    // DENIED_SCAN_MAX entries: "sub" and the files beneath it (nested, so the walk descends).
    for (let i = 0; i < DENIED_SCAN_MAX - 1; i++) closeSync(openSync(join(sub, `f${i}`), "w"));
    const grants = [{ path: base, isDir: true, writable: true }];
    assert.deepEqual(planDenied([d], grants), [{ path: d, isDir: true }]);
    // A hard link to one of them from outside the denied directory: still seen at the limit.
    linkSync(join(sub, "f0"), join(base, "other-name"));
    assert.throws(() => planDenied([d], grants), (e: unknown) => e instanceof PolicyError && /holds ".*\/big\/sub\/f0", which has another name \(a hard link\)/.test(e.message));
    unlinkSync(join(base, "other-name"));
    closeSync(openSync(join(sub, "one-more"), "w"));
    assert.throws(() => planDenied([d], grants), (e: unknown) => e instanceof PolicyError && e.message === `fsDenied: ${JSON.stringify(d)} holds more than ${DENIED_SCAN_MAX} entries; each is looked at for hard links at every start, so deny a smaller directory`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
