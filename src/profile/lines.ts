// Where a [section] or a key is written in a TOML text, for error messages: the parser
// gives values, not positions, so the lines are found by a light scan of the text.

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
      const header = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line);
      if (header !== null) {
        table = splitKey(header[1]!);
        this.#note(table, i + 1);
        return;
      }
      const assign = /^((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=(.*)$/.exec(line);
      if (assign === null) return;
      this.#note([...table, ...splitKey(assign[1]!)], i + 1);
      const rest = assign[2]!;
      for (const q of ['"""', "'''"]) {
        const at = rest.indexOf(q);
        if (at >= 0 && rest.indexOf(q, at + 3) < 0) inMultiline = q;
      }
    });
  }

  #note(path: readonly string[], line: number): void {
    for (let n = 1; n <= path.length; n++) {
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
