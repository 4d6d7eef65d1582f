// docs/cli.md documents the flags of the code: its table has a row for every flag of
// `sandlock run`, with the policy field it sets, and names no flag the code lacks.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { RUN_FLAGS } from "../../src/cli/run-flags.js";
import { PRESET_NAMES } from "../../src/policy/presets.js";
import { PROFILE_KEYS } from "../../src/profile/schema.js";
import { NOT_YET_ENFORCED } from "../../src/policy/index.js";

const CLI_MD = readFileSync(new URL("../../../docs/cli.md", import.meta.url), "utf8");
const PROFILES_MD = readFileSync(new URL("../../../docs/profiles.md", import.meta.url), "utf8");

test("docs/cli.md has a row for every flag of sandlock run, with its policy field", () => {
  for (const f of RUN_FLAGS) {
    const label = f.short === undefined ? `| \`--${f.long}\` |` : `| \`-${f.short}\`, \`--${f.long}\` |`;
    const row = CLI_MD.split("\n").find((l) => l.startsWith(label));
    assert.ok(row !== undefined, `docs/cli.md has no row for --${f.long}`);
    if (f.field !== undefined) assert.ok(row.includes(`\`${f.field}\``), `the row of --${f.long} does not name ${f.field}`);
  }
  const documented = [...CLI_MD.matchAll(/^\| (?:`-.`, )?`--([a-z-]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(documented.filter((d) => !RUN_FLAGS.some((f) => f.long === d)), [], "rows for flags the code does not have");
});

test("docs/profiles.md names every preset and every profile key", () => {
  for (const p of PRESET_NAMES) assert.ok(PROFILES_MD.includes(`| \`${p}\` |`), `preset ${p}`);
  for (const k of PROFILE_KEYS) {
    const row = PROFILES_MD.split("\n").find((l) => l.includes(`\`${k.key}\``) && l.startsWith("|"));
    assert.ok(row !== undefined, `[${k.section}] ${k.key} is not in the key table`);
  }
});

test("docs/cli.md's \"refused now\" column is yes exactly for the flags the code refuses", () => {
  const notYet = new Set<string>(NOT_YET_ENFORCED.map((e) => e.field));
  const wrong: string[] = [];
  for (const f of RUN_FLAGS) {
    const label = f.short === undefined ? `| \`--${f.long}\` |` : `| \`-${f.short}\`, \`--${f.long}\` |`;
    const row = CLI_MD.split("\n").find((l) => l.startsWith(label));
    if (row === undefined) continue; // the test above reports it
    const cells = row.split("|").map((c) => c.trim());
    const refused = cells[cells.length - 2] === "yes";
    const expected = f.kind === "later" || (f.field !== undefined && notYet.has(f.field));
    if (refused !== expected) wrong.push(`--${f.long}: doc says ${refused ? "refused" : "enforced"}, code ${expected ? "refuses it" : "enforces it"}`);
  }
  assert.deepEqual(wrong, []);
});
