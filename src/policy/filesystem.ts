// Filesystem-shaped values beyond plain path lists: the denied paths, the chroot mount map
// and the copy-on-write exit actions.

import { checkAbsolutePath, checkArray, checkPlainObject } from "./field-checks.js";
import { invalid } from "./quote.js";
import type { CowAction } from "./types.js";

export const COW_ACTIONS: readonly CowAction[] = ["commit", "abort", "keep"];

export function checkCowAction(field: string, value: unknown): CowAction {
  if (typeof value !== "string" || !(COW_ACTIONS as readonly string[]).includes(value)) {
    throw invalid(field, value, `is not one of "commit", "abort" or "keep"`);
  }
  return value as CowAction;
}

/** {virtual path inside the chroot: host path}; both absolute. A bad value names its key. */
export function parseFsMount(field: string, value: unknown): Readonly<Record<string, string>> {
  const given = checkPlainObject(field, value, "virtual paths to host paths");
  const mounts: Record<string, string> = {};
  for (const [virtual, host] of Object.entries(given)) {
    checkAbsolutePath(field, virtual);
    mounts[virtual] = checkAbsolutePath(`${field}[${JSON.stringify(virtual)}]`, host);
  }
  return Object.freeze(mounts);
}


/** fsDenied: absolute paths without "." or ".." components (a denial is meant for one
 * place: "/p/a/../b" is refused rather than guessed at). Whether each exists and lies
 * inside a grant is planning's check (plan/deny.ts). */
export function checkDeniedPaths(field: string, value: unknown): readonly string[] {
  return Object.freeze(checkArray(field, value, "absolute paths").map((p) => {
    const path = checkAbsolutePath(field, p);
    if (path.split("/").some((c) => c === ".." || c === ".")) throw invalid(field, path, `contains a "." or ".." component: give the path it names without one`);
    return path;
  }));
}
