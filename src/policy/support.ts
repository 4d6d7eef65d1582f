// Fields that validate but whose enforcement is not built yet. A policy using one is
// refused with PolicyUnsupportedError rather than run with the field silently ignored.

import { PolicyUnsupportedError } from "../errors.js";
import type { PolicyFields } from "./types.js";

/** A field in use that cannot be enforced yet: the value to report and what is missing. */
export interface Gap {
  readonly value: unknown;
  readonly why: string;
}

export interface NotYetEnforced {
  readonly field: keyof PolicyFields;
  /** What is missing, as the refusal gives it (also in --help and docs/cli.md). */
  readonly why: string;
  /** The gap when the policy uses the field in a way not enforced yet, else undefined. */
  readonly find: (p: PolicyFields) => Gap | undefined;
}

// The seccomp supervisor has shipped: what these fields wait for is a part of it (or of
// the product) not built yet, and the reason says which, never "needs the supervisor".

/** Unsupported when set to anything but its default (undefined, false, empty). */
function whenSet(field: keyof PolicyFields, why: string): NotYetEnforced {
  return {
    field,
    why,
    find: (p) => {
      const value = p[field];
      const unset =
        value === undefined || value === false ||
        (Array.isArray(value) && value.length === 0) ||
        (typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date) && Object.keys(value).length === 0);
      return unset ? undefined : { value, why };
    },
  };
}

/**
 * The table: one entry per field, checked in this order. When a feature lands, delete its
 * entry (and add the enforcement tests). onExit/onError only differ from their defaults
 * with a workdir, which is itself listed, so they are checked by value.
 */
export const NOT_YET_ENFORCED: readonly NotYetEnforced[] = [
  whenSet("gpuDevices", "GPU device rules are not built yet"),
  whenSet("netDenyBind", "the supervisor does not check bind yet, and Landlock can only allow bind ports, not deny them"),
];

/** Throw PolicyUnsupportedError for the first field (in table order) not enforced yet. */
export function assertSupported(policy: PolicyFields): void {
  for (const entry of NOT_YET_ENFORCED) {
    const gap = entry.find(policy);
    if (gap !== undefined) throw new PolicyUnsupportedError(entry.field, gap.value, gap.why);
  }
}
