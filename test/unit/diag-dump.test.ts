// The host's socket dumps read in parts (native diagDumpStart/diagDumpPart, which the memory
// watchdog's PartsDump uses): against a real process holding 3,000 unix socket pairs, a dump
// read in parts of 1 us (one receive each) comes in many parts and lists every one of its
// sockets, as the dump read in one call does; the inet dumps read the same way are whole
// records; a family and protocol that name no dump are refused.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { once } from "node:events";
import { native } from "../../src/confine/native.js";
import { fdObjectParts } from "../../src/supervise/fd-objects.js";

const PAIRS = 3000;
/** Words of one unix record before its pending connections (native/kmem.c unix_each). */
const UNIX_WORDS = 9;

/** The inodes of the unix records in `buf` (unixSockets's format). */
function unixInodes(buf: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + UNIX_WORDS * 4 <= buf.length; at += (UNIX_WORDS + buf.readUInt32LE(at + 32)) * 4) out.push(buf.readUInt32LE(at));
  return out;
}

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** Reads the dump of (family, protocol) in parts of `budgetUs`: its records and how many
 * parts it took. */
function dumpInParts(family: number, protocol: number, budgetUs: number): { records: Buffer; parts: number } {
  const fd = native().diagDumpStart(family, protocol);
  assert.ok(fd >= 0, `diagDumpStart(${family}, ${protocol}): ${fd}`);
  const bufs: Buffer[] = [];
  try {
    for (;;) {
      const part = native().diagDumpPart(fd, family, budgetUs);
      assert.ok(typeof part !== "number", `diagDumpPart: ${String(part)}`);
      bufs.push(part.subarray(4));
      if (part.readUInt32LE(0) === 1) return { records: Buffer.concat(bufs), parts: bufs.length };
    }
  } finally {
    closeSync(fd);
  }
}

test("a unix dump read in parts lists every socket a process holds, as one read does", async () => {
  const program = `
import socket, sys
pairs = [socket.socketpair() for _ in range(${PAIRS})]
print("ready", flush=True)
sys.stdin.read()
`;
  const child = spawn("/usr/bin/python3", ["-c", program], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    await once(child.stdout!, "data");
    const held: number[] = [];
    const walk = fdObjectParts(child.pid!, ["socket"], (_kind, inode) => void held.push(inode));
    while (walk.next().done !== true);
    assert.ok(held.length >= 2 * PAIRS, `${held.length} sockets held`);
    const { records, parts } = dumpInParts(AF_UNIX, 0, 1);
    assert.ok(parts > 10, `${parts} parts`);
    const inParts = new Set(unixInodes(records));
    const whole = native().unixSockets(0);
    assert.ok(typeof whole !== "number");
    const inOne = new Set(unixInodes(whole));
    assert.deepEqual(held.filter((i) => !inParts.has(i)), [], "sockets missing from the dump read in parts");
    assert.deepEqual(held.filter((i) => !inOne.has(i)), [], "control: sockets missing from the dump read at once");
  } finally {
    child.stdin!.end();
    await once(child, "exit");
  }
});

test("the inet dumps read in parts are whole records; any other dump is refused", () => {
  for (const family of [AF_INET, AF_INET6]) {
    for (const protocol of [IPPROTO_TCP, IPPROTO_UDP]) {
      const { records } = dumpInParts(family, protocol, 1);
      assert.equal(records.length % 24, 0, `${family}/${protocol}: ${records.length} bytes`);
    }
  }
  // EINVAL: a protocol the dumps do not take, a family that is not one of theirs.
  assert.equal(native().diagDumpStart(AF_INET, 99), -22);
  assert.equal(native().diagDumpStart(AF_UNIX, IPPROTO_TCP), -22);
  assert.equal(native().diagDumpStart(5, 0), -22);
});
