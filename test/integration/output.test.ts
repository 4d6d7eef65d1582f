// Output and input like child_process/execa, in a real sandbox as root and as the test
// user: input is data, maxBuffer bounds memory, buffer: false streams with backpressure.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const MIB = 1024 * 1024;

scriptCase("output API: input is data, maxBuffer, backpressure, streaming", "dist/test/scripts/output-case.js", ["${PROBE}"], (out) => {
  // input "inherit" is the text "inherit"; the control shows stdin "inherit" does reach
  // the host's stdin (a file holding the secret), so the first check can tell.
  assert.equal(out.input.asData, "inherit");
  assert.equal(out.input.asMode, "host-stdin-secret-7f3a");

  // 16 MiB written under maxBuffer 1 MiB: killed, the first MiB kept, named error.
  assert.deepEqual(out.overflow.error, {
    name: "OutputLimitError",
    code: "OUTPUT_LIMIT",
    message: "stdout: the command wrote more than maxBuffer (1048576 bytes), so the sandbox was killed; raise maxBuffer, or spawn with buffer: false and read sb.stdout as a stream",
    stream: "stdout",
    maxBuffer: MIB,
    status: "killed",
    kept: MIB,
  });
  assert.ok(out.overflow.growth < 8 * MIB, `the parent grew by ${out.overflow.growth} bytes for a 1 MiB maxBuffer`);
  assert.equal(out.overflow.stderrError.stream, "stderr");
  assert.equal(out.overflow.stderrError.kept, 100_000);
  assert.match(out.overflow.stderrError.message, /^stderr: the command wrote more than maxBuffer \(100000 bytes\)/);
  // Control: the same writer under a larger maxBuffer finishes with all 16 MiB.
  assert.deepEqual(out.overflow.control, { status: "exited", exitCode: 0, length: 16 * MIB });

  // buffer: false, nobody reading: the writer stopped after at most 4 MiB of 32 MiB,
  // then finished once read; nothing was kept for the result.
  const bp = out.backpressure;
  assert.ok(bp.stalledAtBytes <= 4 * MIB, `the writer ran ahead to ${bp.stalledAtBytes} bytes with nobody reading`);
  assert.equal(bp.read, bp.totalBytes);
  assert.equal(bp.finalProgress, 512);
  assert.equal(bp.status, "exited");
  assert.equal(bp.exitCode, 0);
  assert.equal(bp.kept, null);
  // Control: buffered (the default), the same writer finishes without the caller reading.
  assert.deepEqual(out.buffered, { status: "exited", exitCode: 0, length: 32 * MIB });

  // 256 MiB streamed: all of it read, the parent's memory did not follow the volume.
  const st = out.streaming;
  assert.equal(st.read, st.totalBytes);
  assert.equal(st.status, "exited");
  assert.equal(st.kept, null);
  assert.ok(st.peakGrowth < 64 * MIB, `the parent grew by ${st.peakGrowth} bytes streaming 256 MiB`);
});
