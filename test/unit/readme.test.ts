// The README documents the blocklist tables of the code: its two syscall tables are the
// code's, row for row, and every protection name appears there, so they cannot drift apart.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { DEFAULT_BLOCKLIST, REVIEWED_ALLOWED, type BlockEntry } from "../../src/plan/blocklist.js";
import { PROTECTIONS } from "../../src/policy/types.js";

const README = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
const section = README.slice(README.indexOf("## The syscall blocklist"), README.indexOf("## Security model"));

/** The markdown row the README shows for an entry. */
function row(e: BlockEntry): string {
  return `| ${e.names.join(", ")} | ${e.why}${e.group !== undefined ? `; lift with \`extraAllowSyscalls: ["${e.group}"]\`` : ""} |`;
}

/** The rows of the table whose header line is `header`. */
function tableRows(header: string): string[] {
  const at = section.indexOf(header);
  assert.ok(at >= 0, `README has no table headed ${header}`);
  const lines = section.slice(at).split("\n");
  const out: string[] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith("|")) break;
    out.push(line);
  }
  return out;
}

test("the README's blocklist table is the code's, row for row", () => {
  assert.deepEqual(tableRows("| syscalls | why |"), DEFAULT_BLOCKLIST.map(row));
});

test("the README's table of reviewed syscalls that stay allowed is the code's, row for row", () => {
  assert.deepEqual(tableRows("| syscalls | why they stay allowed |"), REVIEWED_ALLOWED.map(row));
});

test("every protection is in the README's kernel requirements table", () => {
  for (const p of PROTECTIONS) assert.ok(README.includes(`| \`${p}\` |`), `${p} missing from README`);
});
