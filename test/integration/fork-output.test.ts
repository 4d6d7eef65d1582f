// What a fork call's clones may make the caller keep of their output, as root and as the
// test user (test/scripts/fork-case.ts, scenario outputBound). Each clone's streams were
// kept up to a run's 100 MiB whatever the number of clones, so fork(1000) of clones that
// each wrote without end could make the caller hold 200 GB; now a call's clones share
// 1 GiB by default (docs/fork.md, "Output").

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

type Json = any;

scriptCase("fork: a call's clones keep at most 1 GiB of output together by default, or fork's maxBuffer each; past it the clone is killed and wait() names the bound", "dist/test/scripts/fork-case.js", ["outputBound"], (o: Json) => {
  assert.equal(o.crashed, undefined, o.crashed);
  const perStream = Math.floor(2 ** 30 / (2 * 64));
  assert.equal(perStream, 8 * o.MiB);
  const [big, under] = o.first;
  assert.equal(big.ok, false, JSON.stringify(big));
  assert.equal(big.code, "OUTPUT_LIMIT");
  assert.equal(big.stream, "stdout");
  assert.equal(big.maxBuffer, perStream, "fork(64): 1 GiB over 128 streams");
  assert.equal(big.status, "killed");
  assert.ok(big.bytes <= perStream && big.bytes > 0, `kept up to the bound: ${big.bytes}`);
  assert.match(big.message, /^stdout: the command wrote more than maxBuffer \(8388608 bytes\), so the sandbox was killed; raise it with fork\(n, \{ maxBuffer \}\)$/);
  assert.deepEqual(under, { ok: true, status: "exited", bytes: 7 * o.MiB }, "control: 7 MiB is under the bound, kept whole");
  assert.equal(o.restOk, true, "the other clones ran as usual");
  // An explicit bound, per stream of each clone of the call.
  assert.deepEqual(o.few.map((f: Json) => [f.ok, f.maxBuffer ?? null, f.status]), [[false, 2000, "killed"], [false, 2000, "killed"], [true, null, "exited"]]);
  assert.deepEqual(o.bad, [
    'fork: unknown option "maxBufer" (fork takes maxBuffer)',
    "fork: maxBuffer 0 must be a positive integer number of bytes (a clone's output is never kept without a bound)",
    "fork: options must be an object such as { maxBuffer: 1048576 }, got number",
  ]);
}, 120_000);
