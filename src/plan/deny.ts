// fsDenied at planning: each denied path resolved, checked (it exists, lies strictly inside
// a grant, covers no grant, has no second name) and handed to the launcher (deny.c).

import { lstatSync, readdirSync } from "node:fs";
import { PolicyError } from "../errors.js";
import { grantRealpath, SwappableLinkError } from "./grant-path.js";
import { observe } from "./host-reads.js";
import type { PathGrant } from "./landlock.js";

/** A denied path as the launcher covers it: its real path and whether it is a directory. */
export interface DeniedPath {
  readonly path: string;
  readonly isDir: boolean;
}

/** Entries a denied directory may hold: each is looked at for hard links at every start. */
export const DENIED_SCAN_MAX = 100_000;

const fail = (value: string, why: string): PolicyError => new PolicyError("fsDenied", value, `fsDenied: ${JSON.stringify(value)} ${why}`);

function beneath(path: string, dir: string): boolean {
  return dir === "/" ? path !== "/" : path.startsWith(`${dir}/`);
}

function realOf(value: string): string {
  try {
    return grantRealpath(value);
  } catch (e) {
    if (e instanceof SwappableLinkError) throw fail(value, `passes through ${e.message}; another process could swap it while the sandbox starts, so it is not followed: give the path it leads to`);
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    if (code === "ENOENT" || code === "ENOTDIR") throw fail(value, "does not exist: a denial covers an existing path (creating a path cannot be refused this way; docs/security.md, \"Denied paths\")");
    throw fail(value, `cannot be resolved (${code})`);
  }
}

function grantReal(g: PathGrant): string | undefined {
  try {
    return grantRealpath(g.path);
  } catch {
    return undefined; // a grant that does not exist covers nothing and is covered by nothing
  }
}

/**
 * A second name of a file reaches the same inode from elsewhere, uncovered. Hard links
 * made before the start are found here and refused by name (the launcher checks a denied
 * file's own count again); the sandbox cannot make new ones to a covered inode (EXDEV).
 * Walked without following links, bounded by DENIED_SCAN_MAX entries.
 */
function secondName(value: string, dir: string): string | undefined {
  const todo = [dir];
  let seen = 0;
  while (todo.length > 0) {
    const d = todo.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (e) {
      throw fail(value, `holds ${JSON.stringify(d)}, which cannot be listed (${(e as NodeJS.ErrnoException).code ?? String(e)}) to look for hard links`);
    }
    for (const name of names) {
      if (++seen > DENIED_SCAN_MAX) throw fail(value, `holds more than ${DENIED_SCAN_MAX} entries; each is looked at for hard links at every start, so deny a smaller directory`);
      const full = `${d}/${name}`;
      const st = lstatSync(full);
      if (st.isDirectory()) todo.push(full);
      else if (st.nlink > 1) return full;
    }
  }
  return undefined;
}

/** The denied paths of a policy, checked against the grants the sandbox will have
 * (fsActive: whether Landlock confines the filesystem at all). */
export function planDenied(denied: readonly string[], grants: readonly PathGrant[], fsActive = true): DeniedPath[] {
  const reals = grants.map((g) => ({ g, real: grantReal(g) }));
  const out: DeniedPath[] = [];
  for (const value of denied) {
    const path = observe(`deny-real:${value}`, () => realOf(value));
    const st = observe(undefined, () => { const s = lstatSync(path); return { dir: s.isDirectory(), nlink: s.nlink }; });
    // A grant at or beneath it would be hidden by the cover (its rule could not even be
    // opened): the two say opposite things.
    const covered = reals.find(({ real }) => real !== undefined && (real === path || beneath(real, path)));
    if (covered !== undefined) throw fail(value, `covers the grant ${JSON.stringify(covered.g.path)}: remove one of the two`);
    // Outside every grant, Landlock refuses it already: a denial there says nothing, and
    // is most likely a typo of a path that was meant. Without Landlock (fs off) everything
    // is reachable: there is no grant to be inside.
    if (fsActive && !reals.some(({ g, real }) => real !== undefined && g.isDir && beneath(path, real))) throw fail(value, `is outside every granted tree${path === value ? "" : ` (it resolves to ${JSON.stringify(path)})`}: Landlock denies it already, so nothing is there to subtract from`);
    if (!st.dir && st.nlink > 1) throw fail(value, `has ${st.nlink} names (hard links): another name inside a grant would reach the same file; remove the other names or copy the file first`);
    if (st.dir) {
      const other = observe(undefined, () => secondName(value, path));
      if (other !== undefined) throw fail(value, `holds ${JSON.stringify(other)}, which has another name (a hard link) that the denial would not cover; remove the other names or copy the file first`);
    }
    if (out.some((d) => d.path === path || beneath(path, d.path))) continue; // inside another denial
    out.push({ path, isDir: st.dir });
  }
  // A denial inside one listed later is covered by it too.
  return out.filter((d) => !out.some((o) => o !== d && o.isDir && beneath(d.path, o.path)));
}
