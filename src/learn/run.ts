// A learning run (sandlock learn): the command under a permissive, recorded sandbox, then
// the profile that would let it run under a strict one, and a report of what it did.
//
// Permissive, not open: the seccomp blocklist, the scopes, the /proc view and every
// supervised check stay on; reads are allowed everywhere (secrets included: the record
// says what was read, the profile never grants a secret), writes only beneath the working
// directory, the paths given with -w and a private TMPDIR (HOME points into it), network
// egress and binds anywhere unless --no-network.

import { lookup } from "node:dns/promises";
import { homedir } from "node:os";
import { resolve as resolvePath } from "node:path";
import { PolicyError } from "../errors.js";
import { Policy } from "../policy/policy.js";
import { presetInput } from "../policy/presets.js";
import type { PolicyInput } from "../policy/types.js";
import type { RunResult } from "../result.js";
import { Sandbox, recordInto, type SpawnOptions } from "../sandbox.js";
import { Observed } from "./observed.js";
import { suggest, type Suggestion } from "./suggest.js";

export interface LearnOptions {
  readonly cmd: readonly string[];
  /** The command's working directory (default: this process's); writable while learning. */
  readonly cwd?: string;
  /** More writable paths. */
  readonly writable?: readonly string[];
  /** Egress and binds allowed while learning (default true). */
  readonly network?: boolean;
  readonly env?: Readonly<Record<string, string>>;
  readonly spawn?: SpawnOptions;
  /** Called once the sandbox runs, with it (the CLI forwards signals to it). */
  readonly started?: (sb: Sandbox) => void;
}

export interface Learned {
  readonly result: RunResult;
  readonly observed: Observed;
  readonly suggestion: Suggestion;
  readonly cwd: string;
}

/** How long the names the run looked up may take to resolve again, in all. */
const LOOKUP_MS = 3000;

/** The policy of a learning run. The working directory must be a project directory, as for
 * the workspace preset (not /, not HOME: they would become writable). */
export function learningPolicy(o: LearnOptions): { policy: Policy; cwd: string } {
  const cwd = resolvePath(o.cwd ?? process.cwd());
  let workspace: PolicyInput;
  try {
    workspace = presetInput("workspace", { cwd, home: process.env.HOME ?? homedir() });
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    throw new PolicyError("cwd", cwd, e.message.replace(/^preset "workspace"/, "learn").replace("(or set cwd)", "(or give --cwd)"));
  }
  const input: PolicyInput = {
    fsReadable: ["/"],
    fsWritable: [...(workspace.fsWritable ?? []), ...(o.writable ?? []).map((p) => resolvePath(cwd, p))],
    privateTmp: true,
    // As -p workspace: the command may write its project, but not what runs outside the
    // sandbox later (.git/hooks, .git/config, .envrc, .vscode...). Without it a learning
    // run left a pre-commit hook that the user's next `git commit` ran unconfined.
    protectedFiles: true,
    cwd,
    ...(o.network === false ? {} : { netAllow: ["*"], netAllowBind: ["*"] }),
    ...(o.env === undefined ? {} : { env: { ...o.env } }),
  };
  return { policy: new Policy(input), cwd };
}

/** Host lookups in flight at once. A lookup (getaddrinfo, on libuv's pool of 4 threads)
 * cannot be cancelled, and one in flight keeps this process alive until it ends; the names
 * are the command's choice (up to 200,000 are recorded). All of them started at once kept
 * the CLI alive after its report for as long as the host's resolver took to answer every
 * one, and had the host ask its resolver each of them after the sandbox was gone. */
const LOOKUPS_AT_ONCE = 4;

type Lookup = (name: string) => Promise<readonly string[]>;
const hostLookup: Lookup = async (name) => (await lookup(name, { all: true })).map((a) => a.address);

/** The addresses of each name, looked up now (a name that fails has none), as many as
 * LOOKUPS_AT_ONCE at a time until `ms` have passed: then no new lookup starts. */
export async function addressesOf(names: Iterable<string>, resolve: Lookup = hostLookup, ms = LOOKUP_MS): Promise<Map<string, readonly string[]>> {
  const out = new Map<string, readonly string[]>();
  const queue = [...names];
  let next = 0;
  let timeUp = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((res) => {
    timer = setTimeout(() => {
      timeUp = true;
      res();
    }, ms);
  });
  const worker = async (): Promise<void> => {
    while (!timeUp && next < queue.length) {
      const name = queue[next++]!;
      try {
        out.set(name, await resolve(name));
      } catch {
        // unknown now: its destinations stay addresses
      }
    }
  };
  await Promise.race([Promise.all(Array.from({ length: LOOKUPS_AT_ONCE }, worker)), deadline]);
  clearTimeout(timer);
  timeUp = true;
  return out;
}

export async function learn(o: LearnOptions): Promise<Learned> {
  const { policy, cwd } = learningPolicy(o);
  const observed = new Observed();
  const sb = new Sandbox(policy);
  recordInto(sb, observed);
  await sb.spawn(o.cmd, o.spawn ?? {});
  o.started?.(sb);
  const result = await sb.wait();
  const addresses = await addressesOf(observed.names);
  const suggestion = suggest(observed, {
    cwd,
    home: process.env.HOME ?? homedir(),
    writable: policy.fsWritable.filter((p) => p !== cwd),
    addresses,
  });
  return { result, observed, suggestion, cwd };
}
