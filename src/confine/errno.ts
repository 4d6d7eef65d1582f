// errno and signal numbers to their names, from Node's own constant tables.

import { constants } from "node:os";

const ERRNO_NAMES = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) {
  if (!ERRNO_NAMES.has(num)) ERRNO_NAMES.set(num, name);
}
// Aliases that share a number: prefer the common spelling.
ERRNO_NAMES.set(constants.errno.EAGAIN, "EAGAIN");
ERRNO_NAMES.set(constants.errno.EDEADLK, "EDEADLK");

const SIGNAL_NAMES = new Map<number, string>();
for (const [name, num] of Object.entries(constants.signals)) {
  if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name);
}

export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}

export function signalName(n: number): string {
  return SIGNAL_NAMES.get(n) ?? `SIG${n}`;
}

export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number>)[name];
}
