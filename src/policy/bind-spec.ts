// Entries of netAllowBind / netDenyBind: a TCP port (8080), an inclusive range
// ("8000-8100") or "*" for every port.

import { invalid } from "./quote.js";
import type { BindInput, BindSpec } from "./types.js";

/**
 * Parse one bind entry. A string of digits is accepted like the number (the CLI and
 * profiles pass strings); `{lo, hi}` has lo === hi for a single port.
 */
export function parseBindSpec(field: string, value: unknown): BindSpec {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw invalid(field, value, "is not a whole port number");
    return Object.freeze({ lo: checkPort(field, value, value), hi: value });
  }
  if (typeof value !== "string") {
    throw invalid(field, value, `is not a port: give a number, "lo-hi" or "*"`);
  }
  if (value === "*") return "any";
  if (/^\d+$/.test(value)) {
    const port = checkPort(field, value, Number(value));
    return Object.freeze({ lo: port, hi: port });
  }
  const range = /^(\d+)-(\d+)$/.exec(value);
  if (range === null) throw invalid(field, value, `is not a port, a "lo-hi" range or "*"`);
  const lo = checkPort(field, value, Number(range[1]));
  const hi = checkPort(field, value, Number(range[2]));
  if (lo > hi) throw invalid(field, value, `is a reversed range (write "${hi}-${lo}")`);
  return Object.freeze({ lo, hi });
}

function checkPort(field: string, value: unknown, port: number): number {
  if (port === 0) throw invalid(field, value, "uses port 0 (ports are 1-65535)");
  if (port < 0) throw invalid(field, value, "is negative (ports are 1-65535)");
  if (port > 65535) throw invalid(field, value, "is above 65535");
  return port;
}

/** The input form of a bind entry, as Policy.toJSON writes it. */
export function formatBindSpec(spec: BindSpec): BindInput {
  if (spec === "any") return "*";
  return spec.lo === spec.hi ? spec.lo : `${spec.lo}-${spec.hi}`;
}
