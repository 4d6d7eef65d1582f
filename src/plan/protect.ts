// protectedFiles at planning: the protected names (policy/protected.ts) that exist at the
// root of each writable grant, as the launcher covers them (deny.c: read-only or pinned).

import { lstatSync } from "node:fs";
import { PROTECTED_NAMES } from "../policy/protected.js";
import { grantRealpath } from "./grant-path.js";
import { observe } from "./host-reads.js";
import type { PathGrant } from "./landlock.js";

/** A protected path: its real path; readOnly false only pins the name (.git). */
export interface ProtectedPath {
  readonly path: string;
  readonly readOnly: boolean;
}

function realOrUndefined(path: string): string | undefined {
  try {
    return grantRealpath(path);
  } catch {
    return undefined;
  }
}

const beneath = (path: string, dir: string): boolean => dir === "/" ? path !== "/" : path.startsWith(`${dir}/`);

/**
 * The covers for the writable directory grants (a workdir is one). A name that is a
 * symbolic link is followed to a target beneath a writable grant, which is covered (the
 * link's own name is not: see docs/security.md). `.git` is pinned when it is a directory
 * (a rename of it would take the covers away and let a directory the sandbox made take
 * its name), made read-only when it is a file (a worktree's pointer to its git directory).
 * Parents come before what lies in them, which the launcher needs: a pin is a bind of the
 * directory alone, and would hide a cover made inside it before.
 */
export function planProtected(grants: readonly PathGrant[]): ProtectedPath[] {
  const roots = [...new Set(grants.filter((g) => g.writable && g.isDir).map((g) => realOrUndefined(g.path)).filter((p): p is string => p !== undefined))];
  const out = new Map<string, boolean>();
  for (const root of roots) {
    const git = observe(undefined, () => lstatSync(`${root === "/" ? "" : root}/.git`, { throwIfNoEntry: false })?.isDirectory() ?? null);
    if (git === true) out.set(`${root === "/" ? "" : root}/.git`, false);
    if (git === false) out.set(`${root === "/" ? "" : root}/.git`, true);
    for (const name of PROTECTED_NAMES) {
      const path = `${root === "/" ? "" : root}/${name}`;
      const real = observe(undefined, () => (lstatSync(path, { throwIfNoEntry: false }) === undefined ? null : realOrUndefined(path) ?? null));
      if (real === null || !roots.some((r) => real === r || beneath(real, r))) continue;
      if (roots.includes(real)) continue; // a link to a grant's root: never made read-only whole
      out.set(real, true);
    }
  }
  return [...out].map(([path, readOnly]) => ({ path, readOnly })).sort((a, b) => a.path.split("/").length - b.path.split("/").length);
}
