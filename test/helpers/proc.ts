// Process facts the tests check from outside a sandbox.

import { readFileSync } from "node:fs";

/** True while pid exists and is neither a zombie nor dead. */
export function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
