// One TOML profile text -> a policy input, its [program] command and what it extends.
// Every unknown section or key, and every value of the wrong shape, is an error naming the
// file, the line and the key; values are then checked by the policy's own validation.

import { PolicyError } from "../errors.js";
import { isPlainObject } from "../policy/field-checks.js";
import { didYouMean } from "../policy/suggest.js";
import { validatePolicy } from "../policy/validate.js";
import type { PolicyInput } from "../policy/types.js";
import { ProfileError } from "./errors.js";
import { LineIndex } from "./lines.js";
import { EXPECTED, SECTIONS, TOP_LEVEL_KEYS, keyOfField, keysOf, type KeyKind, type ProfileKey } from "./schema.js";

export interface ParsedProfile {
  readonly file: string;
  /** The policy fields the profile sets (validated on their own). */
  readonly input: PolicyInput;
  /** [program] exec and args: the command when none is given. */
  readonly cmd: readonly string[] | undefined;
  /** The preset or profile named by `extends`, and its line. */
  readonly extends: { name: string; line: number | undefined } | undefined;
}

interface TomlDateLike extends Date {
  isDateTime?(): boolean;
  isLocal?(): boolean;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return `a date (${v.toISOString()})`;
  if (isPlainObject(v)) return "a table";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The value of a key as the policy field wants it, or a description of what was expected. */
function convert(kind: KeyKind, v: unknown): { ok: true; value: unknown } | { ok: false } {
  const str = (x: unknown): x is string => typeof x === "string";
  const int = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);
  const ok = (value: unknown): { ok: true; value: unknown } => ({ ok: true, value });
  switch (kind) {
    case "string": return str(v) ? ok(v) : { ok: false };
    case "paths":
    case "strings": return Array.isArray(v) && v.every(str) ? ok(v) : { ok: false };
    case "bool": return typeof v === "boolean" ? ok(v) : { ok: false };
    case "int": return int(v) ? ok(v) : { ok: false };
    case "size":
    case "seed": return int(v) || str(v) ? ok(v) : { ok: false };
    case "ports": return Array.isArray(v) && v.every((x) => int(x) || str(x)) ? ok(v) : { ok: false };
    case "ints": return Array.isArray(v) && v.every(int) ? ok(v) : { ok: false };
    case "table": return isPlainObject(v) && Object.values(v).every(str) ? ok({ ...v }) : { ok: false };
    case "gpu": return v === "all" || (Array.isArray(v) && v.every(int)) ? ok(v) : { ok: false };
    case "time": {
      if (str(v)) return ok(v);
      const d = v as TomlDateLike;
      // A local date-time names no instant: the sandbox's clock needs an offset.
      if (v instanceof Date && d.isDateTime?.() !== false && d.isLocal?.() !== true) return ok(d.toISOString());
      return { ok: false };
    }
  }
}

function setField(input: Record<string, unknown>, field: string, value: unknown): void {
  const [head, sub] = field.split(".") as [string, string | undefined];
  if (sub === undefined) input[head] = value;
  else ((input[head] ??= {}) as Record<string, unknown>)[sub] = value;
}

/** "maxCpu: 200 is outside..." -> "200 is outside..." (the key already names the field). */
function withoutField(message: string, field: string): string {
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}

export async function parseProfile(file: string, text: string): Promise<ParsedProfile> {
  const { parse, TomlError } = await import("smol-toml");
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    const why = e.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new ProfileError(file, e.line, undefined, `is not valid TOML: ${why} (column ${e.column})`);
  }
  const lines = new LineIndex(text);
  const fail = (path: string[], key: string, what: string, value?: unknown): ProfileError =>
    new ProfileError(file, lines.lineOf(path), key, what, value);

  const input: Record<string, unknown> = {};
  const written = new Map<string, ProfileKey>();
  let exec: string | undefined;
  let args: string[] | undefined;
  let ext: ParsedProfile["extends"];

  for (const [name, value] of Object.entries(doc)) {
    if ((TOP_LEVEL_KEYS as readonly string[]).includes(name)) {
      if (typeof value !== "string" || value === "") throw fail([name], name, `expected the name of a preset or profile (a string), got ${describe(value)}`, value);
      ext = { name: value, line: lines.lineOf([name]) };
      continue;
    }
    if (!SECTIONS.includes(name)) {
      const known = [...SECTIONS, ...TOP_LEVEL_KEYS];
      throw fail([name], isPlainObject(value) ? `[${name}]` : name, `unknown ${isPlainObject(value) ? "section" : "key"}${didYouMean(name, known)} (sections: ${SECTIONS.map((s) => `[${s}]`).join(", ")}; top-level keys: ${TOP_LEVEL_KEYS.join(", ")})`);
    }
    if (!isPlainObject(value)) throw fail([name], name, `expected a section ([${name}]), got ${describe(value)}`, value);
    const keys = keysOf(name);
    for (const [key, v] of Object.entries(value)) {
      const label = `[${name}] ${key}`;
      const spec = keys.find((e) => e.key === key);
      if (spec === undefined) {
        throw fail([name, key], label, `unknown key${didYouMean(key, keys.map((e) => e.key))} (keys of [${name}]: ${keys.map((e) => e.key).join(", ")})`);
      }
      const converted = convert(spec.kind, v);
      if (!converted.ok) throw fail([name, key], label, `expected ${EXPECTED[spec.kind]}, got ${describe(v)}`, v);
      if (spec.field === undefined) {
        if (key === "exec") exec = converted.value as string;
        else args = converted.value as string[];
        continue;
      }
      setField(input, spec.field, converted.value);
      written.set(spec.field.split(".")[0]!, spec);
    }
  }
  if (args !== undefined && exec === undefined) throw fail(["program", "args"], "[program] args", "needs [program] exec (the program the arguments are for)");

  // The policy's own checks, reported against the key that set the field.
  try {
    validatePolicy(input);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    const spec = keyOfField(e.field) ?? written.get(e.field.split(/[.[]/, 1)[0]!);
    if (spec === undefined) throw new ProfileError(file, undefined, undefined, e.message, e.value);
    throw fail([spec.section, spec.key], `[${spec.section}] ${spec.key}`, withoutField(e.message, e.field), e.value);
  }
  return { file, input: input as PolicyInput, cmd: exec === undefined ? undefined : [exec, ...(args ?? [])], extends: ext };
}
