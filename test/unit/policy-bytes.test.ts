// Byte sizes: binary K/M/G/T suffixes, case, the optional B/iB, and every rejected form.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyError } from "../../src/errors.js";
import { formatBytes, parseByteSize, MAX_BYTE_SIZE } from "../../src/policy/index.js";

function rejects(value: unknown, message: string): void {
  assert.throws(() => parseByteSize("maxMemory", value), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.code, "POLICY_INVALID");
    assert.equal(e.field, "maxMemory");
    assert.equal(e.value, value);
    assert.equal(e.message, message);
    return true;
  });
}

test("suffixes are binary multiples, case-insensitive", () => {
  const cases: [unknown, bigint][] = [
    ["0", 0n], ["512", 512n], ["1K", 1024n], ["1k", 1024n], ["512M", 512n << 20n], ["512m", 512n << 20n],
    ["2G", 2n << 30n], ["2g", 2n << 30n], ["1T", 1n << 40n], ["100B", 100n], ["100b", 100n],
    ["10KB", 10240n], ["10kib", 10240n], ["1GiB", 1n << 30n], ["007M", 7n << 20n],
    [0, 0n], [4096, 4096n], [Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)],
    [5n, 5n], [MAX_BYTE_SIZE, MAX_BYTE_SIZE], ["9223372036854775807", MAX_BYTE_SIZE], ["8388607T", 8388607n << 40n],
  ];
  for (const [input, bytes] of cases) assert.equal(parseByteSize("maxMemory", input), bytes, String(input));
});

const HINT = "(use an integer with an optional K, M or G suffix)";

test("garbage is not a byte size", () => {
  rejects("12X", `maxMemory: "12X" is not a byte size ${HINT}`);
  rejects("", `maxMemory: "" is not a byte size ${HINT}`);
  rejects("M", `maxMemory: "M" is not a byte size ${HINT}`);
  rejects("1 G", `maxMemory: "1 G" is not a byte size ${HINT}`);
  rejects(" 1G", `maxMemory: " 1G" is not a byte size ${HINT}`);
  rejects("1e9", `maxMemory: "1e9" is not a byte size ${HINT}`);
  rejects("0x100", `maxMemory: "0x100" is not a byte size ${HINT}`);
  rejects("1iB", `maxMemory: "1iB" is not a byte size ${HINT}`);
  rejects("1P", `maxMemory: "1P" is not a byte size ${HINT}`);
  rejects("+5", `maxMemory: "+5" is not a byte size ${HINT}`);
  rejects(Number.NaN, `maxMemory: NaN is not a byte size ${HINT}`);
  rejects(Number.POSITIVE_INFINITY, `maxMemory: Infinity is not a byte size ${HINT}`);
});

test("negative sizes", () => {
  rejects("-5", `maxMemory: "-5" is negative (a byte size is 0 or more)`);
  rejects("-1G", `maxMemory: "-1G" is negative (a byte size is 0 or more)`);
  rejects(-1, `maxMemory: -1 is negative (a byte size is 0 or more)`);
  rejects(-1n, `maxMemory: -1n is negative (a byte size is 0 or more)`);
});

test("fractional sizes", () => {
  rejects("1.5G", `maxMemory: "1.5G" is not a whole number ${HINT}`);
  rejects("0.5", `maxMemory: "0.5" is not a whole number ${HINT}`);
  rejects(".5M", `maxMemory: ".5M" is not a whole number ${HINT}`);
  rejects(1.5, `maxMemory: 1.5 is not a whole number of bytes`);
});

test("overflow above 2^63-1", () => {
  rejects("9223372036854775808", `maxMemory: "9223372036854775808" exceeds 2^63-1 bytes`);
  rejects("8388608T", `maxMemory: "8388608T" exceeds 2^63-1 bytes`);
  rejects("99999999999999999999999G", `maxMemory: "99999999999999999999999G" exceeds 2^63-1 bytes`);
  rejects(1n << 63n, `maxMemory: 9223372036854775808n exceeds 2^63-1 bytes`);
  rejects(2 ** 53, `maxMemory: 9007199254740992 is above 2^53-1, where numbers lose precision (pass a bigint or a string)`);
});

test("wrong types", () => {
  rejects(null, `maxMemory: null is not a byte size: give a number, a bigint or a string like "512M"`);
  rejects(true, `maxMemory: true is not a byte size: give a number, a bigint or a string like "512M"`);
  rejects(["1G"], `maxMemory: ["1G"] is not a byte size: give a number, a bigint or a string like "512M"`);
});

test("formatBytes gives the shortest exact form and round-trips", () => {
  assert.equal(formatBytes(0n), "0");
  assert.equal(formatBytes(100), "100");
  assert.equal(formatBytes(1024n), "1K");
  assert.equal(formatBytes(1536n * 1024n), "1536K");
  assert.equal(formatBytes(512n << 20n), "512M");
  assert.equal(formatBytes(3n << 30n), "3G");
  assert.equal(formatBytes(1n << 40n), "1T");
  for (const n of [0n, 1n, 1023n, 1024n, 1025n, 3n << 29n, 5n << 40n, MAX_BYTE_SIZE]) {
    assert.equal(parseByteSize("maxMemory", formatBytes(n)), n);
  }
});
