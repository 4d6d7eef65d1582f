// The `protection` field: per-protection relaxations of the strict default (SPEC 7).
// allowDegraded lets a spawn go on without a protection the host lacks; disable turns it off.

import { PolicyError } from "../errors.js";
import { checkArray, checkPlainObject } from "./field-checks.js";
import { invalid } from "./quote.js";
import { didYouMean } from "./suggest.js";
import { PROTECTIONS, type Protection } from "./types.js";

const KEYS = ["allowDegraded", "disable"] as const;

export interface ProtectionChoice {
  readonly allowDegraded: readonly Protection[];
  readonly disable: readonly Protection[];
}

/**
 * Protections whose "off" would not mean "less restricted". Landlock refuses every
 * cross-directory rename and link (EXDEV) when the refer right is not handled (its ABI 1
 * behaviour); handling it and granting it inside the writable trees is what lets ordinary
 * renames work, and it never refuses more than the write grants already do. So disabling
 * it could only break builds, never open anything: refused, with the reason.
 */
export const NOT_DISABLABLE: Readonly<Partial<Record<Protection, string>>> = Object.freeze({
  "fs-refer":
    "cannot be disabled: without it Landlock refuses every cross-directory rename and link (EXDEV), " +
    "and with it renames are already allowed wherever writes are (disable \"fs\" to drop every filesystem rule)",
});

export const STRICT: ProtectionChoice = Object.freeze({ allowDegraded: Object.freeze([]), disable: Object.freeze([]) });

export function parseProtection(field: string, value: unknown): ProtectionChoice {
  const given = checkPlainObject(field, value, "{allowDegraded?, disable?}");
  for (const key of Object.keys(given)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new PolicyError(`${field}.${key}`, given[key], `unknown field ${JSON.stringify(key)} in ${field}${didYouMean(key, KEYS)} (it takes allowDegraded and disable)`);
    }
  }
  const [allowDegraded, disable] = KEYS.map((key) => {
    const list = given[key];
    return list === undefined ? [] : parseNames(`${field}.${key}`, list);
  }) as [Protection[], Protection[]];
  for (const name of disable) {
    const why = NOT_DISABLABLE[name];
    // With "fs" itself disabled no filesystem right is handled at all: renames are free.
    if (why !== undefined && !disable.includes("fs")) throw invalid(`${field}.disable`, name, why);
    if (allowDegraded.includes(name)) {
      throw invalid(`${field}.disable`, name, `is also in ${field}.allowDegraded (a protection is either degradable or disabled)`);
    }
  }
  return Object.freeze({ allowDegraded: Object.freeze(allowDegraded), disable: Object.freeze(disable) });
}

function parseNames(field: string, value: unknown): Protection[] {
  const names = new Set<Protection>();
  for (const name of checkArray(field, value, "protection names")) {
    if (typeof name !== "string" || !(PROTECTIONS as readonly string[]).includes(name)) {
      const hint = typeof name === "string" ? didYouMean(name, PROTECTIONS) : "";
      throw invalid(field, name, `is not a protection${hint} (valid: ${PROTECTIONS.join(", ")})`);
    }
    names.add(name as Protection);
  }
  return [...names];
}
