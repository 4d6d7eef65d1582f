// A policy (and the command of a profile) written back as a TOML profile, section by
// section in the order of the key table: what `sandlock profile show` prints.

import type { PolicyJSON } from "../policy/types.js";
import { PROFILE_KEYS, SECTIONS } from "./schema.js";

function fieldValue(json: PolicyJSON, field: string): unknown {
  const [head, sub] = field.split(".") as [string, string | undefined];
  const v = (json as Record<string, unknown>)[head];
  return sub === undefined ? v : (v as Record<string, unknown> | undefined)?.[sub];
}

/** Sizes and seeds are decimal strings in JSON; small ones read better as integers. */
function tomlValue(kind: string, v: unknown): unknown {
  if ((kind === "size" || kind === "seed") && typeof v === "string" && Number.isSafeInteger(Number(v))) return Number(v);
  return v;
}

/** A key as TOML writes it: bare when it can be, else quoted. */
function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k);
}

/** Characters JSON.stringify leaves as they are that TOML forbids raw in a basic string
 * (DEL) or that a person reviewing the file could be fooled by (C1 controls, bidi
 * overrides, zero-width and line-separator characters): written as \uXXXX, the same value. */
const UNSAFE_IN_TOML = /[\u007f-\u009f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** A TOML basic string: JSON's escapes (\" \\ \n \uXXXX...) are all valid TOML ones. */
export function tomlString(s: string): string {
  return JSON.stringify(s).replace(UNSAFE_IN_TOML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Values of a profile: strings, numbers, booleans, arrays of them, tables of strings. */
function tomlText(v: unknown): string {
  if (Array.isArray(v)) {
    const items = v.map(tomlText);
    const one = `[${items.join(", ")}]`;
    return one.length <= 60 ? one : `[\n${items.map((i) => `  ${i},\n`).join("")}]`;
  }
  if (v !== null && typeof v === "object") {
    return `{ ${Object.entries(v).map(([k, x]) => `${tomlKey(k)} = ${tomlText(x)}`).join(", ")} }`;
  }
  return typeof v === "string" ? tomlString(v) : String(v);
}

export function profileToToml(json: PolicyJSON, cmd: readonly string[] | undefined, header: readonly string[] = []): string {
  const doc: Record<string, Record<string, unknown>> = {};
  for (const section of SECTIONS) doc[section] = {};
  if (cmd !== undefined) {
    doc.program!.exec = cmd[0];
    if (cmd.length > 1) doc.program!.args = cmd.slice(1);
  }
  for (const e of PROFILE_KEYS) {
    if (e.field === undefined) continue;
    const v = fieldValue(json, e.field);
    if (v !== undefined) doc[e.section]![e.key] = tomlValue(e.kind, v);
  }
  const sections = SECTIONS.filter((s) => Object.keys(doc[s]!).length > 0)
    .map((s) => `[${s}]\n${Object.entries(doc[s]!).map(([k, v]) => `${tomlKey(k)} = ${tomlText(v)}\n`).join("")}`);
  const head = header.map((h) => `# ${h}\n`).join("");
  return [head, ...sections].filter((part) => part !== "").join("\n");
}
