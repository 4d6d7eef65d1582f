// A restore whose rebuild fails kills the sandbox it started and lets go of what it traced
// (src/checkpoint/restore.ts). The wait for that sandbox's end is bounded: a thread that
// could not be let go would keep it from ending, and the restore (a CLI restore with it)
// waited for it for good. Here the sandbox is a stand-in whose kill never completes and
// whose pid no process has, so the rebuild fails at its first step; a real checkpoint of a
// sleep gets past every check before it.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { CheckpointError, Sandbox, type Checkpoint } from "../../src/index.js";
import { restoreSandbox } from "../../src/checkpoint/restore.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));

async function sleeperCheckpoint(): Promise<Checkpoint> {
  const sb = new Sandbox({ fsReadable: SYSTEM });
  await sb.spawn(["/bin/sleep", "30"]);
  await sb.pause();
  const cp = await sb.checkpoint();
  await sb.kill();
  await sb.wait().catch(() => undefined);
  return cp;
}

/** A pid no process has: above the kernel's pid_max. */
const NO_PID = Number(readFileSync("/proc/sys/kernel/pid_max", "latin1")) + 1;

/** A stand-in for the started sandbox: `kill` settles after `killMs`, or never. */
function standIn(killMs: number | undefined): Sandbox {
  const never = new Promise<never>(() => undefined);
  return {
    pid: NO_PID,
    kill: () => (killMs === undefined ? never : new Promise<void>((resolve) => setTimeout(resolve, killMs))),
    wait: () => (killMs === undefined ? never : Promise.resolve({ limit: undefined })),
  } as unknown as Sandbox;
}

test("a failed restore whose sandbox never ends after its kill fails within the step limit, saying so, instead of waiting for it for good; one that ends fails with the rebuild's own error", { timeout: 30_000 }, async () => {
  const cp = await sleeperCheckpoint();
  const opts = { policy: { fsReadable: SYSTEM }, stepTimeoutMs: 300 };
  const t0 = performance.now();
  const stuck = await restoreSandbox(cp, opts, async () => standIn(undefined)).then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = performance.now() - t0;
  assert.ok(stuck instanceof CheckpointError, `rejected with ${String(stuck)}`);
  assert.ok(ms < 5_000, `the restore failed after ${Math.round(ms)} ms`);
  // Control: the same failure where the kill completes is the rebuild's own error.
  const ended = await restoreSandbox(cp, opts, async () => standIn(10)).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(ended instanceof Error, `rejected with ${String(ended)}`);
  assert.doesNotMatch(ended.message, /had not ended/);
  assert.match(ended.message, /^restore: process \d+: ptrace\(PTRACE_SEIZE\) on \d+: errno 3$/, "the rebuild's first step failed (ESRCH: no such process)");
  assert.equal(stuck.message, `${ended.message}; the sandbox had not ended 300 ms after its kill`, "the same failure, with the unended sandbox said");
});
