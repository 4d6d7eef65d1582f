// Text a sandboxed program chose (file names, host names, paths of refused calls) made safe
// to print on a person's terminal: no control character, line break or bidi override of
// it reaches the terminal as itself. Each is written as \u{XXXX}, so the real name can be
// read back; a backslash that would start such an escape is escaped too.

/** C0 and C1 controls and DEL (ESC starts CSI, OSC 52 clipboard writes, OSC 8 links; 0x9B is
 * CSI by itself in terminals that honour 8-bit controls), line and paragraph separators,
 * zero-width and bidi formatting characters (U+202E shows a name reversed), the BOM. The
 * classes spelled out (\p{Cc} is U+0000-U+001F and U+007F-U+009F; \p{Zl} U+2028, \p{Zp}
 * U+2029), without the u flag: a property class cost every CLI start 0.5 ms to build. */
const UNSAFE = /[\0-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\\(?=u\{)/g;

const escape = (c: string): string => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`;

/** `v` as text safe to print: each unsafe character as \u{XXXX}. */
export function printable(v: unknown): string {
  return String(v).replace(UNSAFE, escape);
}

/** A whole text of the sandbox's (the lines of a dry run's diff) as printable keeps a name:
 * its lines and tabs stay, every other unsafe character is \u{XXXX} (a carriage return
 * too: it would let a line overwrite what the terminal showed before it). */
export function printableText(text: string): string {
  return text.replace(UNSAFE, (c) => (c === "\t" || c === "\n" ? c : escape(c)));
}

/** A text of the sandbox's as the CLI writes it on stdout: escaped for a terminal (a
 * person reads it: the contents a sandbox wrote must not drive the terminal), the bytes
 * as they are anywhere else (a patch file, a pipe to `git apply`). */
export function forStdout(text: string): string {
  return process.stdout.isTTY ? printableText(text) : text;
}

/** printable, cut to `max` characters (a name of megabytes must not flood the report; the
 * JSON result keeps it whole). */
export function printableShort(v: unknown, max = 256): string {
  const chars = [...String(v)];
  if (chars.length <= max) return printable(v);
  const more = chars.length - max;
  return `${printable(chars.slice(0, max).join(""))}... (${more} more character${more === 1 ? "" : "s"})`;
}

/** At most `max` items, printable, joined with ", ", then how many more there were. */
export function printableList(items: readonly unknown[], max = 20, more = "more"): string {
  const shown = items.slice(0, max).map((i) => printableShort(i));
  return items.length > max ? `${shown.join(", ")}, and ${items.length - max} ${more}` : shown.join(", ");
}
