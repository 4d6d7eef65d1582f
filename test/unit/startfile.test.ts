// native/startfile.c: what bin/sandlock.cjs reads its bundle and code cache through. The
// answer is the file's bytes exactly (as a latin1 string or an ArrayBuffer), or undefined
// whenever the bin must read the ordinary way; it never blocks on a FIFO.

import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { native } from "../../src/confine/native.js";
import { ROOT } from "../helpers/system.js";

function withFd<T>(file: string, flags: number, fn: (fd: number) => T): T {
  const fd = openSync(file, flags);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

test("startFile: the bundle as a string and as an ArrayBuffer, byte for byte", () => {
  const bundle = join(ROOT, "dist", "src", "cli", "sandlock.bundle.cjs");
  const text = withFd(bundle, constants.O_RDONLY, (fd) => native().startFile(fd, true));
  assert.equal(typeof text, "string");
  assert.ok(text === readFileSync(bundle, "latin1"), "the same text as readFileSync gives");
  const ab = withFd(bundle, constants.O_RDONLY, (fd) => native().startFile(fd, false));
  assert.ok(ab instanceof ArrayBuffer);
  assert.ok(Buffer.from(ab).equals(readFileSync(bundle)));
});

test("startFile: every byte value survives, at sizes around a page", () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-startfile-"));
  try {
    for (const size of [1, 4095, 4096, 4097, 70_000]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 131 + 7) & 0xff;
      const file = join(dir, `f${size}`);
      writeFileSync(file, data);
      const ab = withFd(file, constants.O_RDONLY, (fd) => native().startFile(fd, false));
      assert.ok(ab instanceof ArrayBuffer && Buffer.from(ab).equals(data), `size ${size}`);
      const s = withFd(file, constants.O_RDONLY, (fd) => native().startFile(fd, true));
      assert.equal(s, data.toString("latin1"), `size ${size}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("startFile: undefined for an empty file, a directory and a FIFO (not read, not waited on)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-startfile-"));
  try {
    writeFileSync(join(dir, "empty"), "");
    assert.equal(withFd(join(dir, "empty"), constants.O_RDONLY, (fd) => native().startFile(fd, true)), undefined);
    assert.equal(withFd(dir, constants.O_RDONLY | constants.O_DIRECTORY, (fd) => native().startFile(fd, false)), undefined);
    execFileSync("mkfifo", [join(dir, "fifo")]);
    assert.equal(withFd(join(dir, "fifo"), constants.O_RDONLY | constants.O_NONBLOCK, (fd) => native().startFile(fd, true)), undefined);
    // Control: a file with content is served.
    writeFileSync(join(dir, "one"), "x");
    assert.equal(withFd(join(dir, "one"), constants.O_RDONLY, (fd) => native().startFile(fd, true)), "x");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Overwrites the file's first bytes in place (same size, no truncation). */
function overwriteInPlace(file: string, text: string): void {
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, text, 0, "latin1");
  } finally {
    closeSync(fd);
  }
}

test("settleStartFiles: a mapped string stops depending on its file (rewritten in place, then truncated)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-startfile-"));
  try {
    native().settleStartFiles(); // strings of the tests above: their slots free for this one
    const file = join(dir, "bundle");
    const text = "a".repeat(3 * 4096 + 100);
    writeFileSync(file, text);
    const s = withFd(file, constants.O_RDONLY, (fd) => native().startFile(fd, true)) as string;
    assert.equal(s, text);
    assert.deepEqual(native().settleStartFiles(), [1, 0], "the file is unchanged: settled");
    overwriteInPlace(file, "b".repeat(5000));
    // Truncated: a page of a file mapping past the end would be SIGBUS when read.
    truncateSync(file, 0);
    assert.ok(s === text, "the string keeps the bytes it had when settled");
    assert.deepEqual(native().settleStartFiles(), [0, 0], "nothing left to settle");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("settleStartFiles: a string whose file changed in place before settling is left as it is, and said", () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-startfile-"));
  try {
    native().settleStartFiles();
    const file = join(dir, "bundle");
    writeFileSync(file, "a".repeat(9000));
    const s = withFd(file, constants.O_RDONLY, (fd) => native().startFile(fd, true)) as string;
    overwriteInPlace(file, "bbbb");
    // What the bin's settling is for: until then the string is the file's pages.
    assert.equal(s.slice(0, 6), "bbbbaa", "a mapping shows the file as it is now");
    assert.deepEqual(native().settleStartFiles(), [0, 1], "changed since mapped: not copied");
    // Replaced whole (a new inode, as npm and scripts/bundle-cli.mjs do): the mapping keeps
    // the file it was made from.
    const other = join(dir, "other");
    writeFileSync(other, "c".repeat(9000));
    const t = withFd(other, constants.O_RDONLY, (fd) => native().startFile(fd, true)) as string;
    writeFileSync(join(dir, "next"), "d".repeat(9000));
    execFileSync("mv", [join(dir, "next"), other]);
    assert.ok(t === "c".repeat(9000), "a rename over the file leaves the mapping as it was");
    assert.deepEqual(native().settleStartFiles(), [1, 0], "and it settles");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("startFile: a wrong argument is a TypeError that says which", () => {
  assert.throws(() => (native().startFile as (fd: unknown, s: unknown) => unknown)("x", true), /argument 0 must be an integer/);
  assert.throws(() => (native().startFile as (fd: unknown, s: unknown) => unknown)(0, "yes"), /argument 1 must be a boolean/);
});
