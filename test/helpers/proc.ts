// Process facts the tests check from outside a sandbox.

import { readFileSync } from "node:fs";
import { descendantsOf } from "../../src/supervise/members.js";

/** True while pid exists and is neither a zombie nor dead. */
export function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes descending from pid. */
export function descendants(pid: number): number[] {
  return descendantsOf(pid);
}
