// The Sandbox: lifecycle of one confined command (created -> running <-> paused ->
// stopped), built on Policy -> Features -> Plan -> launcher, ending in a RunResult.

import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { BranchError, CommandFailedError, OutputLimitError, PolicyError, SandboxError } from "./errors.js";
import { monotonicMs } from "./kernel/clock.js";
import { signalName } from "./confine/errno.js";
import { SIGKILL, forceAfterMs, signalNumber, type StopSignal } from "./confine/stop.js";
import { LauncherProcess, type LauncherExit } from "./confine/launcher.js";
import { setStandby } from "./confine/standby.js";
import { resolveCommand } from "./confine/resolve.js";
import { chrootHostPath } from "./plan/chroot.js";
import { explainExec } from "./confine/exec-explain.js";
import { DEFAULT_MAX_BUFFER, checkStdioOptions, openStdio, type StdioDefaults, type StdioOptions, type StdioSet } from "./confine/stdio.js";
import { readLines } from "./confine/lines.js";
import { HOME_VARIABLES, makePrivateTmp, type PrivateTmp } from "./confine/private-tmp.js";
import { probeHost } from "./kernel/probe.js";
import { supervised, withLearning, type Adjustment, type Enforcement } from "./plan/features.js";
import { cachedFeatures, planFor } from "./plan/cache.js";
import { privateTmpFeatures } from "./plan/private-tmp-plan.js";
import type { Observed } from "./learn/observed.js";
import { resolveHosts } from "./kernel/resolve-hosts.js";
import { hasDomainRules } from "./plan/net-rules.js";
import { ruleHosts, type ResolvedHosts } from "./plan/net-rules.js";
import { Cmd, LauncherFlag } from "./plan/protocol.js";
import { Policy } from "./policy/policy.js";
import type { PolicyInput } from "./policy/types.js";
import { RunResult, type RunStatus, type WorkdirOutcome } from "./result.js";
import type { Change } from "./cow/changes.js";
import type { CowRun } from "./cow/run.js";
import type { DomainProxy } from "./proxy/proxy.js";
import { Stage } from "./pipeline.js";
import { startSupervisor, type SupervisorShared } from "./supervise/start.js";
import type { PortMapping } from "./supervise/handlers/port-remap.js";
import type { Supervisor } from "./supervise/supervisor.js";
import { CpuThrottle } from "./supervise/cpu-throttle.js";
import { checkForkFunctions, forkMaxBuffer, type ForkFunctions, type ForkOptions, type ZygoteSpec } from "./fork/fns.js";
import type { ForkGroup } from "./fork/zygote.js";
import type { Checkpoint, CheckpointOptions } from "./checkpoint/checkpoint.js";
import type { RestoreOptions } from "./checkpoint/restore.js";
import type { Registration } from "./registry/server.js";

/** What Sandbox.dryRun returns: the change list, the run's result, and the diff if asked. */
export interface DryRunResult {
  /** What the command changed in the workdir: added, modified, deleted (the real tree is untouched). */
  readonly changes: readonly Change[];
  /** The run's result (its `workdir.action` is "aborted": the changes were thrown away). */
  readonly result: RunResult;
  /** With `diff: true`: a unified diff of every changed text file. */
  readonly diff?: string;
}

/** How long checkpoint() waits for a thread to reach its ptrace-stop. */
const CHECKPOINT_STOP_TIMEOUT_MS = 5000;

/** Where a Sandbox is in its life: created -> running <-> paused -> stopped. */
export type SandboxState = "created" | "running" | "paused" | "stopped";

/** The copy-on-write workdir's module (it loads node:child_process, node:crypto and
 * node:fs/promises): loaded by the first run with a workdir, as the domain proxy's (node:net,
 * node:dns) by the first with domain rules, so other starts do not pay for them (the CLI's). */
let cowApi: typeof import("./cow/run.js") | undefined;

/** Sandboxes started as learning runs, and where their record goes (learn/run.ts). */
const learning = new WeakMap<Sandbox, Observed>();

/** Makes sb's run a learning run (sandlock learn): the supervisor records what it does into
 * log. Internal: the public way is learn/run.ts. */
export function recordInto(sb: Sandbox, log: Observed): void {
  learning.set(sb, log);
}

/** Makes sb's run a dry run (sandlock run --dry-run): the workdir's changes are listed,
 * then thrown away; the diff, when asked for, is read with dryRunDiff. Internal. */
export function markDryRun(sb: Sandbox, mode: "list" | "diff"): void {
  (sb as unknown as { dryRunMode: CowRun["dryRun"] }).dryRunMode = mode;
}

/** The unified diff of a dry run made with markDryRun(sb, "diff"), once it has ended. */
export function dryRunDiff(sb: Sandbox): string | undefined {
  return (sb as unknown as { dryRunDiff: string | undefined }).dryRunDiff;
}

/** Options of run(), runInteractive() and spawn(): stdio, output limits, time limits. */
export interface SpawnOptions extends StdioOptions {
  /** Milliseconds; on expiry every process is killed and the status is "timeout". */
  timeout?: number;
  /** Aborting kills every process: status "timeout" for a TimeoutError reason, else "killed". */
  signal?: AbortSignal;
  /**
   * What the timeout and the AbortSignal send first (default SIGKILL: everything dies at
   * once). Another signal goes to every process of the sandbox, and whatever is left
   * forceAfter ms later is SIGKILLed, like `timeout -k` (see kill()).
   */
  killSignal?: StopSignal;
  /** Milliseconds between killSignal and SIGKILL (default 5000; Infinity: never). */
  forceAfter?: number;
  /**
   * Keep the command in the caller's process group (default false: it gets its own). A
   * command that reads the terminal needs this, or it stops as a background job. A
   * command sharing the terminal can also make a group of its own the terminal's
   * foreground and set TOSTOP (job control): the caller's next write to the terminal then
   * stops the caller with SIGTTOU, this supervision included, unless the caller ignores
   * SIGTTOU (`sandlock run` does; docs/security.md, "The inherited terminal").
   */
  foreground?: boolean;
  /**
   * Reject with a {@link CommandFailedError} (carrying the result) when the command does
   * not exit with code 0 (default false: the result says how it ended; see result.check()).
   */
  reject?: boolean;
}

const SPAWN_OPTIONS: ReadonlySet<string> = new Set([
  "timeout", "signal", "killSignal", "forceAfter", "foreground", "reject",
  "stdin", "input", "stdout", "stderr", "maxBuffer", "buffer",
]);

/** Unknown option names and the boolean options: a typo must not be ignored. */
function checkOptionNames(opts: SpawnOptions): void {
  if (typeof opts !== "object" || opts === null) throw new SandboxError(`options: ${opts === null ? "null" : typeof opts} is not an object`);
  for (const key of Object.keys(opts)) {
    if (!SPAWN_OPTIONS.has(key)) throw new SandboxError(`options: unknown option ${JSON.stringify(key)} (known: ${[...SPAWN_OPTIONS].join(", ")})`);
  }
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new SandboxError(`signal: ${opts.signal === null ? "null" : typeof opts.signal} is not an AbortSignal`);
  for (const key of ["foreground", "reject"] as const) {
    const v = opts[key];
    if (v !== undefined && typeof v !== "boolean") throw new SandboxError(`${key}: ${JSON.stringify(v)} must be true or false`);
  }
}

export { monotonicMs };

const RUN_DEFAULTS: StdioDefaults = { stdin: "ignore", stdout: "pipe", stderr: "pipe" };
const INTERACTIVE_DEFAULTS: StdioDefaults = { stdin: "inherit", stdout: "inherit", stderr: "inherit" };

function checkArgv(cmd: readonly string[]): void {
  if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((a) => typeof a === "string")) {
    throw new SandboxError("cmd must be a non-empty array of strings (argv)");
  }
  const bad = cmd.find((a) => a.includes("\0"));
  if (bad !== undefined) throw new SandboxError(`cmd: argument ${JSON.stringify(bad)} contains a NUL byte`);
}

function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) {
    throw new SandboxError(`timeout: ${JSON.stringify(timeout)} must be a positive number of milliseconds`);
  }
}

/**
 * One confined command: `Sandbox.run(policy, argv)` for the common case, or
 * `new Sandbox(policy)` then spawn(), wait(), pause(), resume(), kill(), checkpoint().
 */
export class Sandbox {
  /** The validated policy this sandbox runs under. */
  readonly policy: Policy;
  private stateValue: SandboxState = "created";
  private launcher: LauncherProcess | undefined;
  private stdio: StdioSet | undefined;
  private enforcement: Enforcement | undefined;
  private adjustments: readonly Adjustment[] = [];
  private procViewValue: "kernel" | "supervised" | undefined;
  private killReason: RunStatus | undefined;
  /** Set once a graceful stop began: why (a timeout always reports "timeout"). */
  private stopReason: RunStatus | undefined;
  private startedAt = 0;
  private result: Promise<RunResult> | undefined;
  private cleanups: (() => void)[] = [];
  /** With a workdir: this run's branch (cow/run.ts), and whether it is a dry run. */
  private cow: CowRun | undefined;
  private dryRunMode: CowRun["dryRun"] = false;
  /** A dry run's unified diff, when asked for. */
  private dryRunDiff: string | undefined;
  private supervisor: Supervisor | undefined;
  /** Set while spawn waits for host names (a second spawn must fail, not race it). */
  private resolving = false;
  private throttle: CpuThrottle | undefined;
  /** Why the CPU throttle ended the run, when it did. */
  private cpuThrottleFailure: string | null = null;
  private pausing = false;
  private readonly shared: SupervisorShared = {};
  private refPinned = false;
  /** Set by newWithFns: what the zygote loads. */
  private zygoteSpec: ZygoteSpec | undefined;
  private forkGroup: Promise<ForkGroup> | undefined;
  /** A named sandbox's entry in the user's registry (sandlock ps, inspect, kill). */
  private registration: Registration | undefined;
  /** Set when a captured stream went past maxBuffer (the sandbox is then killed). */
  private overflow: { stream: "stdout" | "stderr"; maxBuffer: number } | undefined;
  /** The reject option of the spawn. */
  private rejectFailure = false;
  /** Set by restore(): the launcher stops with the restore step's pages here instead of exec. */
  private restoreAt: bigint | undefined;

  /** A sandbox for `policy` (validated here: a bad field throws PolicyError naming it). */
  constructor(policy: Policy | PolicyInput) {
    this.policy = Policy.from(policy);
  }

  /** A pipeline stage running argv under this sandbox's policy (SPEC 2.5): stage.pipe(next). */
  cmd(argv: readonly string[]): Stage {
    return new Stage(this.policy, argv);
  }

  /**
   * Runs the command with the policy's workdir staged, returns what it changed
   * (`changes`: added, modified, deleted) and the RunResult, and throws the changes away
   * whatever onExit says: the real directory is left untouched. `diff: true` adds a
   * unified diff of the changed text files (made with diff(1)).
   */
  static async dryRun(policy: Policy | PolicyInput, cmd: readonly string[], opts: SpawnOptions & { diff?: boolean } = {}): Promise<DryRunResult> {
    const { diff, ...spawnOpts } = opts;
    const sb = new Sandbox(policy);
    if (sb.policy.workdir === undefined) throw new PolicyError("workdir", undefined, "dryRun: the policy has no workdir (a dry run stages the writes under it and lists them)");
    sb.dryRunMode = diff === true ? "diff" : "list";
    await sb.spawnWith(cmd, spawnOpts, RUN_DEFAULTS, !spawnOpts.foreground, false);
    const result = await sb.wait();
    return { changes: result.workdir?.changes ?? [], result, ...(sb.dryRunDiff !== undefined ? { diff: sb.dryRunDiff } : {}) };
  }

  /**
   * Resumes a checkpoint (taken here or Checkpoint.load'ed) in a new sandbox under its saved
   * policy, or the stricter `opts.policy`; resolves once the restored process runs. The
   * saved policy is used only when the checkpoint is trusted (`cp.unverified` undefined:
   * captured here, or its seal verified); otherwise `opts.policy` is required. What
   * cannot be restored is refused first (CheckpointError CHECKPOINT_REFUSED). See
   * docs/checkpoint.md.
   */
  static async restore(cp: Checkpoint, opts: RestoreOptions = {}): Promise<Sandbox> {
    const { restoreSandbox } = await import("./checkpoint/restore.js");
    return restoreSandbox(cp, opts, async (policy, at, argv, spawnOpts, kernel) => {
      const sb = new Sandbox(policy);
      sb.restoreAt = at;
      // The view the capture was made in, asked for by name whatever SANDLOCK_KERNEL_VIEW
      // says (a fallback would be wrong: the image's thread ids are that view's).
      await sb.spawnWith(argv, spawnOpts, RUN_DEFAULTS, !spawnOpts.foreground, true, policy.with({ procView: kernel ? "kernel" : "supervised" }));
      return sb;
    });
  }

  /**
   * Whether this process keeps one launcher waiting for its next kernel-view sandbox (off by
   * default; the MCP server, `sandlock mcp`, turns it on). When a kernel-view sandbox ends,
   * the next one's launcher is started ahead: it clones itself into the new namespaces,
   * builds the part of the root no policy changes and waits, and the next start that fits
   * takes it over with that done (docs/kernel-view.md, "Standby launcher"). It is two idle
   * processes of this user, ended with this process; `false` ends the waiting one.
   */
  static setStandby(enabled: boolean): void {
    if (typeof enabled !== "boolean") throw new TypeError(`Sandbox.setStandby: expected true or false, got ${typeof enabled === "string" ? JSON.stringify(enabled) : String(enabled)}`);
    setStandby(enabled);
  }

  /** Spawns, waits, and returns the result with stdout and stderr captured. */
  static async run(policy: Policy | PolicyInput, cmd: readonly string[], opts: SpawnOptions = {}): Promise<RunResult> {
    const sb = new Sandbox(policy);
    await sb.spawnWith(cmd, opts, RUN_DEFAULTS, !opts.foreground, false);
    return sb.wait();
  }

  /** Like run, with the caller's stdin, stdout and stderr. */
  static async runInteractive(policy: Policy | PolicyInput, cmd: readonly string[], opts: SpawnOptions = {}): Promise<RunResult> {
    const sb = new Sandbox(policy);
    await sb.spawnWith(cmd, opts, INTERACTIVE_DEFAULTS, opts.foreground === false, false);
    return sb.wait();
  }

  /**
   * A sandbox prepared for COW forking (SPEC 3): fork(n) starts a confined Node zygote
   * under the policy, runs init once, and forks n clones that each run work(cloneId).
   */
  static newWithFns(policy: Policy | PolicyInput, fns: ForkFunctions): Sandbox {
    const spec = checkForkFunctions(fns);
    const sb = new Sandbox(policy);
    sb.zygoteSpec = spec;
    return sb;
  }

  /**
   * n copy-on-write clones of the zygote (started, with init run, on the first call),
   * in clone order; clone i has CLONE_ID=i and runs work(i). Resolves once all exist.
   * Each clone's stdout and stderr are kept up to opts.maxBuffer bytes each (default: 1 GiB
   * split over the n clones, at most 100 MiB; see {@link ForkOptions}).
   */
  async fork(n: number, opts: ForkOptions = {}): Promise<Sandbox[]> {
    if (!Number.isInteger(n) || n < 1) throw new SandboxError(`fork: n must be a positive integer, got ${JSON.stringify(n)}`);
    const maxBuffer = forkMaxBuffer(n, opts);
    if (this.zygoteSpec === undefined) throw new SandboxError("fork: this sandbox was not made by Sandbox.newWithFns");
    if (this.forkGroup === undefined) {
      if (this.stateValue !== "created") throw new SandboxError("fork: this sandbox was already spawned; create it with Sandbox.newWithFns");
      const spec = this.zygoteSpec;
      this.forkGroup = import("./fork/zygote.js").then(({ ForkGroup }) => ForkGroup.start(spec, this.zygoteHost()));
    } else if (this.stateValue === "stopped") {
      throw new SandboxError("fork: not running (the zygote has exited)");
    }
    return (await this.forkGroup).fork(n, maxBuffer);
  }

  /**
   * Waits for every clone, feeds their stdout concatenated in clone order to cmd as its
   * stdin, and runs cmd in a new sandbox under this sandbox's policy (a reducer may have
   * a policy of its own: call reduce on a sandbox made with it).
   */
  async reduce(cmd: readonly string[], clones: readonly Sandbox[], opts: Omit<SpawnOptions, "stdin" | "input"> = {}): Promise<RunResult> {
    checkArgv(cmd);
    if (!Array.isArray(clones) || !clones.every((c) => c instanceof Sandbox)) throw new SandboxError("reduce: clones must be an array of the Sandbox handles fork() returned");
    const results = await Promise.all(clones.map((c) => c.wait()));
    const input = Buffer.concat(results.map((r) => r.stdout ?? Buffer.alloc(0)));
    return Sandbox.run(this.policy, cmd, { ...opts, input });
  }

  private zygoteHost(): import("./fork/zygote.js").ZygoteHost {
    return {
      policy: this.policy,
      launch: (cmd, stdinFd, launchPolicy) => this.spawnWith(cmd, { stdin: stdinFd }, RUN_DEFAULTS, true, true, launchPolicy),
      rootPid: () => this.launcher!.rootPid!,
      countProcesses: () => this.launcher!.command(Cmd.COUNT),
      result: () => this.result!,
      setRef: (ref) => this.setRef(ref),
      setForkParent: (pid) => {
        this.shared.forkParent = pid;
      },
      onCloneLimit: (fn) => {
        this.shared.cloneLimit = fn;
      },
      setClonePipes: (fn) => {
        this.shared.clonePipes = fn;
      },
      pipesReceived: (inodes) => this.shared.pipesReceived?.(inodes),
      enforcement: () => this.enforcement!,
      kill: () => this.killFor("killed"),
    };
  }

  /** Where the sandbox is in its life (created, running, paused, stopped). */
  get state(): SandboxState {
    return this.stateValue;
  }

  /**
   * portRemap: each TCP port the sandbox bound that was busy on the host, with the host port
   * it got instead (where the host reaches the sandbox's server); [] otherwise. Live while it
   * runs; the RunResult keeps the last list.
   */
  ports(): readonly PortMapping[] {
    return this.shared.ports ?? [];
  }

  /** The root process id, once spawned. */
  get pid(): number | undefined {
    return this.launcher?.rootPid;
  }

  /**
   * How the sandbox sees processes, names and paths outside its grants, once started:
   * "kernel" (its own namespaces: a path outside the grants does not exist, ENOENT; pids
   * inside are the namespace's, the command is pid 2) or "supervised" (the host's pids,
   * EACCES). `pid` and every pid the library reports are this process's own either way.
   */
  get procView(): "kernel" | "supervised" | undefined {
    return this.procViewValue;
  }

  /** The command's stdin when spawned with stdin "pipe" (end() it to send EOF), else null. */
  get stdin(): Socket | null {
    return this.stdio?.stdin ?? null;
  }

  /** The command's stdout when spawned with stdout "pipe" (also kept for wait() unless
   * buffer: false, where it is the pipe itself and a slow reader slows the command). */
  get stdout(): Readable | null {
    return this.stdio?.stdout ?? null;
  }

  /** The command's stderr when spawned with stderr "pipe" (as stdout). */
  get stderr(): Readable | null {
    return this.stdio?.stderr ?? null;
  }

  /**
   * The lines of the command's stdout (or stderr) as they come, without their "\n"
   * (`for await (const line of sb.lines()) ...`); needs spawn() with that stream "pipe".
   * With buffer: false, reading slowly slows the command (backpressure).
   */
  lines(stream: "stdout" | "stderr" = "stdout"): AsyncIterableIterator<string> {
    if (stream !== "stdout" && stream !== "stderr") throw new SandboxError(`lines: stream must be "stdout" or "stderr", got ${JSON.stringify(stream)}`);
    if (this.stdio === undefined) throw new SandboxError("lines: not running (spawn first)");
    const readable = stream === "stdout" ? this.stdio.stdout : this.stdio.stderr;
    if (readable === null) throw new SandboxError(`lines: ${stream} is not a pipe of this sandbox (spawn with ${stream}: "pipe"; run() returns its output in the result)`);
    return readLines(readable);
  }

  /** Starts the command; resolves once it has exec'd, rejects if setup or exec failed. */
  spawn(cmd: readonly string[], opts: SpawnOptions = {}): Promise<void> {
    return this.spawnWith(cmd, opts, RUN_DEFAULTS, !opts.foreground, true);
  }

  private async spawnWith(
    cmd: readonly string[],
    opts: SpawnOptions,
    defaults: StdioDefaults,
    ownProcessGroup: boolean,
    exposeStreams: boolean,
    launchPolicy: Policy = this.policy,
  ): Promise<void> {
    if (this.stateValue !== "created" || this.resolving) throw new SandboxError("spawn: this sandbox was already spawned; create a new Sandbox");
    checkArgv(cmd);
    checkOptionNames(opts);
    checkStdioOptions(opts, exposeStreams);
    checkTimeout(opts.timeout);
    if (opts.signal?.aborted) throw new SandboxError("spawn: the AbortSignal is already aborted");
    const killSignal = opts.killSignal === undefined ? SIGKILL : signalNumber("killSignal", opts.killSignal);
    const forceAfter = forceAfterMs("forceAfter", opts.forceAfter);

    // Everything that can fail on bad input fails here, before a process exists.
    // Host names of the network rules resolve once, here: the only wait before the launch.
    let resolved: ResolvedHosts | undefined;
    let proxy: DomainProxy | undefined;
    const hosts = ruleHosts(launchPolicy);
    this.resolving = true; // a second spawn() while this one waits fails as "already spawned"
    try {
      if (hosts.length > 0) {
        resolved = await resolveHosts(hosts);
        if (opts.signal?.aborted) throw new SandboxError("spawn: aborted while resolving the host names of netAllow");
      }
      if (launchPolicy.workdir !== undefined) cowApi ??= await import("./cow/run.js");
      // Domain rules: the filtering proxy listens before the launch (its address goes into
      // the command's HTTP(S)_PROXY variables). Every way out below closes it.
      if (hasDomainRules(launchPolicy)) proxy = await (await import("./proxy/proxy.js")).DomainProxy.start(launchPolicy.netAllow);
    } finally {
      this.resolving = false;
    }
    if (proxy !== undefined) this.shared.proxy = proxy;
    // privateTmp: the directory exists from here on; every way out below removes it.
    const priv = launchPolicy.privateTmp ? makePrivateTmp() : undefined;
    let features: ReturnType<typeof cachedFeatures>;
    let plan: ReturnType<typeof planFor>;
    let commandPath: string;
    try {
      const planned = launchPolicy;
      if (priv !== undefined) launchPolicy = launchPolicy.with({ fsWritable: [...launchPolicy.fsWritable, priv.dir] });
      // A policy planned before is reused while the host facts it read are unchanged.
      // privateTmp: planned once against the process's template (plan/private-tmp-plan.ts).
      features = priv !== undefined ? privateTmpFeatures(planned, priv.dir, probeHost(), resolved) : cachedFeatures(launchPolicy, probeHost(), resolved);
      const learned = learning.get(this);
      if (learned !== undefined) {
        features = withLearning(features);
        this.shared.learned = learned;
      }
      const env = this.commandEnv(priv, launchPolicy);
      if (proxy !== undefined) Object.assign(env, proxy.env());
      // chroot: the working directory and the program are the sandbox's paths, inside the
      // root ("/" unless cwd says otherwise), and the program is looked up there.
      const chroot = features.chroot;
      const cwd = this.policy.cwd ?? (chroot !== undefined ? "/" : this.policy.workdir ?? process.cwd());
      commandPath = resolveCommand(cmd[0]!, env, cwd, chroot === undefined ? undefined : (p) => chrootHostPath(chroot, p));
      // The workdir's branch: made last, so that every earlier refusal leaves none behind.
      if (launchPolicy.workdir !== undefined) this.cow = cowApi!.startCow(launchPolicy, cmd, this.dryRunMode);
      plan = planFor(features, { path: commandPath, argv: cmd, env, cwd, ownProcessGroup, ...(this.cow !== undefined ? { cowStage: this.cow.branch.dir } : {}), ...(this.restoreAt !== undefined ? { restoreAt: this.restoreAt } : {}) });
    } catch (e) {
      this.dropCow();
      priv?.remove();
      proxy?.close();
      throw e;
    }
    this.enforcement = features.enforcement;
    this.adjustments = features.adjustments;
    this.procViewValue = features.kernelView !== undefined ? "kernel" : "supervised";
    if (this.policy.name !== undefined) await this.register(this.policy.name, opts);

    this.stateValue = "running";
    this.startedAt = monotonicMs();
    let stdio: StdioSet;
    let ended!: () => void;
    const endedP = new Promise<void>((resolve) => (ended = resolve));
    try {
      const maxBuffer = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
      stdio = openStdio(opts, defaults, exposeStreams, {
        maxBuffer,
        buffer: opts.buffer ?? true,
        // Past maxBuffer the sandbox is killed: its output is never kept without a bound.
        onOverflow: (stream) => {
          this.overflow ??= { stream, maxBuffer };
          this.killFor("killed");
        },
        ended: endedP,
      });
    } catch (e) {
      this.dropCow();
      priv?.remove();
      proxy?.close();
      throw e;
    }
    this.stdio = stdio;
    this.rejectFailure = opts.reject ?? false;
    let launcher: LauncherProcess;
    try {
      launcher = new LauncherProcess(plan.blob, plan.plan.steps, stdio.childFds);
      const grants = features.grants;
      // Under a chroot the program's path is the sandbox's: the explanation, which reads the
      // host's files by that path, would name the wrong ones (the generic hint stands).
      if (features.chroot === undefined) launcher.explainExec = () => explainExec(commandPath, grants);
      launcher.kernelView = features.kernelView !== undefined;
      // Removed once the launcher reports every process of the sandbox gone (collect).
      if (priv !== undefined) this.cleanups.push(priv.remove);
      if (proxy !== undefined) this.cleanups.push(() => proxy.close());
      if (supervised(features)) {
        const l = launcher;
        // With maxCpu the supervisor's work for the sandbox is measured and charged to it.
        if (features.maxCpu !== undefined) this.shared.supervisorMs = 0;
        if (this.policy.policyFn !== undefined) this.shared.policyFn = this.policy.policyFn;
        l.onListener = (fd) => {
          this.supervisor = startSupervisor(fd, features.supervision, l, this.shared);
        };
      }
    } catch (e) {
      this.stateValue = "stopped";
      this.registration?.close();
      this.dropCow();
      priv?.remove();
      proxy?.close();
      ended();
      throw e;
    } finally {
      stdio.releaseChildFds();
    }
    this.launcher = launcher;
    this.result = this.collect(launcher, stdio, ended);
    this.result.catch(() => undefined);
    this.armKillers(opts, killSignal, forceAfter);
    try {
      await launcher.started;
    } catch (e) {
      await this.result.catch(() => undefined);
      throw e;
    }
    this.registration?.attach({ sandbox: this, launcherPid: launcher.pid, command: cmd, enforcement: features.enforcement });
    if (features.maxCpu !== undefined && (this.stateValue as SandboxState) !== "stopped") {
      const self = this;
      this.throttle = new CpuThrottle(features.maxCpu, {
        command: (cmd) => launcher.command(cmd),
        get userPaused() {
          return self.pausing || self.stateValue === "paused";
        },
        supervisorMs: () => {
          const ms = (this.shared.supervisorMs ?? 0) + (this.supervisor?.takeFastMs() ?? 0);
          if (this.shared.supervisorMs !== undefined) this.shared.supervisorMs = 0;
          return ms;
        },
        fail: (why) => {
          if (this.stateValue === "stopped") return;
          this.cpuThrottleFailure = why;
          // The limit that ended the run, as for a memory kill: maxCpu could not be held.
          this.shared.limit ??= { kind: "cpu", field: "maxCpu", cap: features.maxCpu!, reason: why };
          this.killFor("killed");
        },
      });
      this.throttle.start();
    }
  }

  /** Claims the name in the registry (loaded only for named sandboxes); a name already
   * running is refused, a registry that cannot be used only warns (src/registry). */
  private async register(name: string, opts: SpawnOptions): Promise<void> {
    this.resolving = true; // a second spawn meanwhile fails, as while resolving hosts
    try {
      this.registration = await (await import("./registry/server.js")).claimName(name);
    } finally {
      this.resolving = false;
    }
    if (opts.signal?.aborted) {
      this.registration?.close();
      throw new SandboxError("spawn: aborted while registering the name");
    }
  }

  /** The caller's environment (unless cleanEnv), then privateTmp's TMPDIR and HOME, then policy.env. */
  private commandEnv(priv?: PrivateTmp, launchPolicy: Policy = this.policy): Record<string, string> {
    const base: Record<string, string> = {};
    if (!this.policy.cleanEnv) {
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) base[k] = v;
    }
    if (priv !== undefined) {
      for (const k of HOME_VARIABLES) delete base[k];
      Object.assign(base, priv.env);
    }
    return Object.assign(base, launchPolicy.env);
  }

  private armKillers(opts: SpawnOptions, killSignal: number, forceAfter: number): void {
    if (opts.timeout !== undefined) {
      const t = setTimeout(() => this.stop(killSignal, forceAfter, "timeout"), opts.timeout);
      this.cleanups.push(() => clearTimeout(t));
    }
    const signal = opts.signal;
    if (signal) {
      const onAbort = (): void => {
        const reason = signal.reason as { name?: string } | undefined;
        this.stop(killSignal, forceAfter, reason?.name === "TimeoutError" ? "timeout" : "killed");
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.cleanups.push(() => signal.removeEventListener("abort", onAbort));
    }
  }

  /** Whether this sandbox keeps Node's event loop alive (an idle zygote does not). Once
   * someone waits for it or kills it, it does until the end, whatever the fork group says. */
  private setRef(ref: boolean, pin = false): void {
    if (this.stateValue === "stopped") return;
    if (pin) this.refPinned = true;
    ref ||= this.refPinned;
    this.launcher?.setRef(ref);
    this.supervisor?.setRef(ref);
    this.stdio?.setRef(ref);
  }

  /**
   * SIGKILL at once, or a graceful stop: `sig` to every process of the sandbox (the
   * launcher sends it from outside the confinement), then SIGKILL of whatever is left
   * after forceAfter ms. Teardown is the launcher's, as for kill(): it reaches every
   * process, daemonised or in another session, whatever the signal did.
   */
  private stop(sig: number, forceAfter: number, reason: RunStatus): void {
    if (sig === SIGKILL || forceAfter === 0) {
      this.killFor(reason);
      return;
    }
    if (this.stateValue === "stopped" || this.killReason !== undefined || this.launcher === undefined) return;
    this.setRef(true, true); // until the teardown is seen
    this.stopReason ??= reason;
    // A paused sandbox cannot act on the signal: continue it (a shell's `kill` does too).
    const l = this.launcher;
    if (this.stateValue === "paused") {
      void l.command(Cmd.CONT).catch(() => undefined);
      this.stateValue = "running";
    }
    void l.signal(sig).catch(() => undefined);
    if (forceAfter !== Infinity) {
      const t = setTimeout(() => this.killFor(reason), forceAfter);
      this.cleanups.push(() => clearTimeout(t));
    }
  }

  /** A branch made for a run that did not start: nothing was staged in it. */
  private dropCow(): void {
    const cow = this.cow;
    this.cow = undefined;
    if (cow !== undefined) cowApi!.discardCow(cow);
  }

  private killFor(reason: RunStatus): void {
    if (this.stateValue === "stopped" || this.killReason !== undefined) return;
    this.setRef(true, true); // until the teardown is seen
    this.killReason = reason;
    this.launcher?.kill();
  }

  /** `ended`: called once the launcher is gone (an overflowed output pipe is read again). */
  private async collect(launcher: LauncherProcess, stdio: StdioSet, ended: () => void): Promise<RunResult> {
    let exit: LauncherExit;
    let exited = false;
    try {
      exit = await launcher.exited;
      exited = true;
    } finally {
      ended();
      this.stateValue = "stopped";
      this.registration?.close();
      this.supervisor?.close();
      this.throttle?.close();
      for (const c of this.cleanups.splice(0)) c();
      if (!exited) {
        cowApi?.closeStage(launcher); // a stage exists only in a workdir run, which loaded cowApi
        this.dropCow(); // it never ran: nothing was staged
      }
    }
    const output = await stdio.collected;
    const durationMs = monotonicMs() - this.startedAt;
    let status: RunStatus = exit.signal !== null ? "signaled" : "exited";
    const reason = this.killReason ?? this.stopReason;
    if (reason !== undefined && exit.signal !== null) status = reason;
    // The timeout ended the run, however the command took it (timeout(1) exits 124 too).
    if (this.stopReason === "timeout" || this.killReason === "timeout") status = "timeout";
    // Every process of the sandbox is gone, and the overlay's namespace with them: the
    // workdir's action for this ending (onExit for exit 0, onError otherwise).
    let workdir: WorkdirOutcome | null = null;
    let branchError: BranchError | undefined;
    if (this.cow !== undefined) {
      const cow = this.cow;
      this.cow = undefined;
      try {
        const stageFd = cowApi!.takeStage(launcher, cow, this.policy);
        const done = cowApi!.finishCow(cow, this.policy, status === "exited" && exit.code === 0, stageFd);
        this.dryRunDiff = done.diff;
        workdir = { action: done.action, branch: done.branch, changes: done.changes, ...(done.heldBack !== undefined ? { heldBack: done.heldBack } : {}) };
      } catch (e) {
        cowApi!.keepBranch(cow);
        branchError = e instanceof BranchError ? e : new BranchError(`workdir: the ${this.policy.onExit} of branch ${cow.branch.meta.id} failed (${(e as Error).message}); the branch is kept: sandlock branch show|apply|drop ${cow.branch.meta.id}`, { cause: e });
      }
    }
    const result = new RunResult({
      workdir,
      status,
      exitCode: exit.code,
      signal: exit.signal !== null ? signalName(exit.signal) : null,
      stdout: output.stdout,
      stderr: output.stderr,
      durationMs,
      enforcement: this.enforcement!,
      pid: launcher.rootPid,
      procView: this.procViewValue ?? null,
      limit: this.shared.limit ?? null,
      refused: this.shared.refused ?? [],
      ports: this.shared.ports ?? [],
      network: this.shared.proxy?.report() ?? null,
      adjustments: this.adjustments,
      cpuThrottleFailure: this.cpuThrottleFailure,
    });
    if (branchError !== undefined) throw Object.assign(branchError, { result });
    if (this.overflow !== undefined) throw new OutputLimitError(this.overflow.stream, this.overflow.maxBuffer, result);
    if (this.rejectFailure && !(result.status === "exited" && result.exitCode === 0)) throw new CommandFailedError(result);
    return result;
  }

  /** Resolves with the RunResult once the command exits (and every process is gone);
   * rejects with OutputLimitError past maxBuffer, CommandFailedError with reject: true. */
  wait(): Promise<RunResult> {
    if (this.result === undefined) return Promise.reject(new SandboxError("wait: not running (spawn first)"));
    this.setRef(true, true); // whoever waits keeps the loop alive until the end
    return this.result;
  }

  private requireLive(what: string): LauncherProcess {
    if (this.launcher === undefined || this.stateValue === "created") throw new SandboxError(`${what}: not running (spawn first)`);
    if (this.stateValue === "stopped") throw new SandboxError(`${what}: not running (the sandbox has exited)`);
    return this.launcher;
  }

  /**
   * Stops every process of the sandbox; resolves when all of them are stopped. Each gets one
   * SIGSTOP, sent again only when a process of the sandbox continued it meanwhile; a thread
   * of a stopped process may still be on its way to the stop, but runs none of its own
   * code again.
   */
  async pause(): Promise<void> {
    const l = this.requireLive("pause");
    this.pausing = true;
    try {
      await l.command(Cmd.STOP);
      if (this.stateValue === "running") this.stateValue = "paused";
    } finally {
      this.pausing = false;
    }
  }

  /** Continues every process of the sandbox. */
  async resume(): Promise<void> {
    const l = this.requireLive("resume");
    await l.command(Cmd.CONT);
    if (this.stateValue === "paused") this.stateValue = "running";
  }

  /**
   * Stops the sandbox; resolves when every process is gone, daemonised ones included.
   * kill(): SIGKILL everything at once. kill("SIGTERM", { forceAfter: ms }): SIGTERM to
   * every process of the sandbox (their own handlers, a shell's trap, run), then SIGKILL
   * of whatever is left after forceAfter ms (default 5000; Infinity: never). While the
   * others clean up, the root's exit no longer ends the sandbox at once. A later call
   * can shorten the wait: kill() forces at once.
   */
  async kill(signal?: StopSignal, opts: { forceAfter?: number } = {}): Promise<void> {
    this.requireLive("kill");
    const sig = signal === undefined ? SIGKILL : signalNumber("kill", signal);
    this.stop(sig, forceAfterMs("kill: forceAfter", opts?.forceAfter), "killed");
    await this.result!.catch(() => undefined);
  }

  /** Set while checkpoint() runs: a concurrent second call is refused. */
  private checkpointing = false;

  /**
   * Freezes every process (without signals), captures registers, maps, private memory,
   * descriptors, cwd, exe, the policy and opts.appState, and thaws them exactly as they
   * were (a paused sandbox stays paused). See docs/checkpoint.md.
   */
  async checkpoint(opts: CheckpointOptions = {}): Promise<Checkpoint> {
    const l = this.requireLive("checkpoint");
    const appState = opts.appState;
    if (appState !== undefined && !(appState instanceof Uint8Array)) {
      throw new SandboxError(`checkpoint: appState must be a Buffer or Uint8Array, got ${appState === null ? "null" : typeof appState}`);
    }
    if (this.checkpointing) throw new SandboxError("checkpoint: another checkpoint of this sandbox is in progress");
    // timeStart, policyFn: the launcher is already every process's tracer (native/launcher/vclock.c),
    // and a process has one tracer only.
    if (this.policy.timeStart !== undefined) throw new SandboxError("checkpoint: a sandbox with timeStart cannot be checkpointed: its launcher traces every process of it to keep the clock (docs/determinism.md)");
    if (this.policy.policyFn !== undefined) throw new SandboxError("checkpoint: a sandbox with policyFn cannot be checkpointed: its launcher traces every process of it to check each exec (docs/policy-fn.md)");
    this.checkpointing = true;
    try {
      const [{ captureSandbox }, { Checkpoint }] = await Promise.all([import("./checkpoint/capture.js"), import("./checkpoint/checkpoint.js")]);
      const data = await captureSandbox({
        launcherPid: l.pid,
        policy: this.policy.toJSON(),
        appState: appState === undefined ? null : Buffer.from(appState),
        stopTimeoutMs: CHECKPOINT_STOP_TIMEOUT_MS,
        // The kernel-native view's init (the command's parent, the launcher's child) is
        // sandlock's: frozen with the rest, not part of the image.
        ...((l.flags & LauncherFlag.INIT) !== 0 && l.rootPid !== undefined ? { skipParentOf: l.rootPid } : {}),
      });
      return new Checkpoint(data);
    } finally {
      this.checkpointing = false;
    }
  }

  /** `await using sb = new Sandbox(...)`: kills the sandbox, if running, at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.launcher === undefined || this.stateValue === "stopped") return;
    this.killFor("killed");
    await this.result!.catch(() => undefined);
  }
}
