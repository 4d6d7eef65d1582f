// Filesystem-shaped values beyond plain path lists: the denied paths, the chroot mount map
// the copy-on-write exit actions, and which view of the filesystem and /proc (procView).

import { checkAbsolutePath, checkArray, checkPlainObject } from "./field-checks.js";
import { invalid } from "./quote.js";
import type { CowAction, ProcView } from "./types.js";

export const COW_ACTIONS: readonly CowAction[] = ["commit", "abort", "keep"];

export function checkCowAction(field: string, value: unknown): CowAction {
  if (typeof value !== "string" || !(COW_ACTIONS as readonly string[]).includes(value)) {
    throw invalid(field, value, `is not one of "commit", "abort" or "keep"`);
  }
  return value as CowAction;
}

/** procView: the two views by name; unset is the field's absence, never a third value. */
export function checkProcView(field: string, value: unknown): ProcView {
  if (value !== "kernel" && value !== "supervised") throw invalid(field, value, `is not "kernel" or "supervised" (leave it unset for the kernel view where it applies)`);
  return value;
}

/** {virtual path inside the chroot: host path, ":ro" at its end for read-only}; both
 * absolute, the virtual one below "/" without "." or ".." (a mount point is one place). A bad
 * value names its key. Whether both exist is planning's check (plan/chroot.ts). */
export function parseFsMount(field: string, value: unknown): Readonly<Record<string, string>> {
  const given = checkPlainObject(field, value, "virtual paths to host paths");
  const mounts: Record<string, string> = {};
  for (const [virtual, host] of Object.entries(given)) {
    checkAbsolutePath(field, virtual);
    if (virtual.split("/").some((c) => c === ".." || c === ".")) throw invalid(field, virtual, `is a virtual path with a "." or ".." component: give the mount point without one`);
    if (virtual.split("/").every((c) => c === "")) throw invalid(field, virtual, `is the chroot's root itself: give the directory to mount as chroot, or a mount point below "/"`);
    const key = `${field}[${JSON.stringify(virtual)}]`;
    mounts[virtual] = checkAbsolutePath(key, host);
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
