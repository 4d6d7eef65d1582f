// Values of the determinism fields: randomSeed (an unsigned 64-bit integer) and timeStart
// (a Date or an RFC 3339 date-time string).

import { invalid } from "./quote.js";

export const MAX_SEED = (1n << 64n) - 1n;

/** A seed 0..2^64-1, given as a safe integer number, a bigint or a string of decimal digits. */
export function parseRandomSeed(field: string, value: unknown): bigint {
  let seed: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw invalid(field, value, "is not a whole number");
    if (value < 0) throw invalid(field, value, "is negative (a seed is 0..2^64-1)");
    if (!Number.isSafeInteger(value)) {
      throw invalid(field, value, "is above 2^53-1, where numbers lose precision (pass a bigint or a decimal string)");
    }
    seed = BigInt(value);
  } else if (typeof value === "bigint") {
    seed = value;
  } else if (typeof value === "string") {
    if (!/^\d+$/.test(value)) throw invalid(field, value, "is not a string of decimal digits");
    seed = BigInt(value);
  } else {
    throw invalid(field, value, "is not a seed: give a number, a bigint or a decimal string");
  }
  if (seed < 0n) throw invalid(field, value, "is negative (a seed is 0..2^64-1)");
  if (seed > MAX_SEED) throw invalid(field, value, "is above 2^64-1");
  return seed;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * A start time: a valid Date (copied) or an RFC 3339 string with an explicit offset
 * ("2024-01-01T00:00:00Z", "2024-01-01 09:30:00.5+02:00"). Fractions finer than a
 * millisecond are truncated; a leap second (":60") is rejected, as Date cannot hold it.
 */
export function parseTimeStart(field: string, value: unknown): Date {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw invalid(field, value, "is an invalid Date");
    return new Date(ms);
  }
  if (typeof value !== "string") throw invalid(field, value, "is not a Date or an RFC 3339 string");
  const m = RFC3339.exec(value);
  if (m === null) throw invalid(field, value, `is not an RFC 3339 date-time (e.g. "2024-01-01T00:00:00Z")`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetSign = m[9] === "-" ? -1 : 1;
  const offsetHours = m[8] === undefined ? Number(m[10]) : 0;
  const offsetMinutes = m[8] === undefined ? Number(m[11]) : 0;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  const valid =
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth &&
    hour <= 23 && minute <= 59 && second <= 59 && offsetHours <= 23 && offsetMinutes <= 59;
  if (!valid) throw invalid(field, value, "has a month, day, hour, minute, second or offset out of range");
  const millis = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return new Date(date.getTime() - offsetSign * (offsetHours * 60 + offsetMinutes) * 60_000);
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
