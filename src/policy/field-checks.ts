// Checks of single values shared by the policy fields: booleans, bounded integers,
// absolute paths, arrays and plain objects. Each failure names the field and the value.

import { invalid } from "./quote.js";

export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw invalid(field, value, "is not a boolean (true or false)");
  return value;
}

/** An integer in [min, max]; `range` explains the bounds, e.g. "is outside 1..100 (percent of one core)". */
export function checkInteger(field: string, value: unknown, min: number, max: number, range: string): number {
  if (typeof value !== "number") throw invalid(field, value, "is not a number");
  if (!Number.isInteger(value)) throw invalid(field, value, Number.isFinite(value) ? "is not a whole number" : "is not a finite number");
  if (value < min || value > max) throw invalid(field, value, range);
  return value;
}

/** An absolute path: a non-empty string starting with "/" without NUL bytes. Not normalised. */
export function checkAbsolutePath(field: string, value: unknown): string {
  if (typeof value !== "string") throw invalid(field, value, "is not a string (an absolute path is needed)");
  if (value === "") throw invalid(field, value, "is an empty path (an absolute path is needed)");
  if (value.includes("\0")) throw invalid(field, value, "contains a NUL byte");
  if (!value.startsWith("/")) throw invalid(field, value, "is a relative path (an absolute path is needed)");
  return value;
}

export function checkArray(field: string, value: unknown, of: string): readonly unknown[] {
  if (!Array.isArray(value)) throw invalid(field, value, `is not an array of ${of}`);
  return value;
}

export function checkPathList(field: string, value: unknown): readonly string[] {
  return Object.freeze(checkArray(field, value, "absolute paths").map((p) => checkAbsolutePath(field, p)));
}

/** An object literal (prototype Object.prototype of any realm, or null); not an array, Map, Date... */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

export function checkPlainObject(field: string, value: unknown, of: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw invalid(field, value, `is not an object of ${of}`);
  return value;
}
