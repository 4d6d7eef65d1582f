// policyFn's ctx.denyPath and ctx.allowPath (SPEC 6): rules on real paths that the
// supervisor applies to every later open and name operation it performs (names*.ts).

import { realpathSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import { SandboxError } from "../errors.js";

const within = (path: string, dir: string): boolean => path === dir || (dir === "/" ? path.startsWith("/") : path.startsWith(`${dir}/`));

/**
 * The rules so far, each a path and whether it is denied. A target is decided by the most
 * specific rule that covers it (the path itself or a directory above it; among equals, the
 * latest): denyPath("/w/secret") then allowPath("/w/secret/ok") leaves the rest of the
 * directory denied. allowPath only lifts what denyPath took: the static grants were
 * checked first and still bound every open.
 */
export class DynamicFiles {
  private rules: { path: string; deny: boolean }[] = [];

  /** The path as the supervisor compares it: absolute, normalised, its symlinks resolved
   * when it exists (the targets are the kernel's real paths of what was pinned). */
  private static canonical(method: string, p: unknown): string {
    if (typeof p !== "string" || !isAbsolute(p)) throw new SandboxError(`policyFn: ctx.${method}() takes an absolute path, got ${JSON.stringify(p)}`);
    const n = normalize(p);
    const trimmed = n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
    try {
      return realpathSync(trimmed);
    } catch {
      return trimmed;
    }
  }

  deny(p: unknown): void {
    this.set(DynamicFiles.canonical("denyPath", p), true);
  }

  allow(p: unknown): void {
    this.set(DynamicFiles.canonical("allowPath", p), false);
  }

  private set(path: string, deny: boolean): void {
    // A rule beneath this one is replaced by it: the later call is about the whole tree.
    this.rules = this.rules.filter((r) => !within(r.path, path));
    if (!deny && !this.rules.some((r) => r.deny && within(path, r.path))) return; // nothing to lift
    this.rules.push({ path, deny });
  }

  /** Whether a denied path lies strictly beneath the directory `path`: renaming that
   * directory would carry it to a name no rule covers (the rules are on real paths). */
  holdsDenied(path: string): boolean {
    return this.rules.some((r) => r.deny && r.path !== path && within(r.path, path));
  }

  /** Whether the real path `path` is denied now. */
  denied(path: string): boolean {
    let best: { path: string; deny: boolean } | undefined;
    for (const r of this.rules) if (within(path, r.path) && (best === undefined || r.path.length >= best.path.length)) best = r;
    return best?.deny === true;
  }
}
