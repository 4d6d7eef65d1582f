// RunResult is a union by status: `tsc -p .` compiles this file, so the narrowing below
// is checked at build time (a @ts-expect-error that stops erring fails the build); the
// runtime test checks that results built for each status read as the types say.

import assert from "node:assert/strict";
import { test } from "node:test";
import { RunResult, RunResultBase, type RunResultFields } from "../../src/index.js";

const base: Omit<RunResultFields, "status" | "exitCode" | "signal"> = { stdout: null, stderr: null, durationMs: 1, enforcement: {} as never, pid: 1 };

/** What a caller writes: the exit code is a number once status is "exited". */
function exitCodeOf(r: RunResult): number | string {
  if (r.status === "exited") {
    const code: number = r.exitCode;
    const signal: null = r.signal;
    return signal ?? code;
  }
  if (r.status === "signaled" || r.status === "killed") {
    const signal: string = r.signal;
    const code: null = r.exitCode;
    return code ?? signal;
  }
  // @ts-expect-error a timeout may end with a signal: its exitCode is number | null
  const code: number = r.exitCode;
  return code;
}

/** Without narrowing, exitCode may be null. */
function unnarrowed(r: RunResult): number {
  // @ts-expect-error exitCode is number | null before the status is known
  return r.exitCode;
}

test("RunResult narrows by status (checked by tsc) and is a RunResultBase at run time", () => {
  const exited = new RunResult({ ...base, status: "exited", exitCode: 4, signal: null });
  const signaled = new RunResult({ ...base, status: "signaled", exitCode: null, signal: "SIGSEGV" });
  assert.equal(exitCodeOf(exited), 4);
  assert.equal(exitCodeOf(signaled), "SIGSEGV");
  assert.equal(unnarrowed(exited), 4);
  assert.ok(exited instanceof RunResultBase);
  assert.ok(exited instanceof RunResult);
  const ok = new RunResult({ ...base, status: "exited", exitCode: 0, signal: null }).check();
  const zero: 0 = ok.exitCode; // check() returns a result whose exit code is 0 by type
  assert.equal(zero, 0);
});
