// Runs the command of `sandlock run` in a sandbox: the only CLI module that loads the
// library's runtime. Chooses run / runInteractive / spawn+wait, reports, exits.

import { join, relative } from "node:path";
import { native } from "../confine/native.js";
import { ignoreTerminalStops } from "../confine/terminal-stops.js";
import { composeInputs } from "../policy/compose.js";
import { Policy } from "../policy/policy.js";
import type { RunResult } from "../result.js";
import { Sandbox, dryRunDiff, markDryRun, type SpawnOptions } from "../sandbox.js";
import { workdirLines } from "./workdir-report.js";
import { forStdout } from "../printable.js";
import { EXIT_SIGNAL_BASE, exitCodeOf } from "./outcome.js";
import { describeFailure } from "./report.js";
import { failureLines } from "./denials.js";
import { RUN_HINT, type RunOptions } from "./run-options.js";
import { SignalGuard } from "./signals.js";
import { StatusWriter } from "./status-fd.js";
import { UsageError } from "./usage-error.js";
import { markSandboxStarted } from "./start-state.js";
import { setProgramStore } from "../plan/plan.js";
import { ProgramCache, type BundleInfo } from "./program-cache.js";
import { exposedWarnings } from "./self-exposed.js";

/** The writable grants as host paths: under a chroot they name the sandbox's paths, inside
 * the root or a directory fsMount maps there (the longest mapping that holds the path). */
function hostWritable(policy: Policy): string[] {
  const root = policy.chroot;
  if (root === undefined) return [...policy.fsWritable];
  const mounts = Object.entries(policy.fsMount ?? {}).map(([v, h]) => [v, h.replace(/:ro$/, "")] as const).sort((a, b) => b[0].length - a[0].length);
  return policy.fsWritable.map((g) => {
    const m = mounts.find(([v]) => g === v || g.startsWith(v.endsWith("/") ? v : `${v}/`));
    return m !== undefined ? join(m[1], relative(m[0], g)) : join(root, g);
  });
}

/** A dry run's diff, by its result (launch returns the result only). */
const diffs = new WeakMap<RunResult, string | undefined>();

function spawnOptions(o: RunOptions): SpawnOptions {
  const output = o.json ? "pipe" : "inherit";
  const opts: SpawnOptions = { stdin: "inherit", stdout: output, stderr: output };
  // The timeout stops as timeout(1) -k does: SIGTERM to every process, SIGKILL of what is
  // left --kill-after seconds later. A signal before the command started has nothing to
  // stop gracefully yet: the guard kills at once (SignalGuard.attach).
  if (o.timeout !== undefined) Object.assign(opts, { timeout: o.timeout.ms, killSignal: "SIGTERM", forceAfter: o.killAfter.ms });
  return opts;
}

/** The presets and profiles of -p and --profile-file, then the flags on top of them; and
 * the profile files composed (-p NAME, --profile-file, what they extend). */
async function withProfiles(o: RunOptions): Promise<{ options: RunOptions; files: readonly string[] }> {
  if (o.profiles.length === 0) return { options: o, files: [] };
  const { resolveProfiles } = await import("../profile/resolve.js");
  const flagCwd = typeof o.policy.cwd === "string" ? o.policy.cwd : undefined;
  const r = await resolveProfiles(o.profiles, { cwd: flagCwd, ...(o.policy.supervisor === false ? { supervisor: false } : {}) });
  const cmd = o.cmd.length > 0 ? o.cmd : r.cmd;
  if (cmd === undefined) {
    throw new UsageError(`sandlock run: no command: give one after "--", a shell command with -e "...", or [program] exec in a profile (composed: ${r.layers.join(", ")})`, RUN_HINT);
  }
  return { options: { ...o, policy: composeInputs(r.input, o.policy) as Record<string, unknown>, cmd }, files: r.layers.filter((l) => !l.startsWith("preset ")) };
}

/** spawn (stdio given explicitly, so interactive or not is only `foreground`), then the
 * guard forwards SIGINT/SIGTERM/SIGHUP to the running sandbox, a second one kills it. */
async function launch(o: RunOptions, policy: Policy, opts: SpawnOptions, guard: SignalGuard, status: StatusWriter | undefined): Promise<RunResult> {
  const sb = new Sandbox(policy);
  if (o.dryRun !== false) {
    if (policy.workdir === undefined) throw new UsageError("sandlock run: --dry-run lists what the command changes in --workdir: give --workdir DIR", RUN_HINT);
    markDryRun(sb, o.dryRun);
  }
  await sb.spawn(o.cmd, opts);
  markSandboxStarted();
  guard.attach((signal, force) => {
    void (force ? sb.kill() : sb.kill(signal, { forceAfter: o.killAfter.ms })).catch(() => undefined);
  });
  // The pid is this process's view of the command; under the kernel view the command
  // sees itself as pid 2 of its own namespace, which procView says.
  status?.write({ event: "started", pid: sb.pid, procView: sb.procView });
  const result = await sb.wait();
  status?.write({ event: "exited", ...result.toJSON() });
  diffs.set(result, dryRunDiff(sb));
  return result;
}

/** The assembled seccomp programs of earlier runs, beside the bundle (cli/program-cache.ts). */
function useProgramCache(bundle: BundleInfo | undefined): void {
  if (bundle === undefined) return;
  try {
    setProgramStore(new ProgramCache(bundle));
  } catch {
    // the bundle cannot be stat'ed: assemble as without a cache
  }
}

export async function execute(options: RunOptions, bundle?: BundleInfo): Promise<number> {
  useProgramCache(bundle);
  let o = options;
  const tty = native().isatty(0);
  ignoreTerminalStops();
  const interactive = o.interactive || tty;
  let guard: SignalGuard | undefined;
  const status = o.statusFd === undefined ? undefined : new StatusWriter(o.statusFd);
  try {
    const composed = await withProfiles(o);
    o = composed.options;
    const policy = new Policy(o.policy);
    // A copy-on-write workdir keeps the real tree unchanged until the user takes the diff.
    if (policy.workdir === undefined) {
      for (const line of exposedWarnings(hostWritable(policy), process.argv[1], process.env, composed.files)) process.stderr.write(`${line}\n`);
    }
    if (policy.name !== undefined) {
      // A named run registers for sandlock ps; if it cannot, the run goes on and says so.
      (await import("../registry/server.js")).setRegistryWarning((m) => process.stderr.write(`sandlock: warning: ${m}\n`));
    }
    // The guard only from here on: until the sandbox starts there is nothing to stop, and
    // a signal keeps its default action and ends sandlock (128+N), even while JavaScript is
    // busy or blocked (a large profile, a --profile-file that is a FIFO), where a handler
    // installed earlier would never run and the signal would be lost.
    guard = new SignalGuard(tty); // a terminal on stdin implies an interactive run
    const result = await launch(o, policy, { ...spawnOptions(o), foreground: interactive }, guard, status);
    // Killed as it started by a signal sandlock received meanwhile: the signal's code, as
    // when it arrives before the launch (nothing of the command's to report).
    if (guard.killedOnStart) return EXIT_SIGNAL_BASE + guard.received!;
    const diff = diffs.get(result);
    if (o.json) process.stdout.write(`${JSON.stringify({ ...result.toJSON(), ...(diff !== undefined ? { diff } : {}) })}\n`);
    else for (const line of workdirLines(result, o.dryRun !== false, policy.onError)) process.stderr.write(`${line}\n`);
    if (!o.json && diff !== undefined) process.stdout.write(forStdout(diff));
    if (!o.json) for (const line of failureLines(result, { cmd: o.cmd, usedProfile: options.profiles.length > 0, tty: native().isatty(2) })) process.stderr.write(`${line}\n`);
    const got = guard.receivedSignal;
    if (got !== undefined && !guard.forced && result.signal === "SIGKILL" && result.status === "killed") {
      process.stderr.write(`sandlock: ${got}: the sandbox did not stop within ${o.killAfter.text}s (--kill-after): killed\n`);
    }
    // The command's own ending decides the code: 143 when SIGTERM ended it, 0 when it
    // cleaned up and exited 0, 137 when it had to be killed.
    return exitCodeOf(result, o.timeout?.text);
  } catch (e) {
    if (guard?.received !== undefined) return EXIT_SIGNAL_BASE + guard.received;
    const failure = describeFailure(e);
    if (failure === undefined) throw e;
    process.stderr.write(`${failure.message}\n`);
    const error = { code: failure.code, message: failure.message, exitCode: failure.exitCode };
    if (o.json) process.stdout.write(`${JSON.stringify({ error })}\n`);
    status?.write({ event: "error", ...error });
    return failure.exitCode;
  } finally {
    guard?.dispose();
  }
}
