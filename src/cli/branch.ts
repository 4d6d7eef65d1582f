// `sandlock branch list|show|apply|drop`: the copy-on-write branches a run kept, a commit
// refused for conflicts, or a crash left (docs/cow.md).

import { applyWorkdirBranch, dropWorkdirBranch, listWorkdirBranches, showWorkdirBranch } from "../cow/branches.js";
import { forStdout, printable } from "../printable.js";
import { describeFailure } from "./report.js";
import { UsageError } from "./usage-error.js";

const HINT = `see "sandlock branch --help"`;
const MARK = { added: "A", modified: "M", deleted: "D" } as const;

export function branchHelp(): string {
  return [
    "sandlock branch list [--fs-storage PATH] [--json]",
    "sandlock branch show ID [--diff] [--fs-storage PATH] [--json]",
    "sandlock branch apply ID [--fs-storage PATH]",
    "sandlock branch drop ID [--fs-storage PATH]",
    "",
    "Branches hold the staged changes of a --workdir run that were kept (--on-exit keep,",
    "--on-error keep), refused at commit for conflicts, or cut short by a crash. apply",
    "commits one into its workdir (replaying an interrupted commit), drop throws it away.",
    "--fs-storage: the store the run used, when it was not the default.",
    "",
  ].join("\n");
}

interface Parsed {
  sub: string;
  id: string | undefined;
  fsStorage: string | undefined;
  diff: boolean;
  json: boolean;
}

function parse(argv: readonly string[]): Parsed {
  const out: Parsed = { sub: "", id: undefined, fsStorage: undefined, diff: false, json: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--fs-storage") {
      const v = argv[++i];
      if (v === undefined || !v.startsWith("/")) throw new UsageError(`sandlock branch: --fs-storage needs an absolute path (got ${JSON.stringify(v ?? "")})`, HINT);
      out.fsStorage = v;
    } else if (a.startsWith("--fs-storage=")) out.fsStorage = a.slice("--fs-storage=".length);
    else if (a === "--diff") out.diff = true;
    else if (a === "--json") out.json = true;
    else if (a.startsWith("-")) throw new UsageError(`sandlock branch: unknown flag ${a}`, HINT);
    else rest.push(a);
  }
  out.sub = rest[0] ?? "";
  out.id = rest[1];
  const want = out.sub === "list" ? 1 : 2;
  if (!["list", "show", "apply", "drop"].includes(out.sub)) throw new UsageError(`sandlock branch: ${out.sub === "" ? "no subcommand" : `unknown subcommand ${JSON.stringify(out.sub)}`} (list, show, apply or drop)`, HINT);
  if (rest.length !== want) throw new UsageError(`sandlock branch ${out.sub}: ${want === 1 ? "takes no operand" : "needs one branch ID (sandlock branch list shows them)"}`, HINT);
  return out;
}

export function branchCommand(argv: readonly string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(branchHelp());
    return 0;
  }
  const p = parse(argv);
  const opts = p.fsStorage === undefined ? {} : { fsStorage: p.fsStorage };
  try {
    switch (p.sub) {
      case "list": {
        const all = listWorkdirBranches(opts);
        if (p.json) process.stdout.write(`${JSON.stringify(all)}\n`);
        else for (const b of all) process.stdout.write(`${b.id}  ${b.state.padEnd(11)}  ${printable(b.workdir)}  ${b.command.map(printable).join(" ")}\n`);
        return 0;
      }
      case "show": {
        const b = showWorkdirBranch(p.id!, { ...opts, diff: p.diff });
        if (p.json) {
          process.stdout.write(`${JSON.stringify(b)}\n`);
          return 0;
        }
        process.stdout.write(`branch ${b.id} (${b.state}), workdir ${printable(b.workdir)}, made ${b.created}\ncommand: ${b.command.map(printable).join(" ")}\n`);
        // The names are the sandbox's: printable, so none writes to the terminal or forges a line.
        for (const c of b.changes) process.stdout.write(`  ${MARK[c.kind]} ${printable(c.path)}${c.type === "dir" ? "/" : ""}\n`);
        if (b.diff !== undefined) process.stdout.write(forStdout(b.diff));
        return 0;
      }
      case "apply": {
        const changes = applyWorkdirBranch(p.id!, opts);
        process.stdout.write(`branch ${p.id} applied${changes.length > 0 ? `: ${changes.length} change${changes.length === 1 ? "" : "s"}` : ""}\n`);
        return 0;
      }
      default:
        dropWorkdirBranch(p.id!, opts);
        process.stdout.write(`branch ${p.id} dropped\n`);
        return 0;
    }
  } catch (e) {
    const f = describeFailure(e);
    if (f === undefined) throw e;
    process.stderr.write(`${f.message}\n`);
    return f.exitCode;
  }
}
