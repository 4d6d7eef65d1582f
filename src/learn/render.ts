// A learning run's outcome as text: the TOML profile (SPEC 9 keys, `extends` a preset) and
// the report of what the command did, for stderr.

import { existsSync } from "node:fs";
import { shellWords } from "../cli/denials.js";
import { printable, printableList, printableShort } from "../printable.js";
import { tomlString } from "../profile/to-toml.js";
import { MAX_ENTRIES, MAX_PATH_BYTES, type Observed } from "./observed.js";
import type { Suggestion } from "./suggest.js";

const str = tomlString;

function array(items: readonly (string | number)[]): string {
  const parts = items.map((i) => (typeof i === "number" ? String(i) : str(i)));
  const one = `[${parts.join(", ")}]`;
  return one.length <= 72 ? one : `[\n${parts.map((p) => `  ${p},\n`).join("")}]`;
}

export interface ProfileText {
  readonly cmd: readonly string[];
  readonly cwd: string;
  /** The date line of the header (given, so tests can fix it). */
  readonly when: string;
}

export function profileText(s: Suggestion, p: ProfileText): string {
  const out: string[] = [
    `# Written by sandlock learn on ${p.when} from one run of:`,
    // A line break in an argument (sh -c "$(cat build.sh)") would end the comment and make
    // the rest of that argument TOML: printable keeps the command on this one line.
    `#   ${printable(shellWords(p.cmd))}`,
    "# Review it before use: it allows what that run did, no more.",
    `extends = ${str(s.base)}`,
    "",
    "[program]",
    `exec = ${str(p.cmd[0]!)}`,
  ];
  if (p.cmd.length > 1) out.push(`args = ${array(p.cmd.slice(1))}`);
  out.push(`cwd = ${str(p.cwd)}`);
  const fs: string[] = [];
  if (s.read.length > 0) fs.push(`read = ${array(s.read)}`);
  if (s.write.length > 0) fs.push(`write = ${array(s.write)}`);
  if (s.privateTmp) fs.push("private_tmp = true");
  // The learning run could not change protected names (git hooks, .envrc...): neither can
  // the runs of its profile, wherever the profile lets them write.
  if (s.write.length > 0) fs.push("protected_files = true");
  if (fs.length > 0) out.push("", "[filesystem]", ...fs);
  const net: string[] = [];
  if (s.netAllow.length > 0) net.push(`allow = ${array(s.netAllow)}`);
  if (s.allowBind.length > 0) net.push(`allow_bind = ${array(s.allowBind)}`);
  if (net.length > 0) out.push("", "[network]", ...net);
  return `${out.join("\n")}\n`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** What the run did, in a few lines: for the user to check before trusting the profile.
 * Every path and name in it is one the command chose (a program it wrote and ran, a link
 * it made to a secret): printable, so none writes to the terminal or forges a line, and
 * each list is cut at 20 entries (the profile has them all). */
export function reportText(seen: Observed, s: Suggestion, outcome: string, exists: (path: string) => boolean = existsSync): string {
  const lines = [`sandlock learn: ${outcome}`];
  // A PATH search tries every directory: only the programs found ran.
  const programs = [...seen.execs].filter(([p]) => exists(p)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = programs.slice(0, 8).map(([p, n]) => (n > 1 ? `${printableShort(p)} (x${n})` : printableShort(p)));
  lines.push(`  ran ${count(programs.length, "program")}${shown.length > 0 ? `: ${shown.join(", ")}${programs.length > shown.length ? ", ..." : ""}` : ""}; ${count(seen.processes, "process", "processes")} started`);
  const reads = [...seen.files.values()].filter((a) => a.has("read") || a.has("list") || a.has("exec")).length;
  const writes = [...seen.files.values()].filter((a) => a.has("write")).length;
  lines.push(`  opened ${count(reads, "path")} to read and ${writes} to write; the profile extends "${s.base}"${s.read.length > 0 ? ` and reads ${printableList(s.read)}` : ""}`);
  if (s.write.length > 0 || s.privateTmp) lines.push(`  writes: ${[printableList(s.write), ...(s.privateTmp ? ["a private TMPDIR and HOME"] : [])].filter((w) => w !== "").join(", ")}`);
  if (s.netAllow.length > 0) lines.push(`  network: ${printableList(s.netAllow)}`);
  else if (seen.destinations.size === 0) lines.push("  network: none used");
  if (seen.names.size > 0) lines.push(`  names looked up: ${printableList([...seen.names].sort())}`);
  if (s.allowBind.length > 0) lines.push(`  ports bound: ${s.allowBind.join(", ")}`);
  if (s.secrets.length > 0) lines.push(`  not in the profile, secrets: ${printableList(s.secrets)} (the command read or wrote them: if it needs them, grant them yourself)`);
  if (s.refusedWrites.length > 0) {
    lines.push(`  refused while learning, writes beneath: ${printableList(s.refusedWrites)} (learn again with -w PATH if the command must write there)`);
  }
  if (seen.dropped > 0) lines.push(`  ${seen.dropped} more paths were not recorded (the record keeps ${MAX_ENTRIES} of each kind, and ${MAX_PATH_BYTES >> 20} MiB of paths)`);
  return `${lines.join("\n")}\n`;
}
