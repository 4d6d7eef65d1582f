// Names accepted by extraDenySyscalls (any syscall of the table or any group) and
// extraAllowSyscalls (only the groups the default blocklist lets a policy lift).

import { LIFTABLE_GROUPS, SYSCALL_GROUPS } from "../kernel/syscall-groups.js";
import { SYSCALLS } from "../kernel/syscalls.js";
import { PolicyError } from "../errors.js";
import { checkArray } from "./field-checks.js";
import { invalid } from "./quote.js";
import { didYouMean } from "./suggest.js";

const DENIABLE: readonly string[] = [...Object.keys(SYSCALLS), ...Object.keys(SYSCALL_GROUPS)];

/** Syscall or group names to add to the blocklist; duplicates dropped, order kept. */
export function parseDenySyscalls(field: string, value: unknown): readonly string[] {
  const names = new Set<string>();
  for (const name of checkArray(field, value, "syscall or group names")) {
    if (typeof name !== "string") throw invalid(field, name, "is not a syscall or group name");
    if (!Object.hasOwn(SYSCALLS, name) && !Object.hasOwn(SYSCALL_GROUPS, name)) {
      throw new PolicyError(field, name, `${field}: unknown syscall or group ${JSON.stringify(name)}${didYouMean(name, DENIABLE)}`);
    }
    names.add(name);
  }
  return Object.freeze([...names]);
}

/** Group names to lift from the default blocklist; only LIFTABLE_GROUPS qualify. */
export function parseAllowSyscalls(field: string, value: unknown): readonly string[] {
  const names = new Set<string>();
  for (const name of checkArray(field, value, "group names")) {
    if (typeof name !== "string") throw invalid(field, name, "is not a group name");
    if (!LIFTABLE_GROUPS.includes(name)) {
      throw invalid(field, name, `cannot be lifted: only these groups can be (${LIFTABLE_GROUPS.join(", ")})${didYouMean(name, LIFTABLE_GROUPS)}`);
    }
    names.add(name);
  }
  return Object.freeze([...names]);
}
