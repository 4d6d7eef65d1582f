// Host facts read from text: fs.epoll.max_user_watches and the limits of /proc/self/limits.

import { test } from "node:test";
import assert from "node:assert/strict";
import { maxUserWatches, softPendingSignals } from "../../src/kernel/probe.js";

test("maxUserWatches reads the sysctl's number, and nothing that is not a positive integer", () => {
  assert.equal(maxUserWatches("5491645\n"), 5_491_645);
  for (const bad of ["0\n", "-1\n", "abc\n", "", "1.5\n", "99999999999999999999\n"]) assert.equal(maxUserWatches(bad), null, JSON.stringify(bad));
  const real = maxUserWatches();
  assert.ok(real === null || real > 0, `this host's: ${real}`);
});

test("softPendingSignals reads the soft limit, null when unlimited", () => {
  const text = "Limit                     Soft Limit           Hard Limit           Units\nMax pending signals       96367                96367                signals\n";
  assert.equal(softPendingSignals(text), 96367n);
  assert.equal(softPendingSignals(text.replace("96367 ", "unlimited")), null);
});
