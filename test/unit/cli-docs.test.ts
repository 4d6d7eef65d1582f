// docs/cli.md documents the flags of the code: its table has a row for every flag of
// `sandlock run`, with the policy field it sets, and names no flag the code lacks; the
// generated tables, --help and the policy doc comments agree with the flag/support tables.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { FLAG_OF_FIELD, RUN_FLAGS } from "../../src/cli/run-flags.js";
import { generatedRegions, markers, refusedWhy, replaceRegion } from "../../src/cli/flag-docs.js";
import { mainHelp } from "../../src/cli/help.js";
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

test("the generated tables of docs/cli.md and README.md match the flag and support tables (npm run docs)", () => {
  for (const [file, regions] of Object.entries(generatedRegions())) {
    const text = readFileSync(new URL(`../../../${file}`, import.meta.url), "utf8");
    for (const [name, content] of Object.entries(regions)) {
      assert.equal(replaceRegion(text, name, content), text, `${file}: the region "${name}" is out of date (run npm run docs)`);
    }
  }
});

test("replaceRegion notices a drifted region and missing markers", () => {
  const { begin, end } = markers("x");
  const text = `a\n${begin}\nold row\n${end}\nb`;
  assert.equal(replaceRegion(text, "x", "new row"), `a\n${begin}\nnew row\n${end}\nb`);
  assert.notEqual(replaceRegion(text, "x", "new row"), text);
  assert.throws(() => replaceRegion("no markers", "x", ""), { message: 'the markers of the generated region "x" are missing' });
});

test("--help marks exactly the refused flags \"(not supported yet)\", and every refused field has a row", () => {
  const help = mainHelp().split("\n");
  for (const f of RUN_FLAGS) {
    const line = help.find((l) => new RegExp(`^  (-., )?\\s*--${f.long}(?= |$)`).test(l));
    assert.ok(line !== undefined, `--help has no line for --${f.long}`);
    assert.equal(line.endsWith("(not supported yet)"), refusedWhy(f) !== undefined, `--${f.long}: ${line}`);
  }
  // The library decides: a flag is refused exactly when its field is in NOT_YET_ENFORCED.
  for (const e of NOT_YET_ENFORCED) {
    const flag = RUN_FLAGS.find((f) => f.field === e.field);
    if (flag !== undefined) assert.equal(refusedWhy(flag), e.why);
  }
  assert.equal(refusedWhy(RUN_FLAGS.find((f) => f.long === "fs-read")!), undefined);
});

test("every PolicyInput field's doc comment names its CLI flag and default, and says when it is refused", () => {
  const src = readFileSync(new URL("../../../src/policy/types.ts", import.meta.url), "utf8");
  const body = src.slice(src.indexOf("export interface PolicyInput {"), src.indexOf("\n}\n", src.indexOf("export interface PolicyInput {")));
  const notYet = new Set<string>(NOT_YET_ENFORCED.map((e) => e.field));
  const fields = [...body.matchAll(/\/\*\*([^]*?)\*\/\n {2}([a-zA-Z]+)\?:/g)].map((m) => ({ doc: m[1]!, field: m[2]! }));
  const declared = [...body.matchAll(/^ {2}([a-zA-Z]+)\?:/gm)].map((m) => m[1]);
  assert.deepEqual(fields.map((f) => f.field), declared, "a field of PolicyInput has no doc comment");
  for (const { doc, field } of fields) {
    assert.match(doc, /Default: /, `${field}: no default in its doc comment`);
    const flag = FLAG_OF_FIELD.get(field) ?? (field === "protection" ? "--allow-degraded" : undefined);
    if (flag !== undefined) assert.ok(doc.includes(`\`${flag}\``), `${field}: its doc comment does not name ${flag}`);
    else assert.ok(doc.includes("CLI: none"), `${field}: has no flag, and its doc comment should say so`);
    assert.equal(doc.includes("Not supported yet"), notYet.has(field), `${field}: the doc comment and NOT_YET_ENFORCED disagree on whether it is refused`);
  }
});
