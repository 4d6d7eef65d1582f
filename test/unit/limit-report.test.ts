// How a limit that killed a process is reported: RunResult.limit and its JSON, the CLI's
// line, and the device numbers the memory-file watchdog compares with /proc/<pid>/maps.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { test } from "node:test";
import { limitMessage, sizeText } from "../../src/cli/report.js";
import type { Enforcement } from "../../src/plan/features.js";
import { RunResult } from "../../src/result.js";
import { devKey, emptyMapsLine, mapFilesName, parseMapsLine } from "../../src/supervise/memory-files.js";

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

/** The old reading of a maps line (a regex), as an oracle for the byte parser. */
const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)\s*(.*)$/;

function parsed(text: string): Record<string, number | string> | null {
  const buf = Buffer.from(text, "latin1");
  const out = emptyMapsLine();
  if (!parseMapsLine(buf, 0, buf.length, out)) return null;
  return { start: out.start, end: out.end, offset: out.offset, major: out.major, minor: out.minor, inode: buf.toString("latin1", out.inodeAt, out.inodeEnd), path: buf.toString("latin1", out.pathAt) };
}

function byRegex(text: string): Record<string, number | string> | null {
  const m = MAPS_LINE.exec(text);
  if (m === null) return null;
  return { start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), offset: parseInt(m[3]!, 16), major: parseInt(m[4]!, 16), minor: parseInt(m[5]!, 16), inode: m[6]!, path: m[7]! };
}

test("parseMapsLine reads every line of this process's maps as the regex it replaced did, and lines that are not maps lines as none", () => {
  const lines = readFileSync("/proc/self/maps", "latin1").split("\n").filter((l) => l !== "");
  assert.ok(lines.length > 10);
  for (const l of lines) assert.deepEqual(parsed(l), byRegex(l), l);
  for (const l of [
    "00400000-00452000 r-xp 00000000 fd:01 1234 /usr/bin/x",
    "7f12a0000000-7f12a0021000 rw-s 00001000 00:01 98765                      /dev/zero (deleted)",
    "7f12a0000000-7f12a0021000 rw-s 00000000 00:01 5                          /SYSV00000000 (deleted)",
    "7f12a0000000-7f12a0021000 rw-s 00000000 00:1a 77                         /tmp/a file with  spaces (deleted)",
    "7ffd1000-7ffd2000 rw-p 00000000 00:00 0 ",
    "7ffd1000-7ffd2000 rw-p 00000000 00:00 0",
    // Page multiples above 2^53 (user space reaches 2^56 with five-level page tables) are
    // exact as numbers: the name made from them is the one written.
    "fffffffffffff000-ffffffffffffe000 rw-s fffffffffffff000 00:01 7 /dev/zero (deleted)",
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
  ]) assert.deepEqual(parsed(l), byRegex(l), l);
  const high = parsed("00fffffffffff000-0100000000001000 rw-s 00000000 00:01 7 /dev/zero (deleted)")!;
  assert.equal(mapFilesName(high.start as number, high.end as number), "fffffffffff000-100000000001000");
  for (const l of ["", "Rss:                   4 kB", "VmFlags: rd wr mr mw me ac sd", "7ffd1000 rw-p 00000000 00:00 0", "7ffd1000-7ffd2000 rw-p 0 00:00 x", "7ffd1000-7ffd2000 rw-p 00000000 0000 0"]) {
    assert.equal(parsed(l), null, l);
    assert.equal(byRegex(l), null, l);
  }
});

test("mapFilesName: a mapping's addresses as map_files names it, without padding zeros, checked against this process's own", () => {
  assert.equal(mapFilesName(0x400000, 0x452000), "400000-452000");
  assert.equal(mapFilesName(0x400a000, 0x40aa000), "400a000-40aa000");
  assert.equal(mapFilesName(0x7f12a0000000, 0x7f12a0021000), "7f12a0000000-7f12a0021000");
  assert.equal(mapFilesName(0, 0x1000), "0-1000");
  // Every mapping of this process's maps that maps a file (an inode), as parseMapsLine reads
  // it, names an entry of its map_files (which lists no anonymous mapping).
  let names: Set<string>;
  try {
    names = new Set(readdirSync("/proc/self/map_files"));
  } catch {
    return; // not listable here: the fixed cases above stand
  }
  const files = readFileSync("/proc/self/maps", "latin1").split("\n").map(parsed).filter((p) => p !== null && p.inode !== "0");
  assert.ok(files.length > 0, "this process maps files (node, libc)");
  const missing = files.map((p) => mapFilesName(p!.start as number, p!.end as number)).filter((n) => !names.has(n));
  assert.deepEqual(missing, []);
});
