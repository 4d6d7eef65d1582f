// A graceful stop's inputs: the signal sent first (a name like "SIGTERM" or a number) and
// how long the sandbox gets before everything is SIGKILLed, validated with clear errors.

import { constants } from "node:os";
import { SandboxError } from "../errors.js";

export const SIGKILL = 9;
/** The grace period when none is given: a few seconds, as `docker stop` gives ten. */
export const DEFAULT_FORCE_AFTER_MS = 5000;
/** setTimeout's ceiling (2^31-1 ms); Infinity means "never force". */
const MAX_FORCE_AFTER_MS = 2 ** 31 - 1;

export type StopSignal = NodeJS.Signals | number;

/** "SIGTERM", "TERM" or 15 -> 15; `what` names the option in the error. */
export function signalNumber(what: string, signal: unknown): number {
  if (typeof signal === "number" && Number.isInteger(signal) && signal >= 1 && signal <= 64) return signal;
  if (typeof signal === "string") {
    const name = signal.startsWith("SIG") ? signal : `SIG${signal}`;
    const n = (constants.signals as Record<string, number | undefined>)[name];
    if (n !== undefined) return n;
  }
  throw new SandboxError(`${what}: ${JSON.stringify(signal)} is not a signal (a name such as "SIGTERM", or a number 1-64)`);
}

/** Milliseconds >= 0 (0: SIGKILL at once), or Infinity (never forced). */
export function forceAfterMs(what: string, value: unknown): number {
  if (value === undefined) return DEFAULT_FORCE_AFTER_MS;
  if (value === Infinity) return Infinity;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_FORCE_AFTER_MS) {
    throw new SandboxError(`${what}: ${typeof value === "number" ? String(value) : JSON.stringify(value)} must be a number of milliseconds from 0 to ${MAX_FORCE_AFTER_MS}, or Infinity`);
  }
  return value;
}
