// Composing policy inputs (a preset, then profiles, then flags or fields): lists add up,
// maps (env, fsMount) merge by key, everything else is a scalar and the later one wins.

import type { PolicyInput } from "./types.js";

type Loose = Record<string, unknown>;

function isRecord(v: unknown): v is Loose {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

/** Lists keep their order, with exact repeats of a string or number left out. */
function addLists(a: readonly unknown[], b: readonly unknown[]): unknown[] {
  const out = [...a];
  for (const item of b) {
    const scalar = typeof item === "string" || typeof item === "number";
    if (!scalar || !out.includes(item)) out.push(item);
  }
  return out;
}

function mergeValue(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (Array.isArray(a) && Array.isArray(b)) return addLists(a, b);
  // env, fsMount and protection: by key, each key merged the same way (protection's lists add).
  if (isRecord(a) && isRecord(b)) {
    const out: Loose = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = mergeValue(a[k], v);
    return out;
  }
  return b; // a scalar, or a change of shape ("all" after a list of GPUs): the later one wins
}

/**
 * `inputs` composed left to right, unvalidated (Policy validates the result). Unknown
 * keys are carried along so that validation, not this function, reports them.
 */
export function composeInputs(...inputs: readonly (PolicyInput | undefined)[]): PolicyInput {
  let out: Loose = {};
  for (const input of inputs) {
    if (input === undefined) continue;
    out = mergeValue(out, input as Loose) as Loose;
  }
  return out as PolicyInput;
}
