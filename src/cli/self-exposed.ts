// sandlock's own installation beneath a writable grant (eighth review): a program run in
// the sandbox can then rewrite what the next `sandlock run` executes outside any sandbox:
// the bundle, the launcher, the native addon, the V8 code cache and the cached seccomp
// programs beside the bundle (a one-instruction "allow" filter planted there loads without
// a question: the cache is trusted as the bundle is, and the bundle is the sandbox's to
// change). Nothing the sandbox does inside can be told from the user's own writes, so the
// CLI says so before it starts: install sandlock outside the writable grants.

import { accessSync, constants, realpathSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";

function real(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The real paths of the writable grants that exist. */
const realGrants = (writable: readonly string[]): string[] => writable.map((g) => real(g)).filter((g): g is string => g !== undefined);

const beneath = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * The first of the installation's directory (the package root, from the real path of the
 * bin that runs: `<root>/bin/sandlock.cjs`) and the path the command was started by (a
 * `node_modules/.bin/sandlock` link, which `npx` and `npm run` follow) that lies beneath
 * one of the writable grants, with that grant, when the caller could write there (its
 * directory, its parent's, the bundle's); undefined otherwise.
 */
export function exposedInstall(writable: readonly string[], bin: string | undefined): { path: string; grant: string } | undefined {
  if (bin === undefined) return undefined;
  const grants = realGrants(writable);
  const realBin = real(bin);
  const root = realBin === undefined ? undefined : dirname(dirname(realBin));
  // What a writer there would change: the package's directory or the bundle's (or the
  // directory holding either name); the .bin link's directory. A grant over files the
  // caller cannot write (a user's -w / over root's global install) changes nothing.
  const candidates: [string | undefined, string[]][] = [
    [root, root === undefined ? [] : [root, dirname(root), join(root, "dist", "src", "cli")]],
    [resolve(bin), [dirname(resolve(bin))]],
  ];
  for (const [path, writers] of candidates) {
    if (path === undefined) continue;
    const grant = grants.find((g) => beneath(path, g));
    if (grant !== undefined && writers.some(canWrite)) return { path, grant };
  }
  return undefined;
}

/**
 * The first profile file (or its directory) of the run that lies beneath a writable grant
 * where the caller could write, with that grant: the command can rewrite it, and the next
 * run of the profile then allows what the command wrote there (`write = ["/"]`, variables,
 * another [program]). `sandlock learn -o tool.toml` in a project, then `sandlock run
 * --profile-file tool.toml`, is exactly that: the profile grants the project it lies in.
 */
export function exposedProfile(writable: readonly string[], files: readonly string[]): { path: string; grant: string } | undefined {
  const grants = realGrants(writable);
  for (const file of files) {
    const path = real(file) ?? resolve(file);
    const grant = grants.find((g) => beneath(path, g));
    if (grant !== undefined && (canWrite(path) || canWrite(dirname(path)))) return { path, grant };
  }
  return undefined;
}

/** The warning for a profile file the sandbox can rewrite. */
export function exposedProfileWarning(e: { path: string; grant: string }): string {
  return `sandlock: warning: the profile ${e.path} is writable inside the sandbox (beneath the writable grant ${e.grant}): a program run there can rewrite what the next run of this profile allows; keep profiles outside the writable grants (sandlock learn --save NAME)`;
}

/**
 * NODE_COMPILE_CACHE (Node 22 and later: where Node keeps the V8 code caches of the modules
 * it loads, this command's own bin among them) when it names a directory beneath one of the
 * writable grants that the caller could write, with that grant. A cache entry is code the
 * next Node program to load that module runs, outside any sandbox, and V8 checks it only
 * against its source's length. Unset, or with NODE_DISABLE_COMPILE_CACHE, undefined. (Node's
 * default directory, `node-compile-cache` under the temporary directory, is a protected
 * name: policy/protected.ts.)
 */
export function exposedCompileCache(writable: readonly string[], env: NodeJS.ProcessEnv): { path: string; grant: string } | undefined {
  const dir = env.NODE_COMPILE_CACHE;
  if (dir === undefined || dir === "" || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const grants = realGrants(writable);
  const path = real(dir) ?? resolve(dir);
  const grant = grants.find((g) => beneath(path, g));
  if (grant === undefined) return undefined;
  // Not made yet: whoever can write its nearest existing parent can make it.
  let probe = path;
  while (real(probe) === undefined && dirname(probe) !== probe) probe = dirname(probe);
  return canWrite(probe) ? { path, grant } : undefined;
}

/** The warning for a compile cache the sandbox can write. */
export function exposedCompileCacheWarning(e: { path: string; grant: string }): string {
  return `sandlock: warning: NODE_COMPILE_CACHE (${e.path}) is writable inside the sandbox (beneath the writable grant ${e.grant}): a program run there can plant compiled code that Node programs run later outside any sandbox execute (this command included); point NODE_COMPILE_CACHE outside the writable grants`;
}

/** The warning's text. */
export function exposedInstallWarning(e: { path: string; grant: string }): string {
  return `sandlock: warning: ${e.path} is writable inside the sandbox (beneath the writable grant ${e.grant}): a program run there can change what the next sandlock run executes outside any sandbox (sandlock's own code and its cached seccomp programs); install sandlock outside the writable grants`;
}

/**
 * The warnings `sandlock run` and `sandlock learn` print before a run that may write
 * `writable` (host paths), in this order: sandlock's own installation (started as `bin`),
 * a profile file of the run (`sandlock run`'s), Node's compile cache, each when it lies
 * beneath them.
 */
export function exposedWarnings(writable: readonly string[], bin: string | undefined, env: NodeJS.ProcessEnv, profileFiles: readonly string[] = []): string[] {
  const install = exposedInstall(writable, bin);
  const profile = exposedProfile(writable, profileFiles);
  const cache = exposedCompileCache(writable, env);
  return [
    ...(install === undefined ? [] : [exposedInstallWarning(install)]),
    ...(profile === undefined ? [] : [exposedProfileWarning(profile)]),
    ...(cache === undefined ? [] : [exposedCompileCacheWarning(cache)]),
  ];
}
