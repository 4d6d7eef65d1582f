// The /proc parsers a checkpoint relies on, on text and bytes as the kernel writes them.

import assert from "node:assert/strict";
import { test } from "node:test";
import { auxvPageSize, parseFdinfo, parseMaps, parseStat, parseStatus, privatePageRuns } from "../../src/checkpoint/procfs.js";
import { parseProcTimers } from "../../src/checkpoint/timers.js";

test("maps: addresses as bigints, file offsets, devices, paths with spaces, anonymous and special mappings", () => {
  const text = [
    "55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1318953                    /usr/bin/sl eep",
    "55d0c0c05000-55d0c0c06000 rw-p 00004000 fd:01 1318953                    /usr/bin/sl eep",
    "55d0c1a71000-55d0c1a92000 rw-p 00000000 00:00 0                          [heap]",
    "7f1c2c000000-7f1c2c021000 rw-p 00000000 00:00 0 ",
    "7f1c2d000000-7f1c2d001000 rw-s 00000000 00:05 2049                       /memfd:x (deleted)",
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
    "",
  ].join("\n");
  const maps = parseMaps(text);
  assert.equal(maps.length, 6);
  assert.deepEqual(maps[1], { start: 0x55d0c0c05000n, end: 0x55d0c0c06000n, perms: "rw-p", offset: 0x4000, device: "fd:01", inode: 1318953, path: "/usr/bin/sl eep" });
  assert.equal(maps[2]!.path, "[heap]");
  assert.equal(maps[3]!.path, "");
  assert.equal(maps[4]!.path, "/memfd:x (deleted)");
  assert.equal(maps[5]!.start, 0xffffffffff600000n);
  assert.throws(() => parseMaps("garbage line\n"), /maps: cannot parse line "garbage line"/);
});

test("fdinfo: offset, octal flags, mount id", () => {
  assert.deepEqual(parseFdinfo("pos:\t4096\nflags:\t02100001\nmnt_id:\t24\nino:\t77\n"), { pos: 4096, flags: 0o2100001, mntId: 24 });
  assert.deepEqual(parseFdinfo("pos:\t0\nflags:\t02\n"), { pos: 0, flags: 2, mntId: -1 });
  assert.throws(() => parseFdinfo("ino:\t1\n"), /fdinfo: no pos or flags/);
});

test("stat: a command name holding ') ' does not shift the fields", () => {
  assert.deepEqual(parseStat("4242 (evil) S 1 2) R 17 4242 4242 0 -1 4194560 ..."), { comm: "evil) S 1 2", state: "R", ppid: 17, pgid: 4242, sid: 4242 });
  assert.throws(() => parseStat("nonsense"), /stat: cannot parse/);
});

test("status: name and value per line", () => {
  const s = parseStatus("Name:\tsleep\nUmask:\t0022\nSigBlk:\t0000000000000000\nTracerPid:\t0\n");
  assert.equal(s.get("Umask"), "0022");
  assert.equal(s.get("TracerPid"), "0");
  assert.equal(s.get("Name"), "sleep");
});

test("auxv: AT_PAGESZ, or undefined when absent or cut off at AT_NULL", () => {
  const entry = (type: number, value: number): Buffer => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(BigInt(type), 0);
    b.writeBigUInt64LE(BigInt(value), 8);
    return b;
  };
  assert.equal(auxvPageSize(Buffer.concat([entry(33, 0x7fff), entry(6, 16384), entry(0, 0)])), 16384);
  assert.equal(auxvPageSize(Buffer.concat([entry(33, 1), entry(0, 0), entry(6, 4096)])), undefined);
  assert.equal(auxvPageSize(Buffer.alloc(0)), undefined);
});

test("pagemap: runs of present anonymous or swapped pages; file pages and holes end a run", () => {
  const PRESENT = 0x80000000;
  const SWAPPED = 0x40000000;
  const FILE = 0x20000000;
  const flags = [PRESENT, PRESENT, 0, PRESENT | FILE, SWAPPED, PRESENT, 0, PRESENT];
  const pm = Buffer.alloc(flags.length * 8);
  flags.forEach((f, i) => pm.writeUInt32LE(f >>> 0, i * 8 + 4));
  assert.deepEqual(privatePageRuns(pm, 1000), [
    [1000, 2],
    [1004, 2],
    [1007, 1],
  ]);
  assert.deepEqual(privatePageRuns(Buffer.alloc(0), 0), []);
});

test("timers: /proc/<pid>/timers blocks as the kernel prints them (signal or thread target, SIGEV_NONE, negative CPU clocks)", () => {
  const text = [
    "ID: 1",
    "signal: 10/0000000000005157",
    "notify: signal/pid.812",
    "ClockID: 1",
    "ID: 4",
    "signal: 34/00007f1c2c000010",
    "notify: signal/tid.813",
    "ClockID: 0",
    "ID: 7",
    "signal: 0/0000000000000000",
    "notify: none/pid.812",
    "ClockID: -6",
    "",
  ].join("\n");
  assert.deepEqual(parseProcTimers(text), [
    { id: 1, clock: 1, signo: 10, sigValue: 0x5157n, notify: 0, tid: 0 },
    { id: 4, clock: 0, signo: 34, sigValue: 0x7f1c2c000010n, notify: 4, tid: 813 },
    { id: 7, clock: -6, signo: 0, sigValue: 0n, notify: 1, tid: 0 },
  ]);
  assert.deepEqual(parseProcTimers(""), []);
  assert.throws(() => parseProcTimers("ID: 1\nsignal: x\n"), /unexpected \/proc timers block/);
});
