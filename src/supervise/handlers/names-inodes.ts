// The existing protected files that have a second name: a write through that name would
// change the protected file, so write opens and truncates refuse their inodes too.

import { lstatSync, readdirSync } from "node:fs";
import type { PathGrant } from "../../plan/landlock.js";
import { grantRealpath } from "../../plan/grant-path.js";
import { PROTECTED_NAMES } from "../../policy/protected.js";
import type { FileId } from "../grant-proof.js";

/** Entries looked at beneath the protected names at a start (a `.git/hooks` holds a dozen). */
const SCAN_MAX = 10_000;

/**
 * Files beneath the protected names at the root of each writable directory grant with
 * more than one link, found at the start. A file with one link can get no second name in
 * the sandbox: link() of a protected position is refused (names.ts). Second names made
 * before the start for a protected file at a deeper position are not looked for (that
 * would walk the whole grant): see docs/security.md, "Protected files".
 */
export function protectedInodes(grants: readonly PathGrant[]): FileId[] {
  const out: FileId[] = [];
  let seen = 0;
  const visit = (path: string): void => {
    if (++seen > SCAN_MAX) return;
    let st;
    try {
      st = lstatSync(path, { bigint: true });
    } catch {
      return;
    }
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(path);
      } catch {
        return;
      }
      for (const n of names) visit(`${path}/${n}`);
    } else if (!st.isSymbolicLink() && st.nlink > 1n) {
      out.push({ dev: st.dev, ino: st.ino, mode: Number(st.mode), nlink: Number(st.nlink) });
    }
  };
  for (const g of grants) {
    if (!g.writable || !g.isDir) continue;
    let root: string;
    try {
      root = grantRealpath(g.path);
    } catch {
      continue;
    }
    for (const name of PROTECTED_NAMES) visit(`${root === "/" ? "" : root}/${name}`);
  }
  return out;
}
