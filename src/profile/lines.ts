// Where a [section] or a key is written in a TOML text, for error messages: the parser
// gives values, not positions, so the lines are found by a light scan of the text, linear
// in its length (a profile is a file from outside: a 1 MiB line must not cost minutes).

/** "a.b" written as `a.b`, `"a".b` or `a . "b"` -> ["a", "b"]. */
function splitKey(text: string): string[] {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    parts.push(m[1] ?? m[2] ?? m[3] ?? "");
    if (m[4] === "") break;
  }
  return parts;
}

/** Errors name a [section] and its key: parts of a dotted key deeper than this are not
 * noted (noting every prefix of a 100,000-part key took gigabytes and a minute). */
const DEPTH = 8;

/** `[table]` or `[[array]]` at the start of a line: the key up to the first "]". Linear: the
 * key cannot end in a run of spaces it could also have taken (they are trimmed after). */
const HEADER = /^\[\[?([^\]]*)\]/;
/** `key = value`: the key is every character up to the first "=" outside quotes. Greedy and
 * without a trailing `\s*` (spaces are part of the key's characters), so a line that is no
 * assignment fails in one pass instead of trying every split of a run of spaces. */
const ASSIGN = /^((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s-])+)=(.*)$/;

export class LineIndex {
  /** "section" and "section\0key" -> 1-based line of their first appearance. */
  readonly #lines = new Map<string, number>();

  constructor(text: string) {
    let table: string[] = [];
    let inMultiline: string | undefined;
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      // Lines inside a multi-line string are values, not keys.
      if (inMultiline !== undefined) {
        if (line.includes(inMultiline)) inMultiline = undefined;
        return;
      }
      const header = HEADER.exec(line);
      if (header !== null && header[1]!.trim() !== "") {
        table = splitKey(header[1]!.trim());
        this.#note(table, i + 1);
        return;
      }
      const assign = ASSIGN.exec(line);
      if (assign === null) return;
      this.#note([...table, ...splitKey(assign[1]!.trim())], i + 1);
      const rest = assign[2]!;
      for (const q of ['"""', "'''"]) {
        const at = rest.indexOf(q);
        if (at >= 0 && rest.indexOf(q, at + 3) < 0) inMultiline = q;
      }
    });
  }

  #note(path: readonly string[], line: number): void {
    for (let n = 1; n <= Math.min(path.length, DEPTH); n++) {
      const key = path.slice(0, n).join("\0");
      if (!this.#lines.has(key)) this.#lines.set(key, line);
    }
  }

  /** The line of `path` (["limits", "cpu"]), else of its closest written parent. */
  lineOf(path: readonly string[]): number | undefined {
    for (let n = path.length; n > 0; n--) {
      const line = this.#lines.get(path.slice(0, n).join("\0"));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}
