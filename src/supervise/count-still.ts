// A count over the sandbox's descriptor tables made with every thread of it stopped, so no
// table changes while it is read (a program that moved what is counted from descriptors
// not yet read onto ones already read hid it from a count made while it ran: the epoll
// count's finding, handlers/epoll.ts). Who stops the threads: the supervisor, with the
// checkpoint's freeze (ptrace, no signal; forks held); or, where the launcher traces every
// process (timeStart, policyFn: a thread has one tracer), the launcher, its tracer
// (SL_CMD_HOLD; checkpoint/freeze.ts whileHeld). Calls waiting for the count are parked
// meanwhile (handler.ts parkCall): the freeze's interrupt has each entered again once its
// thread is let go.

import { SandboxError } from "../errors.js";
import type { SupervisorContext } from "./handler.js";
import { runInSlices, type Step } from "./slices.js";

/** How long the count's freeze waits for a thread to stop (a checkpoint's wait). */
export const FREEZE_STOP_TIMEOUT_MS = 5000;

/**
 * `steps` (a count over these processes, run in slices on the event loop, each slice's
 * and each work's milliseconds told to `spent`) run with the sandbox held still
 * (checkpoint/freeze.ts, loaded when first needed): its value, or undefined when the
 * sandbox could not be held or a table read (`why` says, for a thrown failure).
 * `traced`: the launcher traces the sandbox (timeStart, policyFn) and holds it instead.
 */
export async function countStill<T>(ctx: SupervisorContext, traced: boolean, steps: (pids: Iterable<number>) => Generator<Step, T | undefined>, spent: (ms: number) => void, why: (e: unknown) => void): Promise<T | undefined> {
  try {
    const { whileFrozen, whileHeld } = await import("../checkpoint/freeze.js");
    const count = (pids: Iterable<number>): Promise<T | undefined> => new Promise<T | undefined>((resolve) => runInSlices(steps(pids), resolve, { spent }));
    if (traced) return await whileHeld(ctx.launcherPid, FREEZE_STOP_TIMEOUT_MS, ctx.holdTraced, count);
    const thawFailed = (failures: string[]): Error => new SandboxError(`thawing the sandbox failed: ${failures.join("; ")}`);
    return await whileFrozen(ctx.launcherPid, FREEZE_STOP_TIMEOUT_MS, (frozen) => count(frozen.keys()), thawFailed);
  } catch (e) {
    why(e);
    return undefined;
  }
}
