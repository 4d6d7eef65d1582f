// The supervisor as a whole: many sandboxes supervised at once from one Node process, each
// enforcing its own limits, and the round trip of a trapped call staying correct under load.

import assert from "node:assert/strict";
import { securityCase } from "../helpers/harness.js";

securityCase(
  "fifty sandboxes supervised at once each enforce their own process limit",
  { policy: { fsReadable: ["${PROBE}"], maxProcesses: 3 }, cmd: ["${PROBE}", "forks", "5"], scenario: "fifty" },
  (o) => {
    assert.equal(o.error, undefined, o.error?.message);
    assert.deepEqual(o.observed.statuses, Array(50).fill("exited"));
    assert.deepEqual(o.observed.answers, Array(50).fill("forked 2 EAGAIN"));
  },
);

securityCase(
  "fifty sandboxes supervised at once each enforce their own memory cap",
  { policy: { fsReadable: ["${PROBE}"], maxMemory: "48M" }, cmd: ["${PROBE}", "alloc", "32"], scenario: "fifty" },
  (o) => {
    assert.equal(o.error, undefined, o.error?.message);
    // Each sandbox has its own 48 MiB: 32 MiB in each of fifty (1.6 GiB in all) works.
    assert.deepEqual(o.observed.answers, Array(50).fill("allocated 32"));
  },
);
