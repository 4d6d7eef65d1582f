// Extracts the fenced code blocks of the markdown docs and the markers that say how each
// is used: `<!-- not run: REASON -->`, `<!-- file: NAME -->` or `<!-- setup: SHELL -->`
// on the line right before the fence. docs-run.test.ts runs every block not marked "not run".

/** Languages the docs test knows how to run. */
export const RUNNABLE = ["sh", "console", "ts", "js", "mjs", "toml"] as const;

export interface DocBlock {
  /** "README.md:57": the document and the line of the opening fence. */
  id: string;
  doc: string;
  line: number;
  /** The fence's info string, first word ("" when none). */
  lang: string;
  body: string;
  /** Why the block is not run (from `<!-- not run: REASON -->`), when marked so. */
  notRun?: string;
  /** The block is the content of this file, written in the document's directory. */
  file?: string;
  /** A shell command run (in the document's directory) before the block. */
  setup?: string;
}

const MARKER = /^<!--\s*(not run|file|setup):\s*([\s\S]*?)\s*-->$/;

/** The fenced blocks of one markdown text, in order, with their markers. */
export function docBlocks(doc: string, text: string): DocBlock[] {
  const lines = text.split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    if (j === lines.length) throw new Error(`${doc}:${i + 1}: fence not closed`);
    const block: DocBlock = { id: `${doc}:${i + 1}`, doc, line: i + 1, lang: open[2]!.trim().split(/\s+/)[0] ?? "", body: body.join("\n") + "\n" };
    // Markers: the HTML comments (one per line) right above the fence.
    for (let k = i - 1; k >= 0; k--) {
      const m = MARKER.exec(lines[k]!.trim());
      if (!m) break;
      if (m[1] === "not run") block.notRun = m[2]!;
      else if (m[1] === "file") block.file = m[2]!;
      else block.setup = m[2]!;
    }
    blocks.push(block);
    i = j;
  }
  return blocks;
}

export interface ConsoleStep {
  command: string;
  /** The output the doc shows under the command (stdout and stderr as a terminal shows them). */
  output: string;
}

/** A ```console block: `$ command` lines, each followed by the output it shows. */
export function consoleSteps(body: string): ConsoleStep[] {
  const steps: ConsoleStep[] = [];
  for (const line of body.replace(/\n$/, "").split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), output: "" });
    else if (steps.length === 0) throw new Error(`console block: output before the first "$ " command: ${line}`);
    else steps[steps.length - 1]!.output += `${line}\n`;
  }
  return steps;
}
