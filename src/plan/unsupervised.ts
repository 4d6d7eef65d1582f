// supervisor: false, at plan time: no /proc (its view, only the sandbox's own processes,
// is the supervisor's), and the host facts a sandbox without a supervisor depends on.

import { ConfinementError, PolicyError } from "../errors.js";
import type { PathGrant } from "./landlock.js";
import { HOST_FS, within, type FsView } from "./proc-grants.js";

const OFF = "supervisor: false (--no-supervisor) runs without one";

function real(fs: FsView, path: string): string {
  try {
    return fs.realpath(path);
  } catch {
    return path;
  }
}

/**
 * `given`: the policy's grants; `planned`: the grants after the planner's splits (a grant
 * above a procfs mount, such as "/", is split into its entries there). A grant naming a
 * procfs mount or a path inside one is refused: listing /proc would show every process of
 * the host, which only the supervisor filters out. A grant above one keeps everything but
 * the mount: the procfs mount and all beneath it get no rule, so Landlock refuses them,
 * and the directories above the mount cannot be listed (below).
 */
export function withoutProcfs(given: readonly PathGrant[], planned: readonly PathGrant[], mounts: readonly string[], fsActive: boolean, fs: FsView = HOST_FS): PathGrant[] {
  if (!fsActive) {
    throw new PolicyError("supervisor", false, `supervisor: false needs the filesystem protection ("fs"): without its rules every procfs mount would show the host's processes, which only the supervisor hides`);
  }
  for (const g of given) {
    const field = g.writable ? "fsWritable" : "fsReadable";
    const mount = mounts.find((m) => within(real(fs, g.path), m));
    if (mount !== undefined) {
      throw new PolicyError(field, g.path, `${field}: ${JSON.stringify(g.path)} is in procfs (${mount}), whose view (only the sandbox's own processes) needs the seccomp supervisor; ${OFF}: leave ${mount} out (a grant above it, such as "/", leaves it out by itself, and the directories on the way cannot be listed)`);
    }
  }
  // The split leaves a list-only rule on each directory above a mount (on "/" for a grant
  // of "/"), and Landlock's rights reach everything beneath a rule: that one would let the
  // sandbox list /proc, i.e. every pid on the host. It goes too: such a directory can be
  // walked through, not listed (`ls /` fails, `/usr/bin/env` works).
  return planned.filter((g) => !mounts.some((m) => {
    const r = real(fs, g.path);
    return within(r, m) || within(m, r);
  }));
}

/** Below Landlock ABI 6 the supervisor decides every signal (plan/seccomp-reach.ts); a
 * filter alone would have to refuse them all, even a shell's to its own children. */
export function checkSignalScope(landlockAbi: number): void {
  if (landlockAbi >= 6) return;
  throw new ConfinementError(
    `supervisor: false needs Landlock's signal scope (ABI 6) to keep signals inside the sandbox; this kernel has ${landlockAbi === 0 ? "no Landlock" : `ABI ${landlockAbi}`}, and without the scope only the supervisor can check where a signal goes`,
    { protection: "scopes", requiredAbi: 6, hostAbi: landlockAbi },
  );
}
