// The virtual /proc/meminfo: MemTotal is the cap, free figures are what is left of it,
// every other line and the layout are the host's.

import assert from "node:assert/strict";
import { test } from "node:test";
import { virtualMeminfo } from "../../src/supervise/handlers/meminfo.js";

const HOST = [
  "MemTotal:       24576000 kB",
  "MemFree:        20000000 kB",
  "MemAvailable:   22000000 kB",
  "Buffers:           12345 kB",
  "HugePages_Total:       0",
  "",
].join("\n");

test("MemTotal shows the cap and MemFree/MemAvailable what is left", () => {
  const out = virtualMeminfo(HOST, 256n << 20n, 56n << 20n);
  const lines = out.split("\n");
  assert.equal(lines[0], "MemTotal:         262144 kB");
  assert.equal(lines[1], "MemFree:          204800 kB");
  assert.equal(lines[2], "MemAvailable:     204800 kB");
  assert.equal(lines[3], "Buffers:           12345 kB");
  assert.equal(lines[4], "HugePages_Total:       0");
  assert.equal(lines.length, HOST.split("\n").length);
});

test("nothing free once the charge reaches the cap", () => {
  const out = virtualMeminfo(HOST, 64n << 20n, 80n << 20n);
  assert.match(out, /^MemFree:\s+0 kB$/m);
  assert.match(out, /^MemAvailable:\s+0 kB$/m);
});
