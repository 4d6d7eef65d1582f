// Summaries for benchmark samples: min, median and max, and their formatting.

export interface Summary {
  min: number;
  median: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) throw new Error("no samples");
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}

export function fmt(s: Summary, unit: string, digits = 3): string {
  return `min ${s.min.toFixed(digits)}${unit}  median ${s.median.toFixed(digits)}${unit}  max ${s.max.toFixed(digits)}${unit}`;
}

/** One target's line: what it asks and whether this run met it. */
export function verdict(target: string, met: boolean): string {
  return `target: ${target}: ${met ? "PASS" : "MISS"}`;
}

/** Milliseconds fn took. */
export async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
