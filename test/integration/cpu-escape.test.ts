// maxCpu against a process whose thread-group leader exited while its thread burns on (the
// second review of issue 9, moved out of redteam.test.ts): /proc showed a zombie and the
// throttle did not stop it (97-99% of a core under maxCpu 10). It measures a share of a core,
// so scripts/test.mjs runs it alone. As root and as the test user, with a positive control.

import assert from "node:assert/strict";
import type { CaseOutcome } from "../helpers/case-types.js";
import { answer, securityCase } from "../helpers/harness.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const BASE = { fsReadable: ["${PROBE}"] };

function cpuPercent(o: CaseOutcome): number {
  const m = /^cpu-percent (\d+)$/.exec(answer(o));
  assert.ok(m, `stdout: ${o.result?.stdout}`);
  return Number(m[1]);
}
// Generous bounds, as in cpu.test.ts: the throttle holds 10%, the escape got 97-99%; on a
// loaded 2-CPU machine an unthrottled thread still gets about half a core.
securityCase("maxCpu 10 holds a process whose leader exited (its thread burns 2 s) under 25% of a core", { policy: { ...BASE, maxCpu: 10 }, cmd: probe("red-zombie-burn", "2000") }, (o) => {
  const p = cpuPercent(o);
  assert.ok(p < 25, `${p}% of a core`);
});
// The control distinguishes at the attack's own bound. Sandboxes of an unprivileged
// supervisor run at nice +5 (RECEIVER_RAISE), so on a machine busy with other work an
// unthrottled thread gets less than half a core (26% was seen during a loaded full run).
securityCase("positive control: without maxCpu the same thread takes more than that bound", { policy: BASE, cmd: probe("red-zombie-burn", "2000") }, (o) => {
  const p = cpuPercent(o);
  assert.ok(p > 25, `${p}% of a core`);
});

