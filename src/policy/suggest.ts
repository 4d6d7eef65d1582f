// "Did you mean" for unknown names: the closest known name within a small edit distance
// (optimal string alignment: insert, delete, substitute, swap two neighbours).

/** Edit distance between a and b, ignoring case; adjacent transpositions count once. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0]![j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[rows - 1]![cols - 1]!;
}

/**
 * The known name closest to `name` (first one on ties), if within `maxDistance`. Short
 * names get a tighter bound (one edit per three characters) so that any two-letter word
 * does not "match" some two-letter name.
 */
export function closest(name: string, known: Iterable<string>, maxDistance = 2): string | undefined {
  const bound = Math.min(maxDistance, Math.max(1, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestDistance = bound + 1;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const match = closest(name, known);
  return match === undefined || match === name ? "" : ` (did you mean ${JSON.stringify(match)}?)`;
}
