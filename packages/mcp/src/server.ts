// The MCP tools: run a command in a sandbox under one of the profiles the server allows,
// list those profiles, and tell what a run was refused. An agent chooses the command; the
// server's operator chooses where it may run and with which confinement (options.ts).

import { realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { loadProfile, OutputLimitError, PRESET_NAMES, PRESET_SUMMARY, Sandbox, SandlockError, type PresetName, type PolicyInput, type Refusal, type RunResult, type SpawnOptions, type WorkdirChange } from "sandlock";
import type { ServerOptions } from "./options.js";

/** Runs whose refusals sandlock_refusals can still report. */
const KEPT_RUNS = 100;
/** The variables every command gets from the server's environment (besides --pass-env). */
const BASE_ENV = ["PATH", "LANG", "TERM"];

type ToolResult = { content: { type: "text"; text: string }[]; structuredContent?: Record<string, unknown>; isError?: boolean };

const failure = (text: string): ToolResult => ({ content: [{ type: "text", text }], isError: true });

/** A tool argument the server refuses (its message goes back to the agent). */
export class ToolInputError extends Error {}

/** dir resolved against the root, refused unless its real path is the root or beneath it
 * (".." and symbolic links included: what is checked is where it really leads). */
export function directoryInRoot(root: string, dir: string | undefined): string {
  const wanted = dir === undefined ? root : isAbsolute(dir) ? dir : resolve(root, dir);
  let real: string;
  try {
    real = realpathSync(wanted);
  } catch (e) {
    throw new ToolInputError(`cwd ${JSON.stringify(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const rel = relative(root, real);
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new ToolInputError(`cwd ${JSON.stringify(dir)} is outside the server's root ${root} (it leads to ${printable(real)})`);
  }
  if (!statSync(real).isDirectory()) throw new ToolInputError(`cwd ${JSON.stringify(dir)} is not a directory`);
  return real;
}

function commandEnv(passEnv: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [...BASE_ENV, ...passEnv]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  return env;
}

const maxOutputOf = (args: { max_output_bytes?: number | undefined }, opts: ServerOptions): number => args.max_output_bytes ?? opts.maxOutput;

function describeRefusal(r: Refusal): string {
  return `${r.syscall} ${printable(r.target)}: ${r.errno}, ${r.why}${r.count > 1 ? ` (${r.count} times)` : ""}`;
}

/** What becomes of a run's writes: made directly, or staged in a copy-on-write workdir over
 * the root (docs/cow.md) and then committed on exit 0, listed and thrown away, or kept. */
const CHANGE_MODES = ["direct", "commit", "dry_run", "keep"] as const;
type ChangeMode = (typeof CHANGE_MODES)[number];

function stagedPolicy(mode: ChangeMode, root: string): Partial<PolicyInput> {
  if (mode === "direct") return {};
  const end = mode === "keep" ? "keep" : "abort";
  return { workdir: root, onExit: mode === "commit" ? "commit" : end, onError: end };
}

/** Runs the command, its writes made as `mode` says; the diff only for a dry run. */
async function runStaged(mode: ChangeMode, policy: PolicyInput, cmd: readonly string[], opts: SpawnOptions): Promise<{ result: RunResult; diff?: string }> {
  if (mode !== "dry_run") return { result: await Sandbox.run(policy, cmd, opts) };
  const d = await Sandbox.dryRun(policy, cmd, { ...opts, diff: true });
  return { result: d.result, ...(d.diff !== undefined ? { diff: d.diff } : {}) };
}

/** Characters that would let a name a command chose forge lines of the report or drive the
 * terminal that shows it (controls, line and paragraph separators, bidi overrides): shown
 * as \u{XXXX}, and a backslash that would start such an escape escaped too, as the core's
 * src/printable.ts does for `sandlock ps` and the CLI's reports (this package sees only the
 * core's public API, which does not export it). */
const UNSAFE = /[\0-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\\(?=u\{)/g;

/** A name a command chose (a file it made, a path it asked for), safe to put on a line. */
export function printable(v: string): string {
  return v.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`);
}

function describeChange(c: WorkdirChange): string {
  return `  ${c.kind} ${printable(c.path)}`;
}

/** The first changes whose lines fit in `max` characters, and how many are left out: a
 * command decides how many files it makes, and each was a line of the answer (ninth review:
 * all 3,000 files a command made were listed under --max-output 4096). */
function changesWithin(changes: readonly WorkdirChange[], max: number): { shown: readonly WorkdirChange[]; omitted: number } {
  let used = 0;
  let n = 0;
  for (const c of changes) {
    used += describeChange(c).length + 1;
    if (used > max) break;
    n++;
  }
  return { shown: changes.slice(0, n), omitted: changes.length - n };
}

interface RunRecord {
  readonly profile: string;
  readonly command: readonly string[];
  readonly refused: readonly Refusal[];
}

export function createServer(opts: ServerOptions, version: string): McpServer {
  const server = new McpServer({ name: "sandlock", version });
  const runs = new Map<string, RunRecord>();
  let counter = 0;
  /** Runs going on now (--max-runs): each is a sandbox this process supervises, with its
   * output buffers and staged tree; an agent asking for hundreds at once had them all. */
  let running = 0;
  const profileNames = opts.profiles as [string, ...string[]];

  server.registerTool(
    "sandlock_run",
    {
      title: "Run a command in a sandbox",
      description:
        `Runs a command confined by sandlock (Landlock + seccomp, no root): only what its profile grants is readable, writable or reachable on the network. ` +
        `Give "command" (a shell command line, run with /bin/sh -c) or "argv". Profiles: ${opts.profiles.join(", ")} (default ${opts.profiles[0]}). ` +
        `It runs in the server's root ${opts.root} or a directory beneath it ("cwd"). Returns the exit status, stdout, stderr and what the sandbox refused. ` +
        `"changes" decides what becomes of its writes under the root: ${opts.staged ? "" : '"direct" (the default: written as it goes), '}"commit" (staged, applied only if it exits 0${opts.staged ? ", the default" : ""}), "dry_run" (staged, listed with a diff, thrown away) or "keep" (staged and kept as a branch for the user to review with sandlock branch show/apply).`,
      inputSchema: {
        command: z.string().min(1).optional().describe("a shell command line, run with /bin/sh -c"),
        argv: z.array(z.string()).min(1).optional().describe("the program and its arguments, run without a shell"),
        profile: z.enum(profileNames).optional().describe(`the confinement: ${opts.profiles.join(", ")}`),
        cwd: z.string().optional().describe(`working directory: relative to ${opts.root}, or absolute beneath it`),
        timeout_seconds: z.number().int().min(1).max(opts.maxTimeout).optional().describe(`time limit (default ${opts.defaultTimeout}, at most ${opts.maxTimeout})`),
        stdin: z.string().optional().describe("data for the command's standard input"),
        max_output_bytes: z.number().int().min(1).max(opts.maxOutput).optional().describe(`bytes kept of stdout and of stderr; a command writing more is killed (default and most ${opts.maxOutput})`),
        changes: z.enum(CHANGE_MODES).optional().describe(`what becomes of the writes under the root: direct, commit, dry_run or keep (default ${opts.staged ? "commit; direct is refused by this server" : "direct"})`),
      },
    },
    async (args, extra): Promise<ToolResult> => {
      if ((args.command === undefined) === (args.argv === undefined)) return failure('give exactly one of "command" (a shell command line) and "argv"');
      const cmd = args.argv ?? ["/bin/sh", "-c", args.command!];
      const profile = args.profile ?? opts.profiles[0]!;
      const mode: ChangeMode = args.changes ?? (opts.staged ? "commit" : "direct");
      if (mode === "direct" && opts.staged) return failure('this server stages every run\'s writes (--staged): "changes" may be commit, dry_run or keep, not direct');
      if (running >= opts.maxRuns) return failure(`${running} runs are going on, as many as this server takes at once (--max-runs ${opts.maxRuns}): ask again when one has ended`);
      running++;
      try {
        let cwd: string;
        let result: RunResult;
        let diff: string | undefined;
        const truncated = { stdout: false, stderr: false };
        try {
          cwd = directoryInRoot(opts.root, args.cwd);
          // The profile is resolved for the root, never for the directory asked: under a
          // workspace profile the working directory is what becomes writable, and a directory
          // inside the root can be swapped for a symbolic link to anywhere (by an earlier or a
          // concurrent command) between this check and the sandbox's start. The command then
          // only starts there: where it starts grants nothing.
          const { input } = await loadProfile(profile, { cwd: opts.root });
          const policy = { ...input, ...stagedPolicy(mode, opts.root), cwd, cleanEnv: true, env: { ...commandEnv(opts.passEnv), ...(input.env ?? {}) } };
          const timeout = (args.timeout_seconds ?? opts.defaultTimeout) * 1000;
          const maxBuffer = args.max_output_bytes ?? opts.maxOutput;
          try {
            // The request's signal: the SDK aborts it when the client cancels the call or goes
            // away (its stdin closed). Without it a run went on to its time limit after the
            // agent was gone, and a staged one still committed (ninth review).
            ({ result, diff } = await runStaged(mode, policy, cmd, { timeout, maxBuffer, signal: extra.signal, ...(args.stdin !== undefined ? { input: args.stdin } : {}) }));
          } catch (e) {
            if (!(e instanceof OutputLimitError)) throw e;
            result = e.result;
            truncated[e.stream] = true;
          }
        } catch (e) {
          if (e instanceof SandlockError || e instanceof ToolInputError) return failure(e.message);
          throw e;
        }
        const id = `run-${++counter}`;
        runs.set(id, { profile, command: cmd, refused: result.refused });
        if (runs.size > KEPT_RUNS) runs.delete(runs.keys().next().value!);
        const ending =
          result.status === "exited" ? `exited with code ${result.exitCode}` :
          result.status === "timeout" ? `timed out after ${(args.timeout_seconds ?? opts.defaultTimeout)} s and was killed` :
          truncated.stdout || truncated.stderr ? `killed: it wrote more than ${args.max_output_bytes ?? opts.maxOutput} bytes to ${truncated.stdout ? "stdout" : "stderr"}` :
          `${result.status} by ${result.signal}`;
        const lines = [`${id}: ${ending} (${Math.round(result.durationMs)} ms, profile ${profile}, cwd ${printable(cwd)})`];
        if (result.limit !== null) lines.push(`limit: ${result.limit.field} ${result.limit.reason ?? ""}`.trim());
        if (result.refused.length > 0) lines.push("refused by the sandbox:", ...result.refused.map((r) => `  ${describeRefusal(r)}`));
        const w = result.workdir;
        const listed = changesWithin(w?.changes ?? [], maxOutputOf(args, opts));
        if (w !== null) {
          const what = mode === "dry_run" ? "dry run: nothing was written" : w.action === "kept" ? `kept as branch ${w.branch} (sandlock branch show ${w.branch} --diff; sandlock branch apply ${w.branch})` : `${w.action} (branch ${w.branch})`;
          lines.push(`changes: ${what}`, ...listed.shown.map(describeChange));
          if (listed.omitted > 0) lines.push(`  [${listed.omitted} more changes not listed: the list is cut at ${maxOutputOf(args, opts)} bytes]`);
        }
        if (diff !== undefined) lines.push("--- diff ---", diff.length > maxOutputOf(args, opts) ? `${diff.slice(0, maxOutputOf(args, opts))}\n[diff cut at ${maxOutputOf(args, opts)} bytes]` : diff);
        lines.push("--- stdout ---", result.stdoutText, "--- stderr ---", result.stderrText);
        return {
          content: [{ type: "text", text: lines.join("\n") }],
          structuredContent: {
            run_id: id,
            status: result.status,
            exit_code: result.exitCode,
            signal: result.signal,
            stdout: result.stdoutText,
            stderr: result.stderrText,
            truncated,
            refused: result.refused.map((r) => ({ ...r })),
            duration_ms: result.durationMs,
            profile,
            cwd,
            changes: mode,
            ...(w !== null ? { workdir: { action: mode === "dry_run" ? "dry_run" : w.action, branch: w.branch, changes: listed.shown.map((c) => ({ ...c })), changes_not_listed: listed.omitted } } : {}),
            ...(diff !== undefined ? { diff: diff.slice(0, maxOutputOf(args, opts)) } : {}),
          },
        };
      } finally {
        running--;
      }
    },
  );

  server.registerTool(
    "sandlock_profiles",
    {
      title: "List the sandbox profiles",
      description: "The profiles sandlock_run accepts here, with what each grants (read, write, network), resolved for the server's root.",
      inputSchema: {},
    },
    async (): Promise<ToolResult> => {
      const rows: Record<string, unknown>[] = [];
      for (const name of opts.profiles) {
        try {
          const { input, layers } = await loadProfile(name, { cwd: opts.root });
          rows.push({
            name,
            summary: (PRESET_NAMES as readonly string[]).includes(name) ? PRESET_SUMMARY[name as PresetName] : `profile: ${layers.join(", ")}`,
            read: input.fsReadable ?? [],
            write: input.fsWritable ?? [],
            network: (input.netAllow ?? []).map(String),
          });
        } catch (e) {
          rows.push({ name, error: (e as Error).message });
        }
      }
      const text = rows.map((r) => (r.error !== undefined ? `${r.name}: ${r.error}` : `${r.name}: ${r.summary}\n  write: ${(r.write as string[]).join(" ") || "-"}\n  network: ${(r.network as string[]).join(" ") || "none"}`)).join("\n");
      return { content: [{ type: "text", text }], structuredContent: { default: opts.profiles[0], profiles: rows } };
    },
  );

  server.registerTool(
    "sandlock_refusals",
    {
      title: "What a run was refused",
      description: `The calls the sandbox refused during a run (by run_id from sandlock_run; the last ${KEPT_RUNS} runs are kept): what was named, the errno, and which rule refused it.`,
      inputSchema: { run_id: z.string().describe("the run_id sandlock_run returned") },
    },
    async ({ run_id }): Promise<ToolResult> => {
      const run = runs.get(run_id);
      if (run === undefined) return failure(`no run ${JSON.stringify(run_id)} (known: ${[...runs.keys()].slice(-5).join(", ") || "none yet"})`);
      const text = run.refused.length === 0
        ? `${run_id} (${run.command.join(" ")}, profile ${run.profile}): nothing was refused by the supervisor (files outside the profile's grants fail with EACCES from the kernel, which is not listed here)`
        : `${run_id} (${run.command.join(" ")}, profile ${run.profile}):\n${run.refused.map((r) => `  ${describeRefusal(r)}`).join("\n")}`;
      return { content: [{ type: "text", text }], structuredContent: { run_id, refused: run.refused.map((r) => ({ ...r })) } };
    },
  );

  return server;
}
