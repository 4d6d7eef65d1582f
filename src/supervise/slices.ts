// Work whose length a sandbox decides (its descriptor tables, its mappings), run on the
// event loop that serves every sandbox of this process: in slices, with a turn of the
// loop between them, so that no one sandbox holds it for long.

/** The longest one slice holds the event loop (one step at least). */
export const SLICE_MS = 10;

/**
 * What a step of work run in slices yields: nothing (the slice may go on), or work it
 * started off the event loop (a thread of Node's pool), whose promise resolves to the
 * milliseconds of CPU that work took: the slice ends there and the next starts once it
 * has resolved.
 */
export type Step = void | Promise<number>;

/** Told the start and length (ms, performance.now()) of every slice and part run here:
 * how a test tells a stall of the event loop that a slice made from one it did not
 * (test/scripts/budget-case.ts). */
let sliceWatch: ((at: number, ms: number) => void) | undefined;

/** Sets (or, with undefined, clears) the function told of every slice and part. */
export function watchSlices(fn: ((at: number, ms: number) => void) | undefined): void {
  sliceWatch = fn;
}

/**
 * Asked after each step of work begun at `t0`: whether one more as long as the longest so
 * far would still end within `budgetMs` of t0. A run that began a 6 ms step (a socket
 * dump's part) whenever less than 10 ms had passed held the loop 16 ms and more.
 */
function another(t0: number, budgetMs: number): () => boolean {
  let last = t0;
  let longest = 0;
  return (): boolean => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    return now - t0 + longest < budgetMs;
  };
}

/**
 * Runs `steps` in slices: each runs steps (one at least) while one more as long as the
 * longest of the slice would end within SLICE_MS, or while `first` says so for the first
 * slice (called before each step after the first), or until a step yields work off the
 * loop, then the loop turns (setImmediate, or that work's end) before the next. `spent` is
 * told each slice's milliseconds and each such work's, `done` the generator's value and the
 * milliseconds of all of them (the work off the loop is this process's CPU too);
 * `cancelled`, asked before each slice, abandons the work (the generator is returned: its
 * `finally` blocks run).
 */
export function runInSlices<T>(steps: Generator<Step, T>, done: (value: T, busyMs: number) => void, how: { first?: () => boolean; spent?: (ms: number) => void; cancelled?: () => boolean } = {}): void {
  let busy = 0;
  const slice = (more?: () => boolean): void => {
    if (how.cancelled?.() === true) {
      // Ended here, so that what the steps hold (an open /proc file) is let go.
      (steps as Generator<Step, unknown>).return(undefined);
      return;
    }
    const t0 = performance.now();
    const go = more ?? another(t0, SLICE_MS);
    let step = steps.next();
    while (step.done !== true && step.value === undefined && go()) step = steps.next();
    const ms = performance.now() - t0;
    busy += ms;
    sliceWatch?.(t0, ms);
    how.spent?.(ms);
    if (step.done === true) done(step.value, busy);
    else if (step.value === undefined) setImmediate(() => slice());
    else {
      const resume = (offMs: number): void => {
        busy += offMs;
        how.spent?.(offMs);
        slice();
      };
      // (a work that failed leaves the step to find out: the slices go on)
      step.value.then(resume, () => resume(0));
    }
  };
  slice(how.first);
}

/** Works of one kind of one sandbox that may go on in parts at once (each holds what it has
 * read and a descriptor or two). */
export const IN_PARTS_AT_ONCE = 4;
/** How long one part of a work in parts (its steps in one turn of the event loop) may run. */
export const PART_MS = 5;
/** Works that may wait for a place, holding nothing but their notification (the kernel
 * walks the held notifications at every receive: see hold-budget.ts). Beyond, the call
 * fails with a resource error. */
export const IN_PARTS_WAITING = 256;

/**
 * Places for one sandbox's works in parts (its listings under deterministicDirs, its reads
 * of filtered socket tables), handed on in order, and the turns of the event loop their
 * parts take: one part of the sandbox's works per turn, however many there are.
 */
export class InParts {
  /** `atOnce`: the works that may go on in parts at once. */
  constructor(readonly atOnce = IN_PARTS_AT_ONCE) {}

  #running = 0;
  #turn: Promise<void> = Promise.resolve();
  readonly #waiting: (() => void)[] = [];

  /** A place, when one is free and no work waits for one (the caller then holds it). */
  take(): boolean {
    if (this.#running >= this.atOnce || this.#waiting.length > 0) return false;
    this.#running++;
    return true;
  }

  canWait(): boolean {
    return this.#waiting.length < IN_PARTS_WAITING;
  }

  /** Settles once a place is reserved for the caller, which then holds it. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** A place given back: to the first work waiting, if any. */
  release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#running--;
  }

  /** Settles at the next turn of the event loop this sandbox's next part may take. */
  turn(): Promise<void> {
    return (this.#turn = this.#turn.then(() => new Promise<void>((resolve) => setImmediate(resolve))));
  }

  /**
   * Runs `step` (true once the work is done) in parts of at most PART_MS (one step at
   * least; a step is begun only when one as long as the part's longest would end within
   * them, as runInSlices does), one part of this sandbox's works per turn of the event
   * loop, asking `going` before each part. True when the work is done, false when `going`
   * said to stop (the caller gone).
   */
  async run(step: () => boolean, going: () => boolean): Promise<boolean> {
    for (;;) {
      await this.turn();
      if (!going()) return false;
      const p0 = performance.now();
      const go = another(p0, PART_MS);
      let done: boolean;
      do done = step();
      while (!done && go());
      sliceWatch?.(p0, performance.now() - p0);
      if (done) return true;
    }
  }

  /** Works in parts now, and waiting for a place (for tests). */
  get counts(): { running: number; waiting: number } {
    return { running: this.#running, waiting: this.#waiting.length };
  }
}

/**
 * `items` sorted by `compare` (a merge sort, stable), yielding every `every` comparisons:
 * `compare` may be a system call (kcmp), and the sandbox decides how many items there are.
 * Run in slices (runInSlices), or in turns of the loop (checkpoint/turns.ts sortInTurns).
 */
export function* sortInSteps<T>(items: readonly T[], compare: (a: T, b: T) => number, every = 256): Generator<void, T[]> {
  let from = items.slice();
  let to = new Array<T>(from.length);
  let count = 0;
  for (let width = 1; width < from.length; width *= 2) {
    for (let lo = 0; lo < from.length; lo += 2 * width) {
      const mid = Math.min(lo + width, from.length);
      const hi = Math.min(lo + 2 * width, from.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        to[k++] = compare(from[i]!, from[j]!) <= 0 ? from[i++]! : from[j++]!;
        if (++count % every === 0) yield;
      }
      while (i < mid) to[k++] = from[i++]!;
      while (j < hi) to[k++] = from[j++]!;
    }
    [from, to] = [to, from];
  }
  return from;
}
