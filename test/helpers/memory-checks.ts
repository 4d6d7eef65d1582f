// Checks shared by the maxMemory batteries: a sandbox killed by the memory cap, and one
// that held what it asked for (the probes print "held MiB" once they hold it all).

import assert from "node:assert/strict";
import type { CaseOutcome } from "./case-types.js";

export const MiB = 2 ** 20;

function ran(o: CaseOutcome): void {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
}

/** Killed by the cap (`capMiB`, in MiB) before it held the memory, with the limit reported. */
export function killedByMemory(capMiB = 64): (o: CaseOutcome) => void {
  return (o) => {
    ran(o);
    assert.equal(o.result?.stdout, "", "it never held the memory for its whole time");
    assert.equal(o.result?.status, "signaled", `stderr: ${o.result?.stderr}`);
    assert.equal(o.result?.signal, "SIGKILL");
    const limit = o.result?.limit as { kind: string; field: string; cap: number; used: number } | null;
    assert.equal(limit?.kind, "memory");
    assert.equal(limit?.field, "maxMemory");
    assert.equal(limit?.cap, capMiB * MiB);
    assert.ok(limit!.used > capMiB * MiB, `used ${limit?.used}`);
  };
}

/** Held `mb` MiB and exited 0 without reaching a limit. */
export function held(mb: number): (o: CaseOutcome) => void {
  return (o) => {
    ran(o);
    assert.equal(o.result?.stdout, `held ${mb}\n`, `stderr: ${o.result?.stderr}`);
    assert.equal(o.result?.exitCode, 0);
    assert.equal(o.result?.limit, null);
  };
}
