// Turns of the event loop during a capture, which reads and compares as much as the sandbox
// holds (its memory, its descriptors): the other sandboxes of this process are served
// meanwhile. The captured sandbox is frozen, so nothing of it changes between two steps.
// Also the polls of a wait for a ptrace stop (freeze.ts, inject.ts).

import { SLICE_MS, sortInSteps } from "../supervise/slices.js";

export class Turns {
  private since = performance.now();

  /** Resolves at once, or after a turn of the loop once SLICE_MS have passed since the last. */
  async maybe(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}

/** What a poll naps on (nothing ever wakes it: the nap is its timeout). */
const NAP = new Int32Array(new SharedArrayBuffer(4));
/** Polls answered at once before the first nap, and the nap (ms). */
const POLLS_BEFORE_NAP = 10;
const NAP_MS = 0.02;

/**
 * The next poll of a wait for a ptrace stop (a remote call's, a freeze's; `polls` made so
 * far): at once for the first turns (most waits end within them), then after a nap of
 * 20 us each turn, then every millisecond. Without the naps a remote call the supervisor
 * answers (a clone) took 1.6 ms instead of 0.27: the busy loop held a CPU, and the tracee
 * woken by the answer, which runs at the sandbox's lower priority, waited for it (2 CPUs,
 * 200 remote clones; getpid's 50 us a call unchanged). A nap blocks the event loop for its
 * 20 us, not the supervisor's receiving thread.
 */
export function pollTurn(polls: number): Promise<void> {
  if (polls >= POLLS_BEFORE_NAP && polls < 200) Atomics.wait(NAP, 0, 0, NAP_MS);
  return new Promise((resolve) => (polls < 200 ? setImmediate(resolve) : setTimeout(resolve, 1)));
}

/** `items` sorted by `compare` (slices.ts sortInSteps: a merge sort, stable), with a look at
 * the clock every 256 comparisons and a turn of the loop once a slice has passed. */
export async function sortInTurns<T>(items: readonly T[], compare: (a: T, b: T) => number, turns: Turns): Promise<T[]> {
  const steps = sortInSteps(items, compare);
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done === true) return r.value;
    await turns.maybe();
  }
}
