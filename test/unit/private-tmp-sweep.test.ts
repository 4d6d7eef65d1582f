// sweepPrivateTmps's bound: one sweep looks at 64 candidates and removes 8 directories at
// most (it runs on a run's way out); the rest are left to the next sweep.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { sweepPrivateTmps } from "../../src/confine/private-tmp.js";

test("sweepPrivateTmps removes at most 8 directories of gone processes a sweep; the next sweep goes on", () => {
  const dir = mkdtempSync("/tmp/sandlock-sweep-");
  try {
    const ns = /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))![1];
    // This process's pid with another start time: a process that is gone (its pid reused).
    for (let i = 0; i < 10; i++) mkdirSync(join(dir, `sandlock-tmp-${ns}.${process.pid}.1-AAAAA${i}`));
    assert.equal(sweepPrivateTmps(dir), 8);
    assert.equal(readdirSync(dir).length, 2);
    assert.equal(sweepPrivateTmps(dir), 2);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
