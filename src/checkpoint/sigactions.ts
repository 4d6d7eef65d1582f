// The signal handlers of a frozen process, for a restore: /proc shows only which signals
// are caught, so one stopped thread is made to call rt_sigaction(sig, NULL, &old) for each
// (capture-remote.ts), then put back exactly. Best effort: on any failure nothing is
// recorded and a restore refuses the process, naming the handlers.

import { withCaptureCalls } from "./capture-remote.js";
import type { StoppedThread } from "./freeze.js";
import type { MapEntry, SigAction } from "./image.js";

const NR_RT_SIGACTION = 13;

/** The handlers of the caught signals (mask `caught`), or undefined when they cannot be read. */
export async function captureSigActions(pid: number, threads: readonly StoppedThread[], maps: readonly MapEntry[], caught: bigint, timeoutMs: number): Promise<SigAction[] | undefined> {
  if (caught === 0n) return [];
  return withCaptureCalls(pid, threads, maps, timeoutMs, async (c) => {
    const out: SigAction[] = [];
    for (let sig = 1; sig <= 64; sig++) {
      if (((caught >> BigInt(sig - 1)) & 1n) === 0n) continue;
      if ((await c.call(NR_RT_SIGACTION, sig, 0, c.scratch, 8)) !== 0n) return undefined;
      const act = c.read(32);
      if (act === undefined) return undefined;
      out.push({ sig, handler: act.readBigUInt64LE(0), flags: act.readBigUInt64LE(8), restorer: act.readBigUInt64LE(16), mask: act.readBigUInt64LE(24) });
    }
    return out;
  });
}
