// Work whose length a sandbox decides (its descriptor tables, its mappings), run on the
// event loop that serves every sandbox of this process: in slices, with a turn of the
// loop between them, so that no one sandbox holds it for long.

/** The longest one slice holds the event loop (one step at least). */
export const SLICE_MS = 10;

/**
 * Runs `steps` in slices: each runs steps (one at least) until SLICE_MS have passed, or
 * while `first` says so for the first slice (called before each step after the first),
 * then the loop turns (setImmediate) before the next. `spent` is told each slice's
 * milliseconds, `done` the generator's value and the milliseconds of all slices;
 * `cancelled`, asked before each slice, abandons the work (the generator is returned:
 * its `finally` blocks run).
 */
export function runInSlices<T>(steps: Generator<void, T>, done: (value: T, busyMs: number) => void, how: { first?: () => boolean; spent?: (ms: number) => void; cancelled?: () => boolean } = {}): void {
  let busy = 0;
  const slice = (more?: () => boolean): void => {
    if (how.cancelled?.() === true) {
      // Ended here, so that what the steps hold (an open /proc file) is let go.
      (steps as Generator<void, unknown>).return(undefined);
      return;
    }
    const t0 = performance.now();
    const go = more ?? ((): boolean => performance.now() - t0 < SLICE_MS);
    let step = steps.next();
    while (step.done !== true && go()) step = steps.next();
    const ms = performance.now() - t0;
    busy += ms;
    how.spent?.(ms);
    if (step.done === true) done(step.value, busy);
    else setImmediate(() => slice());
  };
  slice(how.first);
}
