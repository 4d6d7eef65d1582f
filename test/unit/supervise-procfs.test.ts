// The pure parts of the /proc and identity supervision: directory records, /proc status
// and stat parsing, procfs mount discovery, and the virtual files' contents.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseProcMounts } from "../../src/kernel/mounts.js";
import { filterDirents } from "../../src/supervise/dirents.js";
import { parseStatus } from "../../src/supervise/handlers/procfs-open.js";
import { parentFromStat } from "../../src/supervise/members.js";
import { cpuListText, hostnameText, trimCpuinfo } from "../../src/supervise/virtual-content.js";

/** One getdents64 record (legacy: one getdents record), 8-byte aligned. */
function record(name: string, legacy: boolean): Buffer {
  const nameAt = legacy ? 18 : 19;
  const len = Math.ceil((nameAt + name.length + 1 + (legacy ? 1 : 0)) / 8) * 8;
  const b = Buffer.alloc(len);
  b.writeBigUInt64LE(7n, 0);
  b.writeBigInt64LE(BigInt(len), 8);
  b.writeUInt16LE(len, 16);
  if (!legacy) b[18] = 4;
  b.write(name, nameAt, "latin1");
  if (legacy) b[len - 1] = 4;
  return b;
}

for (const legacy of [false, true]) {
  test(`filterDirents keeps the accepted records byte for byte (${legacy ? "getdents" : "getdents64"})`, () => {
    const names = [".", "..", "1", "acpi", "4242", "self", "77"];
    const recs = names.map((n) => record(n, legacy));
    const kept = filterDirents(Buffer.concat(recs), legacy, (n) => !/^\d+$/.test(n) || n === "4242");
    assert.deepEqual(kept, Buffer.concat([recs[0]!, recs[1]!, recs[3]!, recs[4]!, recs[5]!]));
  });
}

test("filterDirents stops at a record that runs past the buffer", () => {
  const good = record("a", false);
  const bad = record("b", false);
  bad.writeUInt16LE(200, 16);
  assert.deepEqual(filterDirents(Buffer.concat([good, bad]), false, () => true), good);
  assert.equal(filterDirents(Buffer.alloc(0), false, () => true).length, 0);
});

const STATUS = "Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t120\nNgid:\t0\nPid:\t121\nPPid:\t99\n" +
  "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t27 1000 \nCapEff:\t0000000000000000\n";

test("parseStatus reads the thread group, the parent and the credential lines", () => {
  assert.deepEqual(parseStatus(STATUS), {
    tgid: 120, ppid: 99, ids: "1000\t1000\t1000\t1000|1000\t1000\t1000\t1000|27 1000", capEff: 0n,
  });
  assert.equal(parseStatus("Name:\tx\n"), null);
  assert.equal(parseStatus(STATUS.replace("CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff"))!.capEff, 0x1ffffffffffn);
  assert.equal(parseStatus(STATUS.replace("CapEff:\t0000000000000000\n", ""))!.capEff, -1n, "unknown capabilities are never trusted");
});

test("parentFromStat reads the parent after a comm holding ') '", () => {
  assert.equal(parentFromStat("42 (a) b) S 17 42 42 0 -1"), 17);
  assert.equal(parentFromStat("1 (init) S 0 1 1"), 0);
  assert.equal(parentFromStat("garbage"), undefined);
});

test("parseProcMounts finds every proc mount, unescaping the mount point", () => {
  const info = [
    "22 27 0:21 / /proc rw,relatime - proc proc rw",
    "23 27 0:22 / /sys rw - sysfs sysfs rw",
    "40 27 0:21 / /mnt/my\\040proc rw - proc proc rw",
    "41 22 0:30 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw",
    "42 27 0:21 / /proc rw shared:1 - proc proc rw",
  ].join("\n");
  assert.deepEqual(parseProcMounts(info), ["/proc", "/mnt/my proc"]);
});

test("hostname and CPU list texts", () => {
  assert.equal(hostnameText("box"), "box\n");
  assert.equal(cpuListText(1), "0\n");
  assert.equal(cpuListText(4), "0-3\n");
});

test("trimCpuinfo keeps the first n processors and caps siblings and cpu cores", () => {
  const block = (i: number): string => `processor\t: ${i}\nmodel name\t: X\nsiblings\t: 4\ncpu cores\t: 2\nflags\t\t: fpu\n`;
  const host = [0, 1, 2, 3].map(block).join("\n") + "\n";
  const one = trimCpuinfo(host, 1);
  assert.equal(one, "processor\t: 0\nmodel name\t: X\nsiblings\t: 1\ncpu cores\t: 1\nflags\t\t: fpu\n\n");
  const three = trimCpuinfo(host, 3);
  assert.equal((three.match(/^processor/gm) ?? []).length, 3);
  assert.match(three, /^siblings\t: 3$/m);
  assert.match(three, /^cpu cores\t: 2$/m);
});
