// What a sandbox can make its supervisor hold (docs/security.md, "The supervisor's
// share"): descriptors of performed calls that wait, bounded per sandbox; nothing left
// behind by their error paths; another sandbox of the same process unaffected. Measured
// from inside the supervising process, as root and as the test user.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/budget-case.js";
/** A sandbox's budget of held descriptors (src/supervise/hold-budget.ts), and what the
 * supervisor holds for a sandbox besides (listener, launcher pipes and pidfd, stdio). */
const BUDGET = 512;
const SLACK = 32;

scriptCase(
  "2,000 threads blocked in performed connects hold at most one sandbox's budget of descriptors, and another sandbox of the same process makes its own performed calls meanwhile",
  SCRIPT,
  ["connect", "${PROBE}", "2000"],
  (out) => {
    // One connect completes (the listener's backlog), the others wait: 64 on threads, 256
    // queued holding nothing, the rest refused as by a kernel short of resources.
    assert.match(out.line, /^threads 2000 returned \d+ connected 1 eagain \d+$/);
    const [, returned, eagain] = /returned (\d+) connected 1 eagain (\d+)/.exec(out.line)!.map(Number);
    assert.equal(returned, eagain! + 1, "every connect that returned was the first or refused with EAGAIN");
    assert.ok(out.during - out.before <= BUDGET + SLACK, `${out.during - out.before} descriptors held`);
    assert.equal(out.second, "exited errors 10 extra 0");
    assert.ok(out.after <= out.before, `after the flood: ${out.after} descriptors, before: ${out.before}`);
  },
  120_000,
);

scriptCase(
  "positive control: 40 threads blocked in performed connects make the supervisor hold two descriptors each (the count sees them)",
  SCRIPT,
  ["connect", "${PROBE}", "40"],
  (out) => {
    assert.equal(out.line, "threads 40 returned 1 connected 1 eagain 0");
    assert.ok(out.during - out.before >= 2 * 39, `${out.during - out.before} descriptors held`);
    assert.equal(out.second, "exited errors 10 extra 0");
  },
);

scriptCase(
  "the error paths of performed calls (bad, refused, excess and misdirected descriptors, refused destinations, unreadable messages) and a sandbox killed while its senders wait leave no descriptor in the supervisor and install none in the sandbox",
  SCRIPT,
  ["errors", "${PROBE}", "100"],
  (out) => {
    assert.equal(out.line, "errors 1000 extra 0", "every errno as expected, and no descriptor installed in the sandbox");
    assert.equal(out.status, "exited");
    assert.equal(out.flood, "senders 20");
    // The count sees what blocked senders hold (two of them run: 254 descriptors each)...
    assert.ok(out.during - out.before >= 253, `${out.during - out.before} descriptors held during the flood`);
    // ...and nothing is left once the calls failed or their sandbox is gone.
    assert.ok(out.after <= out.before, `after: ${out.after} descriptors, before: ${out.before}`);
  },
);
