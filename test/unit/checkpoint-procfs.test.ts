// The /proc parsers a checkpoint relies on, on text and bytes as the kernel writes them.

import assert from "node:assert/strict";
import { test } from "node:test";
import { auxvPageSize, parseMaps, parseMapsInTurns, parseStat, parseStatus, privatePageRuns } from "../../src/checkpoint/procfs.js";
import { Turns } from "../../src/checkpoint/turns.js";
import { SLICE_MS } from "../../src/supervise/slices.js";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { native } from "../../src/confine/native.js";
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

test("maps in turns: the same entries as parseMaps, with the event loop served while 60,000 lines are parsed", async () => {
  const line = (i: number): string => `7f${i.toString(16).padStart(6, "0")}000-7f${i.toString(16).padStart(6, "0")}fff r--p 00000000 fd:01 42                         /etc/pass wd`;
  const text = [...Array.from({ length: 60000 }, (_, i) => line(i)), "55d0c1a71000-55d0c1a92000 rw-p 00000000 00:00 0  [heap]"].join("\n");
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const turns = new Turns();
  const t0 = performance.now();
  const got = await parseMapsInTurns(text, turns);
  const took = performance.now() - t0;
  clearInterval(timer);
  assert.deepEqual(got, parseMaps(text));
  assert.equal(got.length, 60001);
  assert.equal(got[59999]!.path, "/etc/pass wd");
  assert.equal(got[60000]!.path, "[heap]", "the last line, without a line break after it");
  // The loop ran timers during the parse whenever it took longer than two slices (it
  // takes some 60-100 ms here): parsed in one step, no timer could run.
  assert.ok(took < 2 * SLICE_MS || ticks > 0, `timer ticks during a parse of ${Math.round(took)} ms: ${ticks}`);
  await assert.rejects(parseMapsInTurns("garbage line\n", turns), /maps: cannot parse line "garbage line"/);
});

test("fdinfo heads, read on the pool: offset (past 4 GiB too), octal flags with O_CLOEXEC, mount id; a closed descriptor is ENOENT", async () => {
  // A process holding a file at offset 5 GiB + 3 (lseek past the end is allowed), /dev/null
  // opened O_APPEND without O_CLOEXEC, and an epoll file watching a pipe.
  const program = `
import os, select, sys
f = os.open("/etc/hostname", os.O_RDONLY | os.O_CLOEXEC)
os.lseek(f, (5 << 30) + 3, os.SEEK_SET)
n = os.open("/dev/null", os.O_WRONLY | os.O_APPEND)
os.set_inheritable(n, True)
r, w = os.pipe()
ep = select.epoll()
ep.register(r, select.EPOLLIN)
print(f, n, ep.fileno(), flush=True)
sys.stdin.read()
`;
  const child = spawn("/usr/bin/python3", ["-c", program], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (out += d));
  while (!out.endsWith("\n")) await once(child.stdout!, "data");
  const [file, nul, epoll] = out.trim().split(" ").map(Number) as [number, number, number];
  try {
    const pid = child.pid!;
    const closed = 900;
    const [b, cpuUs] = await native().fdinfoHeadsAsync(pid, Int32Array.from([file, nul, epoll, closed]));
    assert.ok(Buffer.isBuffer(b), `fdinfoHeadsAsync: ${String(b)}`);
    assert.ok(cpuUs >= 0);
    const heads = [];
    for (let at = 0; at < b.length; at += 24) {
      heads.push({ fd: b.readUInt32LE(at), err: b.readUInt32LE(at + 4), flags: b.readUInt32LE(at + 8), mntId: b.readInt32LE(at + 12), pos: b.readUInt32LE(at + 16) + b.readUInt32LE(at + 20) * 2 ** 32 });
    }
    // What the text says, field by field.
    const fromText = (fd: number) => {
      const text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "latin1");
      const field = (name: string): string => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(text)![1]!;
      return { fd, err: 0, flags: Number.parseInt(field("flags"), 8), mntId: Number(field("mnt_id")), pos: Number(field("pos")) };
    };
    assert.deepEqual(heads.slice(0, 3), [fromText(file), fromText(nul), fromText(epoll)]);
    assert.equal(heads[0]!.pos, 5 * 2 ** 30 + 3);
    assert.equal(heads[0]!.flags & 0o2000000, 0o2000000, "O_CLOEXEC");
    assert.equal(heads[1]!.flags & 0o2000000, 0, "no O_CLOEXEC");
    assert.equal(heads[1]!.flags & 0o2000, 0o2000, "O_APPEND");
    assert.deepEqual(heads[3], { fd: closed, err: 2, flags: 0, mntId: -1, pos: 0 });
  } finally {
    child.stdin!.end();
    await once(child, "exit");
  }
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
