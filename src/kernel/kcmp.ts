// kcmp(KCMP_FILE): whether two descriptors, of one process or of two, refer to one open
// file description, and otherwise an order between the two (by their obfuscated kernel
// addresses, kernel/kcmp.c), so that descriptors can be sorted and those of one file end
// up side by side: n log n calls.

import { native } from "../confine/native.js";

/** KCMP_FILE's answers: one file; an order between two. */
const SAME = 0;
const LESS = 1;
const GREATER = 2;

/** kcmp could not order two descriptors' files (an error: no CONFIG_KCMP, a process the
 * caller may not inspect, a descriptor closed; or an answer without an order). */
export class Unordered extends Error {}

/** A descriptor of a process. */
export interface ProcessFd {
  readonly pid: number;
  readonly fd: number;
}

/** 0 when a and b refer to one open file, else -1 or 1 (kcmp's order); throws Unordered. */
export function fileOrder(a: ProcessFd, b: ProcessFd): number {
  const rc = native().kcmpFile(a.pid, a.fd, b.pid, b.fd);
  if (rc === SAME) return 0;
  if (rc === LESS) return -1;
  if (rc === GREATER) return 1;
  throw new Unordered();
}
