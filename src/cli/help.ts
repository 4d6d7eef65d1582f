// Help texts, generated from the flag table so every flag of `sandlock run` is documented
// exactly once, with one line each (marked when refused), followed by the exit codes.

import { PROTECTIONS } from "../policy/types.js";
import { flagLabel } from "./args.js";
import { refusedWhy } from "./flag-docs.js";
import { RUN_FLAGS, type RunFlag } from "./run-flags.js";
import { packageVersion } from "./version.js";

const USAGE = `Usage:
  sandlock run [flags] -- CMD [ARG...]      run CMD in a sandbox
  sandlock run [flags] -e "shell command"   run /bin/sh -c "shell command" in a sandbox
  sandlock learn [flags] -- CMD [ARG...]    run CMD once, recorded, and print the profile it needs
  sandlock check [--json]                   what this kernel supports
  sandlock profile list | show NAME         presets and your profiles
  sandlock ps [--json]                      list running named sandboxes (run --name NAME)
  sandlock inspect [--json] NAME            show one: policy, enforcement, processes, usage
  sandlock kill [-s SIG] [--kill-after SECS] NAME   stop one: SIG, then SIGKILL after SECS
  sandlock checkpoint NAME DIR              save a checkpoint of a running named sandbox to DIR
  sandlock restore DIR                      resume a saved checkpoint in a new sandbox
  sandlock mcp [--root DIR] [--profile NAME]...     an MCP server for AI agents (package sandlock-mcp)
  sandlock --version | --help
`;

const COMMANDS = `Commands:
  run       run a command in a sandbox (flags below)
  learn     run a command under a permissive, recorded sandbox; print the profile it needs (sandlock learn --help)
  check     Landlock ABI, every protection and whether this kernel has it, seccomp
  profile   list: built-in presets and your profiles; show NAME: one resolved, as TOML
  ps        list this user's running named sandboxes (sandlock ps --help)
  inspect   NAME: a running sandbox's policy, enforcement, processes and usage
  kill      NAME: stop a running sandbox (TERM, then KILL after --kill-after SECS, default 5)
  checkpoint NAME DIR: capture a running named sandbox and save it to DIR (docs/checkpoint.md)
  restore   DIR: resume a saved checkpoint in a new sandbox under its saved policy (docs/checkpoint.md)
  mcp       serve the Model Context Protocol on stdio: agents run commands under your profiles (docs/agents.md)
`;

const EXIT_CODES = `Exit codes:
  N       the command's own exit code
  128+N   the command was killed by signal N
  124     the timeout (-t) expired; "sandlock: timeout after Ns" on stderr
  125     usage or policy error (the message names the flag and the value)
  126     confinement failed before exec (the message names the step and errno, or the missing protection)
  127     the command was not found
`;

const NOTES = `Flags stop at "--" or at the first argument that is not a flag. List flags repeat;
flags given twice otherwise: the last one wins. Presets and profiles (-p, --profile-file) come
first, in the order given; flags add to their lists and override their other values. Sizes: 512M, 2G (K, M, G, T: powers of 1024).
Protections (--allow-degraded, --disable): ${PROTECTIONS.join(", ")}.
Stopping: SIGINT, SIGTERM or SIGHUP sent to sandlock is forwarded to every process of the
sandbox; what is left after --kill-after seconds is SIGKILLed, and a second signal kills
at once. The exit code is then the command's own (143 if SIGTERM ended it). With a
terminal, Ctrl-C reaches the command directly and sandlock leaves it alone.
`;

function flagLine(f: RunFlag, width: number): string {
  const label = (f.short === undefined ? "    " : "") + flagLabel(f) + (f.arg === undefined ? "" : ` ${f.arg}`);
  // Refused at run time (a "later" flag, or a field the library does not enforce yet).
  const note = refusedWhy(f) === undefined ? "" : " (not supported yet)";
  return `  ${label.padEnd(width)}  ${f.help}${note}\n`;
}

function flagSections(): string {
  const width = Math.max(...RUN_FLAGS.map((f) => (f.short === undefined ? 4 : 0) + flagLabel(f).length + (f.arg === undefined ? 0 : f.arg.length + 1)));
  const sections = new Map<string, RunFlag[]>();
  for (const f of RUN_FLAGS) sections.set(f.section, [...(sections.get(f.section) ?? []), f]);
  let out = "";
  for (const [section, flags] of sections) out += `\n${section}:\n${flags.map((f) => flagLine(f, width)).join("")}`;
  return out;
}

export function mainHelp(): string {
  return `sandlock ${packageVersion()}: run a command in a Linux sandbox (Landlock + seccomp), no root needed\n\n` +
    `${USAGE}\n${COMMANDS}\nFlags of run:\n${flagSections()}\n${NOTES}\n${EXIT_CODES}`;
}

export function runHelp(): string {
  return `sandlock run: run a command in a sandbox\n\n` +
    `Usage:\n  sandlock run [flags] -- CMD [ARG...]\n  sandlock run [flags] -e "shell command"\n${flagSections()}\n${NOTES}\n${EXIT_CODES}`;
}

export function checkHelp(): string {
  return `sandlock check: what this kernel supports\n\nUsage:\n  sandlock check [--json]\n\n` +
    `Prints the kernel release, the Landlock ABI, every protection with the ABI it needs and\n` +
    `whether this kernel has it, and seccomp. Exit 0 when Landlock ABI >= 1, else 1.\n\n` +
    `  --json      print the same as one JSON object\n  -h, --help  show this help\n`;
}
