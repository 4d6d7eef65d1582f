// Sandbox.restore: checks a checkpoint against this host and the policy to run it under
// (restore-check.ts, restore-policy.ts) before anything runs, starts a sandbox whose
// command's process stops in the launcher's restore step instead of exec'ing, and rebuilds
// the image in it (restore-run.ts). A failure after the start kills that sandbox, which
// never ran any of the image's code.

import { native } from "../confine/native.js";
import { CheckpointError, PolicyError, SandlockError } from "../errors.js";
import { Policy } from "../policy/policy.js";
import type { PolicyInput } from "../policy/types.js";
import type { Sandbox, SpawnOptions } from "../sandbox.js";
import type { Checkpoint } from "./checkpoint.js";
import { checkHost, checkImage } from "./restore-check.js";
import { assertWithin } from "./restore-policy.js";
import { rebuild, restorePages } from "./restore-run.js";

/** Options of Sandbox.restore: the spawn's (stdio, timeout, signal...) and the policy. */
export interface RestoreOptions extends SpawnOptions {
  /** The policy to run under: the checkpoint's own when left out; otherwise it must be
   * within it (no grant the saved one lacks, every denial kept, limits lower or equal,
   * every other field the same). */
  policy?: Policy | PolicyInput;
  /** How long each step of the rebuild may wait for the process (ms, default 10000). */
  stepTimeoutMs?: number;
}

/** Starts the sandbox the image is rebuilt in; `kernel`: in the kernel view (its own pid
 * namespace), else the supervised view. */
type Start = (policy: Policy, at: bigint, argv: string[], opts: SpawnOptions, kernel: boolean) => Promise<Sandbox>;

export async function restoreSandbox(cp: Checkpoint, opts: RestoreOptions, start: Start): Promise<Sandbox> {
  if (cp === null || typeof cp !== "object" || !Array.isArray(cp.processes)) {
    throw new CheckpointError("CHECKPOINT_REFUSED", "restore: checkpoint must be a Checkpoint (sb.checkpoint() or Checkpoint.load(dir))");
  }
  const { policy: given, stepTimeoutMs, ...spawnOpts } = opts;
  if (stepTimeoutMs !== undefined && (!Number.isFinite(stepTimeoutMs) || stepTimeoutMs <= 0)) {
    throw new CheckpointError("CHECKPOINT_REFUSED", `restore: stepTimeoutMs must be a positive number of milliseconds, got ${JSON.stringify(stepTimeoutMs)}`);
  }
  checkHost(cp);
  // The saved policy carries the authority of a restore without one: only a checkpoint
  // captured here or sealed under this user's key is trusted with it (seal.ts).
  if (given === undefined && cp.unverified !== undefined) {
    throw new CheckpointError("CHECKPOINT_REFUSED", `restore: ${cp.unverified}; the policy saved in it is therefore not trusted: give the policy to restore it under (Sandbox.restore(cp, { policy }); sandlock restore -p NAME or --profile-file PATH), which must be within the saved one`);
  }
  const saved = cp.policy;
  const policy = given === undefined ? saved : Policy.from(given);
  if (policy.policyFn !== undefined) throw new CheckpointError("CHECKPOINT_REFUSED", "restore: a policy with policyFn cannot run a restore (its launcher would trace the process)");
  if (given !== undefined) assertWithin(policy, saved);
  await checkImage(cp, policy);
  const image = cp.processes[0]!;
  // The view of the capture, whose thread ids the image's memory holds: a capture from the
  // kernel view (ids of its own pid namespace) is restored in it and gets them back
  // (restore-run.ts, rebuild); one from the supervised view holds host ids.
  const kernel = cp.procView === "kernel";
  const other = kernel ? "supervised" : "kernel";
  if (policy.procView === other) {
    throw new CheckpointError("CHECKPOINT_REFUSED", `restore: the checkpoint was captured in the ${kernel ? "kernel" : "supervised"} view, and is restored in it (its threads' ids ${kernel ? "are its own pid namespace's, given back there" : "are the host's"}); the policy's procView "${other}" cannot run it: leave procView unset or make it "${kernel ? "kernel" : "supervised"}"`);
  }
  const at = restorePages(cp.processes);
  const argv = [image.exe, ...image.cmdline.slice(1)];
  let sb: Sandbox;
  try {
    sb = await start(policy, at, argv, spawnOpts, kernel);
  } catch (e) {
    // The kernel view cannot apply here (no user namespaces...): said as the restore's reason.
    if (kernel && e instanceof PolicyError && e.field === "procView") throw new CheckpointError("CHECKPOINT_REFUSED", kernelViewRefusal(e.message), { cause: e });
    throw e;
  }
  const attached: number[] = [];
  try {
    const release = await rebuild(sb.pid!, image, at, { timeoutMs: stepTimeoutMs ?? 10_000, attached }, cp.processes);
    release();
  } catch (e) {
    // Killed first (SIGKILL ends a stopped tracee too; none of the image has run), then let
    // go, so the launcher can reap them and the sandbox ends. kill() resolves only once the
    // sandbox ended, which needs the letting go first: awaited after it (awaited before, it
    // never resolved: restore-sched.test.ts).
    const limitMs = stepTimeoutMs ?? 10_000;
    const killed = sb.kill().then(
      () => true,
      () => true,
    );
    const held = await letGo(attached, limitMs);
    // Bounded: a thread that could not be let go keeps the sandbox from ending, and an
    // unbounded wait here would hang the restore (a CLI restore with it) for good. Past the
    // bound the failure is reported all the same; the kill stays under way, and whatever
    // this process still traces is let go at its exit at the latest.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([killed, new Promise<false>((resolve) => (timer = setTimeout(resolve, limitMs, false)))]);
    clearTimeout(timer);
    const end = ended ? await sb.wait().catch(() => undefined) : undefined;
    const unended = ended ? "" : `; the sandbox had not ended ${limitMs} ms after its kill${held.length > 0 ? ` (threads ${held.join(", ")} could not be let go)` : ""}`;
    // The supervisor ended the sandbox at a limit of the new policy (maxMemory lower than
    // the image needs: found only while mapping it): said so, rather than "process ended".
    const pid = e instanceof CheckpointError && e.pid !== undefined ? e.pid : image.pid;
    if (end?.limit?.kind === "memory") {
      throw new CheckpointError("CHECKPOINT_REFUSED", `restore: process ${pid}: the image does not fit the new policy's maxMemory of ${end.limit.cap} bytes (the supervisor ended the sandbox at ${end.limit.used ?? "?"} bytes while rebuilding it)`, { pid, cause: e });
    }
    if (unended === "" && e instanceof SandlockError) throw e;
    // (past the bound: the failure's own message, with that said; the failure as the cause)
    const message = e instanceof SandlockError ? e.message : `restore: process ${image.pid}: ${(e as Error).message}`;
    throw new CheckpointError("CHECKPOINT_FAILED", `${message}${unended}`, { pid, cause: e });
  }
  return sb;
}

/** The refusal of a checkpoint captured in the kernel view where that view cannot apply,
 * from the start's error ('procView: "kernel" cannot apply: WHY (leave procView unset...)'). */
export function kernelViewRefusal(startError: string): string {
  const why = /cannot apply: (.*?)(?: \(leave procView unset[^)]*\))?$/s.exec(startError)?.[1] ?? startError;
  return `restore: the checkpoint was captured in the kernel view, whose pid namespace gives its threads back their ids, and that view cannot apply here: ${why}`;
}

/**
 * After a failed rebuild killed the sandbox: every thread seized by it is detached (still
 * stopped: it then dies of the pending SIGKILL) or, already dying, waited for (a traced
 * thread's exit is reported to its tracer, and its parent cannot reap it before). Newest
 * first and in rounds until none is left: the kernel reports a leader's exit only once the
 * other threads of its group are reaped, and a child's before its parent's, so a single
 * pass in seize order gave up on the leader and left it a zombie the launcher waited for
 * forever (restore-sched.test.ts). Bounded by limitMs; past it Node's exit lets them go.
 * Returns the threads it could not let go.
 */
async function letGo(attached: readonly number[], limitMs: number): Promise<number[]> {
  const pending = new Set([...attached].reverse());
  for (const end = Date.now() + limitMs; pending.size > 0 && Date.now() < end; ) {
    for (const tid of [...pending]) {
      if (native().ptraceDetach(tid, 0) === 0) {
        pending.delete(tid);
        continue;
      }
      const [rc, status] = native().ptraceWaitStop(tid);
      // Gone from us (ECHILD), or its death reported; a stop reported: detached next round.
      if (rc < 0 || (rc === tid && (status & 0xff) !== 0x7f)) pending.delete(tid);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 10));
  }
  return [...pending];
}
