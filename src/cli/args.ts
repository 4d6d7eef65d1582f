// A small getopt-style parser: long flags (--name VALUE, --name=VALUE), short flags
// (-r VALUE, -rVALUE, clustered booleans), "--" and the first operand end the flags.

import { closest } from "../policy/suggest.js";
import { UsageError } from "./usage-error.js";

export interface FlagSpec {
  /** Long name without dashes: "fs-read". */
  readonly long: string;
  /** One-letter alias: "r". */
  readonly short?: string;
  /** Placeholder of the value ("PATH"); absent for a boolean flag. */
  readonly arg?: string;
  /** One line of help. */
  readonly help: string;
}

/** One occurrence of a flag, in command-line order. */
export interface FlagUse<S extends FlagSpec = FlagSpec> {
  readonly spec: S;
  /** The value; undefined for a boolean flag. */
  readonly value: string | undefined;
}

export interface ParsedArgs<S extends FlagSpec = FlagSpec> {
  readonly uses: FlagUse<S>[];
  /** Everything after "--", or from the first non-flag argument on. */
  readonly operands: string[];
}

export interface ParserContext {
  /** Prefix of structural errors: "sandlock run". */
  readonly command: string;
  /** Pointer to the help, shown under structural errors. */
  readonly hint: string;
}

function index<S extends FlagSpec>(specs: readonly S[]): { long: Map<string, S>; short: Map<string, S> } {
  const long = new Map<string, S>();
  const short = new Map<string, S>();
  for (const s of specs) {
    long.set(s.long, s);
    if (s.short !== undefined) short.set(s.short, s);
  }
  return { long, short };
}

export function parseArgs<S extends FlagSpec>(argv: readonly string[], specs: readonly S[], ctx: ParserContext): ParsedArgs<S> {
  const { long, short } = index(specs);
  const uses: FlagUse<S>[] = [];
  const fail = (message: string): UsageError => new UsageError(`${ctx.command}: ${message}`, ctx.hint);

  const unknown = (written: string, name: string): UsageError => {
    const match = closest(name, long.keys());
    return fail(`unknown flag ${written}${match === undefined ? "" : ` (did you mean --${match}?)`}`);
  };

  /** A value that is itself one of our flags means the user forgot the value. */
  const looksLikeFlag = (a: string): boolean => {
    if (a === "--") return true;
    if (a.startsWith("--")) return long.has(a.slice(2).split("=", 1)[0]!);
    return a.length === 2 && a[0] === "-" && short.has(a[1]!);
  };

  const takeValue = (spec: S, written: string, i: number): string => {
    const next = argv[i + 1];
    if (next === undefined || looksLikeFlag(next)) {
      const name = written === `--${spec.long}` ? written : `${written} (--${spec.long})`;
      throw fail(`${name} needs a value (${spec.arg})`);
    }
    return next;
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return { uses, operands: argv.slice(i + 1) };
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const spec = long.get(name);
      if (spec === undefined) throw unknown(eq < 0 ? a : a.slice(0, eq), name);
      if (spec.arg === undefined) {
        if (eq >= 0) throw fail(`--${name} takes no value (got ${JSON.stringify(a.slice(eq + 1))})`);
        uses.push({ spec, value: undefined });
      } else if (eq >= 0) {
        uses.push({ spec, value: a.slice(eq + 1) });
      } else {
        uses.push({ spec, value: takeValue(spec, a, i) });
        i++;
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      i = parseCluster(a, i);
      continue;
    }
    break; // the first operand: the command starts here
  }
  return { uses, operands: argv.slice(i) };

  /** "-r PATH", "-rPATH", "-i", "-iePATH": booleans may be clustered, a value ends the cluster. */
  function parseCluster(a: string, i: number): number {
    for (let j = 1; j < a.length; j++) {
      const spec = short.get(a[j]!);
      if (spec === undefined) {
        // "-fs-read" is most likely a long flag written with one dash.
        throw j === 1 && a.length > 2 ? unknown(a, a.slice(1)) : fail(`unknown flag -${a[j]}${j > 1 ? ` (in ${a})` : ""}`);
      }
      if (spec.arg === undefined) {
        uses.push({ spec, value: undefined });
        continue;
      }
      const rest = a.slice(j + 1);
      if (rest !== "") {
        uses.push({ spec, value: rest });
        return i;
      }
      uses.push({ spec, value: takeValue(spec, `-${a[j]}`, i) });
      return i + 1;
    }
    return i;
  }
}

/** "--fs-read" or "-r/--fs-read" as shown in help. */
export function flagLabel(spec: FlagSpec): string {
  return spec.short === undefined ? `--${spec.long}` : `-${spec.short}, --${spec.long}`;
}

/** The help lines of `specs` ("  -p, --profile NAME  ..."), the labels padded to one width. */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const label = (f: FlagSpec): string => (f.short === undefined ? "    " : "") + flagLabel(f) + (f.arg === undefined ? "" : ` ${f.arg}`);
  const width = Math.max(...specs.map((f) => label(f).length));
  return specs.map((f) => `  ${label(f).padEnd(width)}  ${f.help}\n`).join("");
}
