// Byte sizes of the policy (maxMemory, maxDisk): an integer with an optional binary
// suffix K, M, G or T (case-insensitive), optionally followed by "B" or "iB".

import { invalid } from "./quote.js";

/** Largest byte size a policy accepts: the kernel and the plan carry sizes as int64. */
export const MAX_BYTE_SIZE = (1n << 63n) - 1n;

const SHIFT: Readonly<Record<string, bigint>> = { "": 0n, k: 10n, m: 20n, g: 30n, t: 40n };
const SUFFIXES: readonly [string, bigint][] = [["T", 40n], ["G", 30n], ["M", 20n], ["K", 10n]];
const HINT = "(use an integer with an optional K, M or G suffix)";

/**
 * Parse a byte size. Accepted: a safe non-negative integer number; a bigint; a string of
 * decimal digits with an optional suffix K/M/G/T (1024-based), each optionally followed by
 * "B" or "iB" ("512M", "512mb", "512MiB" are the same); "B" alone means bytes. No spaces,
 * signs, fractions or exponents. Values above 2^63-1 are rejected.
 */
export function parseByteSize(field: string, value: unknown): bigint {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalid(field, value, `is not a byte size ${HINT}`);
    if (value < 0) throw invalid(field, value, "is negative (a byte size is 0 or more)");
    if (!Number.isInteger(value)) throw invalid(field, value, "is not a whole number of bytes");
    if (!Number.isSafeInteger(value)) {
      throw invalid(field, value, "is above 2^53-1, where numbers lose precision (pass a bigint or a string)");
    }
    return BigInt(value);
  }
  if (typeof value === "bigint") {
    if (value < 0n) throw invalid(field, value, "is negative (a byte size is 0 or more)");
    if (value > MAX_BYTE_SIZE) throw invalid(field, value, "exceeds 2^63-1 bytes");
    return value;
  }
  if (typeof value !== "string") {
    throw invalid(field, value, `is not a byte size: give a number, a bigint or a string like "512M"`);
  }
  const match = /^(\d+)(?:([kmgt])(?:i?b)?|b)?$/i.exec(value);
  if (match === null) {
    if (/^\s*-/.test(value)) throw invalid(field, value, "is negative (a byte size is 0 or more)");
    if (/^\d*\.\d+([kmgt]|[kmgt]?i?b)?$/i.test(value)) {
      throw invalid(field, value, `is not a whole number ${HINT}`);
    }
    throw invalid(field, value, `is not a byte size ${HINT}`);
  }
  const bytes = BigInt(match[1]!) << SHIFT[(match[2] ?? "").toLowerCase()]!;
  if (bytes > MAX_BYTE_SIZE) throw invalid(field, value, "exceeds 2^63-1 bytes");
  return bytes;
}

/**
 * The shortest exact form of a byte size: the largest suffix that divides it evenly
 * ("512M", "1536K", "100"). parseByteSize(formatBytes(n)) === n for every valid size.
 */
export function formatBytes(bytes: bigint | number): string {
  const n = BigInt(bytes);
  if (n === 0n) return "0";
  for (const [suffix, shift] of SUFFIXES) {
    const unit = 1n << shift;
    if (n % unit === 0n) return `${n / unit}${suffix}`;
  }
  return n.toString();
}
