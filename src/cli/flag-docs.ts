// The generated parts of docs/cli.md and README.md: the flag table of `sandlock run` and
// the "not supported yet" list, both from RUN_FLAGS and NOT_YET_ENFORCED (npm run docs).

import { NOT_YET_ENFORCED } from "../policy/support.js";
import { RUN_FLAGS, type RunFlag } from "./run-flags.js";

/** Why the flag is refused at run time ("not supported yet"), or undefined if it works. */
export function refusedWhy(f: RunFlag): string | undefined {
  if (f.kind === "later") return f.later;
  return f.field === undefined ? undefined : NOT_YET_ENFORCED.find((e) => e.field === f.field)?.why;
}

const cell = (text: string): string => text.replaceAll("|", "\\|");

/** `-r`, `--fs-read` */
export function flagCell(f: RunFlag): string {
  return f.short === undefined ? `\`--${f.long}\`` : `\`-${f.short}\`, \`--${f.long}\``;
}

function fieldCell(f: RunFlag): string {
  if (f.field !== undefined) return f.kind === "off" ? `\`${f.field}\` (false)` : `\`${f.field}\``;
  return f.kind === "later" ? "(none yet)" : f.kind === "profile" ? "(profiles)" : "(run)";
}

/** The table of docs/cli.md: flag, value, policy field, meaning, refused now. */
export function flagTable(): string {
  const rows = RUN_FLAGS.map((f) => `| ${flagCell(f)} | ${cell(f.arg ?? "")} | ${fieldCell(f)} | ${f.doc} | ${refusedWhy(f) === undefined ? "" : "yes"} |`);
  return ["| flag | value | policy field | meaning | refused now |", "|---|---|---|---|---|", ...rows].join("\n");
}

/** Every policy field and flag refused as "not supported yet", with the reason. */
export function notSupportedTable(): string {
  const rows = NOT_YET_ENFORCED.map((e) => {
    const flag = RUN_FLAGS.find((f) => f.field === e.field);
    return `| \`${e.field}\` | ${flag === undefined ? "" : `\`--${flag.long}\``} | ${cell(e.why)} |`;
  });
  for (const f of RUN_FLAGS) if (f.kind === "later") rows.push(`| (none yet) | \`--${f.long}\` | ${cell(f.later ?? "")} |`);
  return ["| policy field | flag | why it is refused |", "|---|---|---|", ...rows].join("\n");
}

/** The markers around a generated region called `name`. */
export function markers(name: string): { begin: string; end: string } {
  return { begin: `<!-- generated: ${name} (npm run docs; edit src/cli/run-flags.ts or src/policy/support.ts) -->`, end: `<!-- end generated: ${name} -->` };
}

/** `text` with the region `name` replaced by `content`; throws if the markers are missing. */
export function replaceRegion(text: string, name: string, content: string): string {
  const { begin, end } = markers(name);
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a === -1 || b === -1 || b < a) throw new Error(`the markers of the generated region "${name}" are missing`);
  return `${text.slice(0, a + begin.length)}\n${content}\n${text.slice(b)}`;
}

/** The generated regions of each file, by file (relative to the package root). */
export function generatedRegions(): Record<string, Record<string, string>> {
  return {
    "docs/cli.md": { "run flags": flagTable(), "not supported yet": notSupportedTable() },
    "README.md": { "not supported yet": notSupportedTable() },
  };
}
