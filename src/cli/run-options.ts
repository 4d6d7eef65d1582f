// `sandlock run` arguments -> RunOptions: the policy input (plain object, validated later
// by Policy), the command, and the options of the run itself (timeout, output, status fd).

import type { ProfileRef } from "../profile/resolve.js";
import { parseArgs, type FlagUse } from "./args.js";
import { profileRefOf } from "./profile-ref.js";
import { RUN_FLAGS, type RunFlag } from "./run-flags.js";
import { readStatusFd } from "./status-fd.js";
import { UsageError, badValue } from "./usage-error.js";
import { readEnvPair, readGrace, readInteger, readIntegerList, readList, readMount, readSeconds, readUser } from "./values.js";

/** --kill-after when not given, in seconds. */
export const DEFAULT_KILL_AFTER = "5";

export const RUN_HINT = `see "sandlock run --help"`;

export interface RunOptions {
  readonly help: boolean;
  /** Policy input as given on the command line; Policy validates it. */
  readonly policy: Record<string, unknown>;
  /** -p and --profile-file in command-line order; composed before the flags. */
  readonly profiles: readonly ProfileRef[];
  /** Empty only when profiles are given: the last one's [program] may supply it. */
  readonly cmd: readonly string[];
  /** Milliseconds, and the text given (for "timeout after 0.5s"). */
  readonly timeout: { readonly ms: number; readonly text: string } | undefined;
  /** Grace between the signal that stops the sandbox (SIGTERM from -t, or one sandlock
   * received) and SIGKILL. */
  readonly killAfter: { readonly ms: number; readonly text: string };
  readonly interactive: boolean;
  readonly json: boolean;
  readonly statusFd: number | undefined;
  /** --dry-run (with --diff: "diff"): list the workdir's changes, then throw them away. */
  readonly dryRun: false | "list" | "diff";
}

type Draft = Record<string, unknown>;

/** The object holding a (possibly dotted) field, created on the way, and the last key. */
function slot(policy: Draft, field: string): [Draft, string] {
  const parts = field.split(".");
  let obj = policy;
  for (const part of parts.slice(0, -1)) obj = (obj[part] ??= {}) as Draft;
  return [obj, parts[parts.length - 1]!];
}

function append(policy: Draft, field: string, items: readonly unknown[]): void {
  const [obj, key] = slot(policy, field);
  obj[key] = [...((obj[key] as unknown[] | undefined) ?? []), ...items];
}

function applyPolicyFlag(policy: Draft, spec: RunFlag, value: string | undefined): void {
  const flag = `--${spec.long}`;
  const text = value ?? "";
  const [obj, key] = slot(policy, spec.field!);
  switch (spec.kind) {
    case "bool": obj[key] = true; break;
    case "off": obj[key] = false; break;
    case "text": obj[key] = text; break;
    case "int": obj[key] = readInteger(flag, text); break;
    case "list": append(policy, spec.field!, [text]); break;
    case "csv": append(policy, spec.field!, readList(flag, text)); break;
    case "int-csv": append(policy, spec.field!, readIntegerList(flag, text)); break;
    case "env": {
      const [k, v] = readEnvPair(flag, text);
      ((obj[key] ??= {}) as Draft)[k] = v;
      break;
    }
    case "user": obj[key] = readUser(flag, text); break;
    case "mount": {
      const m = readMount(flag, text);
      // The policy's form: ":ro" at the end of the host path (policy/filesystem.ts).
      ((obj[key] ??= {}) as Draft)[m.virtual] = m.readOnly ? `${m.host}:ro` : m.host;
      break;
    }
    case "gpu": {
      const current = obj[key];
      if (text.toLowerCase() === "all") {
        if (Array.isArray(current)) throw badValue(flag, text, "cannot be combined with device numbers given before");
        obj[key] = "all";
      } else {
        if (current === "all") throw badValue(flag, text, `cannot be combined with "all" given before`);
        append(policy, spec.field!, readIntegerList(flag, text));
      }
      break;
    }
    default:
      throw new Error(`run flag --${spec.long}: kind ${spec.kind} is not a policy kind`);
  }
}

function profileRef(flag: "profile" | "profile-file", value: string): ProfileRef {
  const ref = profileRefOf(flag, value);
  if ("empty" in ref) throw badValue(`--${flag}`, value, `is empty (${ref.empty})`);
  return ref;
}

const HELP: RunOptions = {
  help: true, policy: {}, profiles: [], cmd: [], timeout: undefined, killAfter: { ms: 5000, text: DEFAULT_KILL_AFTER }, interactive: false, json: false, statusFd: undefined, dryRun: false,
};

export function parseRunArgs(argv: readonly string[]): RunOptions {
  const { uses, operands } = parseArgs(argv, RUN_FLAGS, { command: "sandlock run", hint: RUN_HINT });
  if (uses.some((u) => u.spec.long === "help")) return HELP;
  const later = uses.find((u) => u.spec.kind === "later");
  if (later !== undefined) throw new UsageError(`sandlock: --${later.spec.long}: not supported yet (${later.spec.later})`);

  const cli = new Map<string, FlagUse<RunFlag>>();
  const policy: Draft = {};
  const profiles: ProfileRef[] = [];
  for (const use of uses) {
    if (use.spec.kind === "cli") cli.set(use.spec.long, use); // scalars: the last one wins
    else if (use.spec.kind === "profile") profiles.push(profileRef(use.spec.long === "profile" ? "profile" : "profile-file", use.value ?? ""));
    else applyPolicyFlag(policy, use.spec, use.value);
  }

  const shell = cli.get("exec-shell")?.value;
  if (shell !== undefined && operands.length > 0) {
    throw new UsageError(`sandlock run: -e runs a shell command; give either -e "..." or a command after "--", not both (got ${JSON.stringify(operands.join(" "))})`, RUN_HINT);
  }
  if (shell === undefined && operands.length === 0 && profiles.length === 0) {
    throw new UsageError(`sandlock run: no command: give one after "--" (sandlock run -p workspace -- ls) or a shell command with -e "..."`, RUN_HINT);
  }
  const timeout = cli.get("timeout")?.value;
  const statusFd = cli.get("status-fd")?.value;
  const killAfter = cli.get("kill-after")?.value ?? DEFAULT_KILL_AFTER;
  if (cli.has("diff") && !cli.has("dry-run")) throw new UsageError("sandlock run: --diff shows the changes of a dry run: give it with --dry-run", RUN_HINT);
  return {
    help: false,
    policy,
    profiles,
    cmd: shell !== undefined ? ["/bin/sh", "-c", shell] : operands,
    timeout: timeout === undefined ? undefined : { ms: readSeconds("--timeout", timeout), text: timeout },
    killAfter: { ms: readGrace("--kill-after", killAfter), text: killAfter },
    interactive: cli.has("interactive"),
    json: cli.has("json"),
    statusFd: statusFd === undefined ? undefined : readStatusFd("--status-fd", statusFd),
    dryRun: cli.has("dry-run") ? (cli.has("diff") ? "diff" : "list") : false,
  };
}
