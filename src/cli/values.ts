// Readers of flag values that have a shape of their own (integers, lists, K=V, UID:GID,
// V:H[:ro], seconds, descriptors). Each failure names the flag and quotes the value.

import { badValue } from "./usage-error.js";

const INTEGER = /^[+-]?\d+$/;

/** A whole number; its range is the policy's to check (it names the bounds). */
export function readInteger(flag: string, text: string): number {
  if (!INTEGER.test(text)) throw badValue(flag, text, "is not an integer");
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw badValue(flag, text, "is too large");
  return n;
}

/** "a,b,c" -> ["a", "b", "c"]; an empty item is a mistake, not something to skip. */
export function readList(flag: string, text: string): string[] {
  const items = text.split(",");
  if (items.some((s) => s === "")) throw badValue(flag, text, "has an empty item (write a comma-separated list like 1,2)");
  return items;
}

export function readIntegerList(flag: string, text: string): number[] {
  const items = readList(flag, text);
  const bad = items.find((s) => !INTEGER.test(s));
  if (bad !== undefined) {
    throw badValue(flag, text, items.length > 1 ? `is not a comma-separated list of integers (${JSON.stringify(bad)})` : "is not an integer");
  }
  return items.map((s) => readInteger(flag, s));
}

/** KEY=VALUE; the value may contain "=" and may be empty. */
export function readEnvPair(flag: string, text: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq < 0) throw badValue(flag, text, "is not KEY=VALUE (no \"=\")");
  if (eq === 0) throw badValue(flag, text, "is not KEY=VALUE (the name before \"=\" is empty)");
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** UID:GID as two decimal numbers; their range is checked by the policy. */
export function readUser(flag: string, text: string): { uid: number; gid: number } {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (m === null) throw badValue(flag, text, "is not UID:GID (two numbers, e.g. 1000:1000)");
  return { uid: readInteger(flag, m[1]!), gid: readInteger(flag, m[2]!) };
}

export interface MountSpec {
  readonly virtual: string;
  readonly host: string;
  readonly readOnly: boolean;
}

/** VIRTUAL:HOST or VIRTUAL:HOST:ro. Paths containing ":" cannot be written this way. */
export function readMount(flag: string, text: string): MountSpec {
  const parts = text.split(":");
  const shape = "is not VIRTUAL:HOST[:ro] (e.g. /data:/srv/data:ro)";
  if (parts.length < 2 || parts.length > 3 || parts[0] === "" || parts[1] === "") throw badValue(flag, text, shape);
  if (parts.length === 3 && parts[2] !== "ro") {
    throw badValue(flag, text, `${shape}: the third part can only be "ro", got ${JSON.stringify(parts[2])}`);
  }
  return { virtual: parts[0]!, host: parts[1]!, readOnly: parts.length === 3 };
}

/** setTimeout's ceiling (2^31-1 ms); a longer delay would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Decimal seconds > 0 ("30", "0.5", ".25") to milliseconds. */
export function readSeconds(flag: string, text: string): number {
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text)) throw badValue(flag, text, "is not a number of seconds (e.g. 30 or 0.5)");
  const ms = Number(text) * 1000;
  if (!(ms > 0)) throw badValue(flag, text, "is not more than 0 seconds");
  if (ms > MAX_TIMEOUT_MS) throw badValue(flag, text, `is above ${Math.floor(MAX_TIMEOUT_MS / 1000)} seconds (about 24.8 days), the longest timeout supported`);
  return ms;
}

/** Decimal seconds >= 0 ("5", "0.5", "0": no grace at all) to milliseconds. */
export function readGrace(flag: string, text: string): number {
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(text)) throw badValue(flag, text, "is not a number of seconds (e.g. 5 or 0.5; 0 kills at once)");
  const ms = Number(text) * 1000;
  if (ms > MAX_TIMEOUT_MS) throw badValue(flag, text, `is above ${Math.floor(MAX_TIMEOUT_MS / 1000)} seconds (about 24.8 days), the longest wait supported`);
  return ms;
}
