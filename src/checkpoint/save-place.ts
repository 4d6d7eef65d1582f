// Where a checkpoint may not be saved: beneath a directory its own policy lets a sandbox
// write. A restore without a policy runs under the policy saved in the directory, so a
// sandbox that could write the directory could give itself a wider one (sixth review).

import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { PolicyJSON } from "../policy/types.js";
import { within } from "../plan/proc-grants.js";

/** A host directory the policy lets a sandbox write, and the field that grants it. */
export interface WritablePlace {
  readonly path: string;
  readonly field: string;
}

function real(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The host directories a sandbox under `policy` can write: its fsWritable grants and its
 * workdir (a workdir's writes reach the host at commit). Under a chroot the grants are
 * paths inside the root, so the whole root and every fsMount not mounted `:ro` count (a
 * wider set than the grants: the check errs towards refusing).
 */
export function writablePlaces(policy: PolicyJSON): WritablePlace[] {
  const out: WritablePlace[] = [];
  if (policy.chroot !== undefined) {
    out.push({ path: real(policy.chroot), field: "chroot" });
    for (const [inside, host] of Object.entries(policy.fsMount ?? {})) {
      if (!host.endsWith(":ro")) out.push({ path: real(host), field: `fsMount (${inside})` });
    }
  } else {
    for (const p of policy.fsWritable ?? []) out.push({ path: real(p), field: "fsWritable" });
  }
  if (policy.workdir !== undefined) out.push({ path: real(policy.workdir), field: "workdir" });
  return out;
}

/** Why a checkpoint of `policy` may not be written into the directory `parentReal` (a real
 * path, read from the pinned descriptor the files are then written beneath), or undefined. */
export function refusedSavePlace(policy: PolicyJSON, parentReal: string): string | undefined {
  const hit = writablePlaces(policy).find((w) => within(parentReal, w.path));
  if (hit === undefined) return undefined;
  return `${parentReal} is beneath ${hit.path}, which the checkpoint's own policy lets the sandbox write (${hit.field}): a sandbox could rewrite the saved policy and image before a restore; save it in a directory the sandbox cannot write`;
}
