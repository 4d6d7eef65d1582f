// Text a sandboxed program chose, made safe for a terminal (src/printable.ts): what is
// escaped, that the real name can be read back, and the cuts that keep a report short.

import assert from "node:assert/strict";
import { test } from "node:test";
import { printable, printableList, printableShort, printableText } from "../../src/printable.js";

/** Reads printable's output back: each \u{X} is the character X. */
const unescape = (s: string): string => s.replace(/\\u\{([0-9A-F]+)\}/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)));

test("printable: controls, C1, line breaks, bidi and zero-width characters escaped; the name reads back", () => {
  const names = ["a\x1b]52;c;SGVsbG8=\x07", "b\u009b31m", "c\nsandlock: forged", "d\u202egnp.exe", "e\u200b\u2028\ufeff\x7f", "f\\u{1B}", "plain/ü/名前"];
  for (const n of names) {
    const p = printable(n);
    assert.doesNotMatch(p, /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/, JSON.stringify(p));
    assert.equal(unescape(p), n, `${JSON.stringify(n)} reads back from ${p}`);
  }
  assert.equal(printable("a\x1bb"), "a\\u{1B}b");
  assert.equal(printable("f\\u{1B}"), "f\\u{5C}u{1B}", "a backslash that would begin an escape is one");
  assert.equal(printable("C:\\dir"), "C:\\dir", "other backslashes stay");
  assert.equal(printable("plain/ü/名前"), "plain/ü/名前");
});

test("printableShort and printableList: long names and long lists are cut, saying how much", () => {
  assert.equal(printableShort("x".repeat(300), 256), `${"x".repeat(256)}... (44 more characters)`);
  assert.equal(printableShort("\x1b".repeat(3), 2), "\\u{1B}\\u{1B}... (1 more character)", "cut before escaping: no escape is split");
  assert.equal(printableList(["a", "b\x07"], 20), "a, b\\u{7}");
  assert.equal(printableList(Array.from({ length: 22 }, (_, i) => String(i)), 20), `${Array.from({ length: 20 }, (_, i) => String(i)).join(", ")}, and 2 more`);
});

test("printableText: a diff's lines and tabs stay; every other control, C1 and bidi character is escaped and reads back", () => {
  const text = "@@ -1 +1 @@\n-old\tline\n+\x1b]52;c;SGVsbG8=\x07ok\r\n+\u009b2J\u202e\x7f\\u{1B}\n";
  const p = printableText(text);
  assert.doesNotMatch(p, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, JSON.stringify(p));
  assert.equal(p, "@@ -1 +1 @@\n-old\tline\n+\\u{1B}]52;c;SGVsbG8=\\u{7}ok\\u{D}\n+\\u{9B}2J\\u{202E}\\u{7F}\\u{5C}u{1B}\n");
  assert.equal(unescape(p), text);
  assert.equal(printableText("plain\ttext\n"), "plain\ttext\n", "control: nothing to escape, nothing changed");
});
