// kernel/proc-text.ts reads /proc text as UTF-8 (Node's one native call) where the
// supervisor read it as latin1. The fields read are ASCII; a process name is not: any bytes
// but NUL and "/" (its executable's name), ")" and newline-like bytes included. Decoded as
// UTF-8, bytes that are not become U+FFFD and never swallow an ASCII byte, so what follows
// the last ")" of /proc/PID/stat reads the same.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readProcHead, readProcText } from "../../src/kernel/proc-text.js";
import { parentFromStat, stateFromStat } from "../../src/supervise/members.js";

test("readProcText: a process named with ') ', a lone UTF-8 lead byte and 0xff parses as with latin1 (parent, state)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-proctext-"));
  // The name the kernel keeps (its first 15 bytes): ") 1 2 ", then a UTF-8 lead byte
  // followed by ")" and 0xff, neither of which is UTF-8.
  const name = Buffer.concat([Buffer.from("x) 1 2 "), Buffer.from([0xe2, 0x29, 0xff])]);
  symlinkSync("/bin/sleep", Buffer.concat([Buffer.from(`${dir}/`), name]));
  // The link is exec'd by a shell given its bytes (printf's octal escapes).
  const sh = spawn("/bin/sh", ["-c", `exec "$(printf '${dir}/x) 1 2 \\342)\\377')" 5`], { stdio: "ignore" });
  try {
    const pid = sh.pid!;
    let stat = "";
    // Until it sleeps (its 5 s): the state compared below is read twice, and a process
    // just exec'd was read running by the first read and sleeping by the second (CI, once).
    for (let i = 0; i < 200; i++) {
      stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      if (stat.includes("x) 1 2") && stateFromStat(stat) === "S") break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(stat.includes("x) 1 2 \u00e2)\u00ff"), `the name holds the bytes: ${JSON.stringify(stat.slice(0, 40))}`);
    const text = readProcText(`/proc/${pid}/stat`);
    assert.notEqual(text, stat, "the two decodings differ (the test's premise)");
    assert.equal(parentFromStat(text), process.pid);
    assert.equal(parentFromStat(text), parentFromStat(stat));
    assert.equal(stateFromStat(text), stateFromStat(stat));
    assert.match(stateFromStat(text) ?? "", /^[RS]$/);
  } finally {
    sh.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("readProcHead: at most the bound, whether the file went on, and no more memory than what was read", () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-prochead-"));
  try {
    const bytes = Buffer.alloc(100_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
    const f = join(dir, "f");
    writeFileSync(f, bytes);
    for (const [limit, more] of [[1, true], [16 * 1024, true], [16 * 1024 + 1, true], [99_999, true], [100_000, false], [100_001, false], [8 << 20, false]] as const) {
      const r = readProcHead(f, limit);
      const want = bytes.subarray(0, Math.min(limit, bytes.length));
      assert.equal(r.more, more, `limit ${limit}`);
      assert.ok(r.data.equals(want), `limit ${limit}: the first ${want.length} bytes`);
      // The result is its own buffer (or a slice of one the read filled), never a slice of
      // one the size of the bound: 8 MiB per captured process before.
      assert.ok(r.data.buffer.byteLength <= Math.max(want.length + 16 * 1024, 64 * 1024), `limit ${limit}: backed by ${r.data.buffer.byteLength} bytes`);
    }
    writeFileSync(f, "");
    assert.deepEqual(readProcHead(f, 10), { data: Buffer.alloc(0), more: false });
    // A real command line: this process's, NUL-separated, whole.
    const own = readProcHead("/proc/self/cmdline", 8 << 20);
    assert.equal(own.more, false);
    assert.ok(own.data.equals(readFileSync("/proc/self/cmdline")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
