// How a limit that killed a process is reported: RunResult.limit and its JSON, the CLI's
// line, and the device numbers the memory-file watchdog compares with /proc/<pid>/maps.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { test } from "node:test";
import { limitMessage, sizeText } from "../../src/cli/report.js";
import type { Enforcement } from "../../src/plan/features.js";
import { RunResult } from "../../src/result.js";
import { devKey, mapFilesName } from "../../src/supervise/memory-files.js";

const base = {
  status: "signaled" as const, exitCode: null, signal: "SIGKILL", stdout: null, stderr: null, durationMs: 1,
  enforcement: {} as Enforcement, pid: 42,
};

test("RunResult.limit: the limit that killed, frozen, in toJSON; null when none did", () => {
  const r = new RunResult({ ...base, limit: { kind: "memory", field: "maxMemory", cap: 64 * 2 ** 20, used: 70_000_000 } });
  assert.deepEqual(r.limit, { kind: "memory", field: "maxMemory", cap: 67108864, used: 70_000_000 });
  assert.ok(Object.isFrozen(r.limit));
  assert.deepEqual(JSON.parse(JSON.stringify(r)).limit, { kind: "memory", field: "maxMemory", cap: 67108864, used: 70_000_000 });
  assert.equal(new RunResult(base).limit, null);
  assert.equal(JSON.parse(JSON.stringify(new RunResult(base))).limit, null);
});

test("the CLI's line names the limit, its cap and the policy field", () => {
  assert.equal(limitMessage({ kind: "memory", field: "maxMemory", cap: 64 * 2 ** 20 }), "sandlock: killed: memory limit 64 MiB exceeded (maxMemory)");
  assert.equal(limitMessage({ kind: "memory", field: "maxMemory", cap: 1.5 * 2 ** 30 }), "sandlock: killed: memory limit 1536 MiB exceeded (maxMemory)");
  assert.equal(limitMessage({ kind: "cpu", field: "maxCpu", cap: 10, reason: "maxCpu: the launcher could not measure" }), "sandlock: killed: cpu limit 10% could not be enforced (maxCpu): maxCpu: the launcher could not measure");
  assert.equal(limitMessage({ kind: "cpu", field: "maxCpu", cap: 10 }), "sandlock: killed: cpu limit 10% exceeded (maxCpu)");
  assert.deepEqual([sizeText(2 ** 30), sizeText(4096), sizeText(1000)], ["1 GiB", "4 KiB", "1000 bytes"]);
});

test("devKey decodes stat's device number into the major:minor of /proc/<pid>/maps", () => {
  assert.equal(devKey(0x0801n), "8:1");
  // glibc's encoding: major bits 8-19 and 44+, minor bits 0-7 and 20-43.
  assert.equal(devKey((0x1000n << 32n) | (0x234n << 8n) | (0x12300n << 12n) | 0x45n), `${0x1234}:${0x12345}`);
  // The root file system's device, as mountinfo spells it.
  const line = /^\d+ \d+ (\d+:\d+) \/ \/ /m.exec(readFileSync("/proc/self/mountinfo", "utf8"));
  if (line) assert.equal(devKey(statSync("/", { bigint: true }).dev), line[1]);
});

test("mapFilesName: a maps range as map_files names it, without the padding zeros, checked against this process's own", () => {
  assert.equal(mapFilesName("00400000-00452000"), "400000-452000");
  assert.equal(mapFilesName("0400a000-040aa000"), "400a000-40aa000");
  assert.equal(mapFilesName("7f12a0000000-7f12a0021000"), "7f12a0000000-7f12a0021000");
  assert.equal(mapFilesName("00000000-00001000"), "0-1000");
  // Every range of this process's maps that maps a file (an inode) names an entry of its
  // map_files (which lists no anonymous mapping).
  let names: Set<string>;
  try {
    names = new Set(readdirSync("/proc/self/map_files"));
  } catch {
    return; // not listable here: the fixed cases above stand
  }
  const ranges = readFileSync("/proc/self/maps", "latin1")
    .split("\n")
    .map((l) => l.split(/ +/))
    .filter((f) => f.length > 4 && f[4] !== "0")
    .map((f) => f[0]!);
  assert.ok(ranges.length > 0, "this process maps files (node, libc)");
  const missing = ranges.filter((r) => !names.has(mapFilesName(r)));
  assert.deepEqual(missing, []);
});
