// The README documents the blocklist table of the code: every blocked syscall and every
// protection name appears there, so the two cannot drift apart silently.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DEFAULT_BLOCKLIST } from "../../src/plan/blocklist.js";
import { PROTECTIONS } from "../../src/policy/types.js";

const README = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
const section = README.slice(README.indexOf("## The syscall blocklist"), README.indexOf("## Security model"));

test("every syscall of the default blocklist is in the README's blocklist table", () => {
  for (const entry of DEFAULT_BLOCKLIST) {
    for (const name of entry.names) assert.match(section, new RegExp(`\\b${name}\\b`), `${name} missing from README`);
  }
});

test("every protection is in the README's kernel requirements table", () => {
  for (const p of PROTECTIONS) assert.ok(README.includes(`| \`${p}\` |`), `${p} missing from README`);
});
