// How policy errors show values and how they are raised: "<field>: <value> <why>", the
// value rendered by JSON.stringify but safe for bigint, functions, Dates and undefined.

import { PolicyError } from "../errors.js";

const MAX_QUOTE = 120;

/** Render a user value for a message: JSON where possible, `12n` for bigints. */
export function quote(value: unknown): string {
  let text: string;
  if (typeof value === "bigint") text = `${value}n`;
  else if (typeof value === "function") text = "[function]";
  else if (typeof value === "symbol") text = value.toString();
  else if (value === undefined) text = "undefined";
  else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? "Invalid Date" : JSON.stringify(value);
  else if (typeof value === "number" && !Number.isFinite(value)) text = String(value);
  else {
    try {
      text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(value);
    } catch {
      text = String(value); // cyclic structures
    }
  }
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE - 1)}…` : text;
}

/** A PolicyError whose message is `field: <quoted value> why`. */
export function invalid(field: string, value: unknown, why: string): PolicyError {
  return new PolicyError(field, value, `${field}: ${quote(value)} ${why}`);
}
