// Values that shape what the sandboxed command sees of itself: its name (also the
// hostname), its environment, and the uid/gid it appears to run as.

import { checkInteger, checkPlainObject } from "./field-checks.js";
import { invalid } from "./quote.js";
import { PolicyError } from "../errors.js";
import { didYouMean } from "./suggest.js";

/** HOST_NAME_MAX: the name is also the sandbox's hostname. */
export const MAX_NAME_BYTES = 64;
/** (uid_t)-1 means "no change" to the kernel, so the largest usable id is one below. */
export const MAX_ID = 2 ** 32 - 2;

export function checkName(field: string, value: unknown): string {
  if (typeof value !== "string") throw invalid(field, value, "is not a string");
  if (value === "") throw invalid(field, value, "is empty");
  if (value.includes("\0")) throw invalid(field, value, "contains a NUL byte");
  // The name is the hostname the sandbox sees (/etc/hostname is one line) and a label
  // printed by the CLI: a newline would make two lines of it, an escape sequence would
  // rewrite the terminal of whoever lists sandboxes.
  const bad = /[\p{Cc}\p{Zl}\p{Zp}\s]/u.exec(value);
  if (bad !== null) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    throw invalid(field, value, `contains U+${code} at position ${bad.index} (control characters and whitespace are not allowed in a name)`);
  }
  if (value.includes("/")) throw invalid(field, value, `contains "/"`);
  if (value === "." || value === "..") throw invalid(field, value, `is reserved ("." and ".." name directories)`);
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_NAME_BYTES) throw invalid(field, value, `is ${bytes} bytes long in UTF-8 (at most ${MAX_NAME_BYTES})`);
  return value;
}

/** Variables to set: names non-empty without "=" or NUL; values strings without NUL. */
export function parseEnv(field: string, value: unknown): Readonly<Record<string, string>> {
  const given = checkPlainObject(field, value, "variable names to string values");
  const env: Record<string, string> = {};
  for (const [key, val] of Object.entries(given)) {
    if (key === "") throw invalid(field, key, "is not a variable name (it is empty)");
    if (key.includes("=")) throw invalid(field, key, `is not a variable name (it contains "=")`);
    if (key.includes("\0")) throw invalid(field, key, "is not a variable name (it contains a NUL byte)");
    // A profile's [program.env] or a JSON policy can name it; an assignment to an object
    // sets the object's prototype instead, and the variable vanished without a word.
    if (key === "__proto__") throw invalid(field, key, "cannot be passed as a variable (a JavaScript object cannot hold that name as a key)");
    if (typeof val !== "string") throw invalid(`${field}.${key}`, val, "is not a string");
    if (val.includes("\0")) throw invalid(`${field}.${key}`, val, "contains a NUL byte");
    env[key] = val;
  }
  return Object.freeze(env);
}

const USER_KEYS = ["uid", "gid"] as const;

export function parseUser(field: string, value: unknown): Readonly<{ uid: number; gid: number }> {
  const given = checkPlainObject(field, value, "{uid, gid}");
  for (const key of Object.keys(given)) {
    if (!(USER_KEYS as readonly string[]).includes(key)) {
      throw new PolicyError(`${field}.${key}`, given[key], `unknown field ${JSON.stringify(key)} in ${field}${didYouMean(key, USER_KEYS)} (it takes uid and gid)`);
    }
  }
  const ids = USER_KEYS.map((key) => {
    const id = given[key];
    if (id === undefined) throw invalid(`${field}.${key}`, id, `is missing (${field} needs both uid and gid)`);
    return checkInteger(`${field}.${key}`, id, 0, MAX_ID, `is outside 0..${MAX_ID}`);
  });
  return Object.freeze({ uid: ids[0]!, gid: ids[1]! });
}
