// What the copy-on-write workdir needs from planning: the workdir as a writable grant (on
// the overlay the launcher mounts there), and why this host cannot give it a namespace.

import { readFileSync, statSync } from "node:fs";
import { PolicyError } from "../errors.js";
import type { PathGrant } from "../plan/landlock.js";
import { usernsUnavailable } from "../plan/kernel-view.js";
import { grantRealpath, SwappableLinkError } from "../plan/grant-path.js";

/** The workdir's writable grant: Landlock's rule is opened after the overlay is mounted
 * (plan.ts orders the COW step first), so it is bound to the merged view, never to the
 * real directory underneath. */
export function workdirGrants(workdir: string | undefined): PathGrant[] {
  if (workdir === undefined) return [];
  let isDir = false;
  try {
    isDir = statSync(workdir).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new PolicyError("workdir", workdir, `workdir: ${JSON.stringify(workdir)} ${code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be inspected (${code})`}`);
  }
  if (!isDir) throw new PolicyError("workdir", workdir, `workdir: ${JSON.stringify(workdir)} is not a directory`);
  return [{ path: workdir, isDir: true, writable: true }];
}

/** The workdir's real path, as the overlay's lowerdir names it. */
export function realWorkdir(workdir: string): string {
  // Resolved as grants are (plan/grant-path.ts): a symbolic link another process could
  // swap is refused by name, never followed; the launcher then opens the real path
  // without following any link (cow.c).
  let real: string;
  try {
    real = grantRealpath(workdir);
  } catch (e) {
    if (e instanceof SwappableLinkError) throw new PolicyError("workdir", workdir, `workdir: ${JSON.stringify(workdir)} passes through ${e.message}; another process could swap it while the sandbox starts, so it is not followed: give the directory it leads to by its own path`);
    throw e;
  }
  // The overlay's option string separates with "," and lower layers with ":", and "\"
  // escapes: a path holding one cannot be given to it as it is.
  if (/[,:\\\n]/.test(real)) throw new PolicyError("workdir", workdir, `workdir: ${JSON.stringify(real)} contains one of , : \\ or a newline, which an overlay mount's options cannot carry`);
  return real;
}

/**
 * Why the copy-on-write overlay cannot be mounted here, or undefined. A caller other than
 * root needs a user namespace (the knobs usernsUnavailable reads: Ubuntu's AppArmor
 * restriction, Debian's switch, a zero count); root needs only a mount namespace. Either
 * way a process already under a seccomp filter (a sandbox inside a sandbox) is refused
 * namespaces by it. Never run without the overlay: the caller gets a ConfinementError.
 */
export function cowUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return usernsUnavailable();
  if (/^Seccomp:\s*[12]/m.test(readFileSync("/proc/self/status", "latin1"))) return "this process runs under a seccomp filter (a sandbox inside a sandbox)";
  return undefined;
}
