// cpuCores is a bound where a supervisor runs (src/supervise/handlers/affinity.ts): a
// program cannot widen its affinity again, of itself or of another thread, nor by racing a
// second thread that rewrites the mask while the call is checked (both views, root and the
// test user). Without a supervisor it stays the starting affinity (documented); bare under
// taskset, the same program widens (the control).

import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

buildStaged("affinity.c", "sl-affinity");
const many = availableParallelism() > 1;

scriptCase("cpuCores: sched_setaffinity cannot widen the sandbox's CPUs (itself, another thread, a mask rewritten by a racing thread: 0 widened), a mask of none of them is EINVAL (both views); without a supervisor and bare the same program widens", "dist/test/scripts/cpu-cores-case.js", ["${STAGE}/sl-affinity"], (o) => {
  const msg = JSON.stringify(o);
  for (const view of ["supervised", "kernel"]) {
    const r = o[view];
    assert.equal(r.procView, view, msg);
    assert.equal(r.exitCode, 0, msg);
    assert.equal(r.got.start, "0", msg);
    assert.equal(r.got.widen_self, "ok", `${view}: the call succeeds, with the policy's CPUs only: ${msg}`);
    assert.equal(r.got.self, "0", `${view}: ${msg}`);
    assert.equal(r.got.widen_thread, "ok", msg);
    assert.equal(r.got.thread, "0", `${view}: another thread of the sandbox: ${msg}`);
    if (many) assert.equal(r.got.outside, "EINVAL", `${view}: a mask of no CPU of the policy: ${msg}`);
    const [calls, widened] = (r.got.race as string).split(" ").map(Number);
    assert.ok(calls! > 1000, `${view}: the race ran: ${msg}`);
    assert.equal(widened, 0, `${view}: never wider than the policy's CPUs: ${msg}`);
  }
  if (many) {
    // Without a supervisor cpuCores is where the command starts; it may widen it.
    assert.notEqual(o.unsupervised.got.self, "0", msg);
    const [, bareWidened] = (o.bare.got.race as string).split(" ").map(Number);
    assert.ok(bareWidened! > 0, `control: bare under taskset, the racing thread's mask lands: ${msg}`);
  }
});
