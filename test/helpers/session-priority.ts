// A process started in a session of its own (spawn's `detached`) leaves its caller's CPU
// priority behind where the kernel groups processes by session (autogroup, sched(7)): the
// new session's group competes with every other group at nice 0, whatever the nice values
// of the processes in it. `npm test` runs its long files at nice +10 beside the timing-
// sensitive ones, and a docs block run in a session of its own (the README's fork of 1000
// clones) delayed a timing-sensitive test's event loop by 731 ms in CI (perf sched: clones
// at priority 135 kept a nice 0 thread waiting for a CPU). keepPriority gives the new
// session's group the caller's nice.

import { readFileSync, writeFileSync } from "node:fs";
import { getPriority } from "node:os";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sets the autogroup of `pid`'s session to this process's nice value when that is above 0.
 * The kernel allows a caller without CAP_SYS_ADMIN one such change per 100 ms machine-wide
 * (EAGAIN otherwise): retried for up to a second. Without autogroups (no such file), or
 * once the process is gone, there is nothing to do. Resolves with whether the nice was set.
 */
export async function keepPriority(pid: number): Promise<boolean> {
  const nice = getPriority();
  if (nice <= 0) return false;
  const file = `/proc/${pid}/autogroup`;
  for (let tries = 0; tries < 40; tries++) {
    try {
      writeFileSync(file, String(nice));
      return readFileSync(file, "latin1").trim().endsWith(`nice ${nice}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") return false;
      await sleep(25);
    }
  }
  return false;
}
