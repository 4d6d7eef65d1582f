// The server's own settings, from its command line: which directory tree commands may run
// in, which profiles an agent may pick, the ceilings on time and output, and which of the
// server's environment variables reach the commands.

import { realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";

export interface ServerOptions {
  /** Commands run in this directory or beneath it (its real path). */
  readonly root: string;
  /** The profiles an agent may name; the first is the default. */
  readonly profiles: readonly string[];
  /** Ceiling and default of a run's time limit, in seconds. */
  readonly maxTimeout: number;
  readonly defaultTimeout: number;
  /** Ceiling and default of the bytes kept of each of stdout and stderr. */
  readonly maxOutput: number;
  /** Variables of the server's environment passed to commands (besides PATH, LANG, TERM). */
  readonly passEnv: readonly string[];
  /** Runs at once; a run asked for beyond them is refused at once. */
  readonly maxRuns: number;
  /** Every run's writes are staged in a copy-on-write workdir over the root: an agent may
   * not choose "direct" changes (server.ts), the default is "commit". */
  readonly staged: boolean;
}

export class UsageError extends Error {}

export const USAGE = `usage: sandlock mcp [--root DIR] [--profile NAME]... [--max-timeout SECS] [--max-output BYTES] [--max-runs N] [--pass-env NAME]... [--staged]

Serves the Model Context Protocol on stdin/stdout. Tools: sandlock_run, sandlock_profiles,
sandlock_refusals. Commands run only in --root (default: the current directory) or beneath
it, under one of the --profile names (presets or saved profiles; default: workspace, the
first is the default), with a clean environment (PATH, LANG, TERM and each --pass-env).
An agent may ask for a run's writes to be staged in a copy-on-write workdir over the root
(committed on exit 0, listed as a dry run, or kept as a branch); with --staged every run's
are, and writing directly is refused. At most --max-runs commands run at once (default 16);
a run asked for beyond them is refused with a message saying so.
`;

function positive(flag: string, v: string | undefined, max: number): number {
  if (v === undefined) throw new UsageError(`sandlock mcp: ${flag} needs a value`);
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new UsageError(`sandlock mcp: ${flag} ${JSON.stringify(v)} is not a whole number from 1 to ${max}`);
  return Number(v);
}

export function parseOptions(argv: readonly string[], cwd = process.cwd()): ServerOptions {
  let root = cwd;
  const profiles: string[] = [];
  const passEnv: string[] = [];
  let maxTimeout = 600;
  let maxOutput = 1 << 20;
  let maxRuns = 16;
  let staged = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (a) {
      case "--root": {
        const v = value();
        if (v === undefined || v === "") throw new UsageError("sandlock mcp: --root needs a directory");
        root = resolve(cwd, v);
        break;
      }
      case "--profile": {
        const v = value();
        if (v === undefined || v === "") throw new UsageError("sandlock mcp: --profile needs a preset or profile name");
        profiles.push(v);
        break;
      }
      case "--max-timeout":
        maxTimeout = positive(a, value(), 86_400);
        break;
      case "--max-output":
        maxOutput = positive(a, value(), 1 << 30);
        break;
      case "--max-runs":
        maxRuns = positive(a, value(), 1024);
        break;
      case "--pass-env": {
        const v = value();
        if (v === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw new UsageError(`sandlock mcp: --pass-env needs a variable name, not ${JSON.stringify(v ?? "")}`);
        passEnv.push(v);
        break;
      }
      case "--staged":
        staged = true;
        break;
      default:
        throw new UsageError(`sandlock mcp: unknown argument ${JSON.stringify(a)}`);
    }
  }
  let real: string;
  try {
    real = realpathSync(root);
  } catch (e) {
    throw new UsageError(`sandlock mcp: --root ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!statSync(real).isDirectory()) throw new UsageError(`sandlock mcp: --root ${root} is not a directory`);
  return { root: real, profiles: profiles.length > 0 ? [...new Set(profiles)] : ["workspace"], maxTimeout, defaultTimeout: Math.min(60, maxTimeout), maxOutput, maxRuns, passEnv, staged };
}
