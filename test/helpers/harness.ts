// Declares an integration case that runs twice against the real kernel: as root and as an
// unprivileged user created for the tests. Each run happens in a fresh case-runner
// process started as that user; the check asserts on what the runner observed.

import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { CaseOutcome, CaseSpec } from "./case-types.js";
import { ensureTestUser, isRoot, stagePackage } from "./stage.js";
import { lineReader } from "../../src/wrap/protocol.js";

export type Who = "root" | "user";

const RUNNER_TIMEOUT_MS = 60_000;

const PIDS_V1 = "/sys/fs/cgroup/pids";

/** Whether a fork bomb can run as root here with a safety net under it. */
export const pidsSafetyNet = isRoot && existsSync(join(PIDS_V1, "cgroup.procs"));

let cgroups = 0;

function pidsCgroup(max: number): string {
  if (!pidsSafetyNet) throw new Error("no pids cgroup for the safety net");
  const dir = join(PIDS_V1, `sandlock-test-${process.pid}-${cgroups++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "pids.max"), String(max));
  return dir;
}

/** The command that runs `script args` with Node as `who`: itself as root, through setpriv as the test user. */
function asWho(who: Who, script: string, scriptArgs: readonly string[] = []): { file: string; args: string[] } {
  if (who === "user" && isRoot) {
    const u = ensureTestUser();
    return { file: "setpriv", args: [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--", process.execPath, script, ...scriptArgs] };
  }
  return { file: process.execPath, args: [script, ...scriptArgs] };
}

/** The runners' environment: PATH, and the kernel-view prototype's switch when set (so
 * `SANDLOCK_KERNEL_VIEW=1 npm test` runs every case under it; plan/kernel-view.ts). */
function runnerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  if (process.env.SANDLOCK_KERNEL_VIEW !== undefined) env.SANDLOCK_KERNEL_VIEW = process.env.SANDLOCK_KERNEL_VIEW;
  return env;
}

/**
 * A case runner kept for a user's cases that need no process of their own (the default
 * scenario and "bare", no pids limit): started once per test file and user with --serve,
 * it runs one case at a time, each answered by a line. A case's Node start and the
 * bundle's load (about 0.15 s of CPU of a trivial case's 0.23) is paid once. Cases whose
 * scenario watches this runner's descendants or its event loop (a fork bomb, daemons,
 * fifty sandboxes, a pause), and those under a pids limit, still get a fresh runner;
 * SANDLOCK_TEST_FRESH_RUNNERS=1 gives every case one. A runner that dies or outlasts a
 * case's time fails that case and is replaced for the next.
 */
class WarmRunner {
  private readonly child: ChildProcess;
  private readonly waiting: { resolve: (o: CaseOutcome) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private stderr = "";
  dead = false;

  constructor(private readonly who: Who) {
    const { file, args } = asWho(who, stagePackage().runner, ["--serve"]);
    this.child = spawn(file, args, { cwd: "/", env: runnerEnv(), stdio: ["pipe", "pipe", "pipe"] });
    // (a case's outcome can be a line of megabytes: its captured streams)
    this.child.stdout!.on("data", lineReader((line) => this.line(line), undefined, () => Infinity));
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => void (this.stderr = (this.stderr + d).slice(-4096)));
    this.child.on("exit", (code, signal) => this.fail(`case runner (${who}) exited (${signal ?? code})\nstderr: ${this.stderr}`));
    this.child.on("error", (e) => this.fail(`case runner (${who}): ${e.message}`));
    this.hold(false);
  }

  run(spec: object): Promise<CaseOutcome> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`case runner (${this.who}) timed out after ${RUNNER_TIMEOUT_MS} ms`);
        this.child.kill("SIGKILL");
      }, RUNNER_TIMEOUT_MS);
      this.waiting.push({ resolve, reject, timer });
      this.hold(true);
      this.child.stdin!.write(JSON.stringify(spec) + "\n");
    });
  }

  private line(line: string): void {
    const w = this.waiting.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      try {
        w.resolve(JSON.parse(line) as CaseOutcome);
      } catch {
        w.reject(new Error(`case runner (${this.who}) printed: ${line.slice(0, 500)}\nstderr: ${this.stderr}`));
      }
    }
    if (this.waiting.length === 0) this.hold(false);
  }

  /** Whether the runner and its pipes keep the test file's process alive: only while a
   * case waits on it. Idle, the process may end without ending it (its stdin closes then,
   * and it exits). */
  private hold(on: boolean): void {
    for (const h of [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as { ref(): void; unref(): void }[]) {
      if (on) h.ref();
      else h.unref();
    }
  }

  private fail(message: string): void {
    this.dead = true;
    if (warm.get(this.who) === this) warm.delete(this.who);
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(message));
    }
  }
}

const warm = new Map<Who, WarmRunner>();

/** Whether a case can run in the kept runner (see WarmRunner). */
function warmable(spec: CaseSpec): boolean {
  return spec.pidsMax === undefined && ["run", "bare"].includes(spec.scenario ?? "run") && process.env.SANDLOCK_TEST_FRESH_RUNNERS !== "1";
}

export function runCase(spec: CaseSpec, who: Who): Promise<CaseOutcome> {
  const stage = stagePackage();
  const withVars = { ...spec, vars: { PROBE: stage.probe, ...spec.vars } };
  if (warmable(spec)) {
    let runner = warm.get(who);
    if (runner === undefined || runner.dead) warm.set(who, (runner = new WarmRunner(who)));
    return runner.run(withVars);
  }
  const input = JSON.stringify(withVars);
  let { file, args } = asWho(who, stage.runner);
  let cgroup: string | undefined;
  if (spec.pidsMax !== undefined) {
    if (who === "root") {
      cgroup = pidsCgroup(spec.pidsMax);
    } else {
      // RLIMIT_NPROC counts the real user's processes: the test user must run nothing
      // else meanwhile (npm test runs limits.test.js, the file with such cases, alone:
      // scripts/test.mjs ALONE).
      args = [`--nproc=${spec.pidsMax}`, "--", file, ...args];
      file = "prlimit";
    }
  }
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: "/", env: runnerEnv(), timeout: RUNNER_TIMEOUT_MS, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(line) as CaseOutcome);
        } catch {
          reject(new Error(`case runner (${who}) failed: ${err?.message ?? ""}\nstdout: ${stdout}\nstderr: ${stderr}`));
        }
      },
    );
    // Into the safety-net cgroup before the runner reads its case (and so before it starts anything).
    if (cgroup !== undefined) writeFileSync(join(cgroup, "cgroup.procs"), String(child.pid));
    child.once("exit", () => {
      if (cgroup === undefined) return;
      const dir = cgroup;
      setTimeout(() => {
        try {
          rmdirSync(dir);
        } catch {
          // still populated: the next run of the suite cleans nothing up, but nothing breaks
        }
      }, 200).unref();
    });
    child.stdin!.end(input);
  });
}

/** Registers `name [root]` and `name [user]`. Not running as root, the first is skipped
 * (and says why) and the second runs as the current, already unprivileged, user. */
export function securityCase(name: string, spec: CaseSpec, check: (o: CaseOutcome, who: Who) => void): void {
  const rootSkip = !isRoot
    ? "tests are not running as root"
    : spec.pidsMax !== undefined && !pidsSafetyNet
      ? "no pids cgroup to put a safety net under a fork bomb run as root"
      : false;
  test(`${name} [root]`, { skip: rootSkip }, async () => {
    check(await runCase(spec, "root"), "root");
  });
  test(`${name} [user]`, async () => {
    check(await runCase(spec, "user"), "user");
  });
}


/** securityCase with a todo reason for some runs: an open hole, documented, where the
 * check fails today (the run still happens and its outcome is reported). */
export function openCase(name: string, spec: CaseSpec, check: (o: CaseOutcome, who: Who) => void, todo: Partial<Record<Who, string>>): void {
  test(`${name} [root]`, { skip: isRoot ? false : "tests are not running as root", todo: todo.root }, async () => check(await runCase(spec, "root"), "root"));
  test(`${name} [user]`, { todo: todo.user }, async () => check(await runCase(spec, "user"), "user"));
}

/**
 * What a path outside the grants gives in the view the case ran under: the supervised view
 * (Landlock refuses it: `supervised`, usually EACCES) or the kernel view (the constructed
 * root has no such path: `kernel`, usually ENOENT; docs/kernel-view.md, "errno").
 */
export function byView(o: CaseOutcome, supervised: string, kernel: string): string {
  const view = o.observed.procView;
  assert.ok(view === "kernel" || view === "supervised", `the case recorded its view (${String(view)})`);
  return view === "kernel" ? kernel : supervised;
}

/**
 * What a program's error message says for a path outside the grants in a view a CLI run
 * reported (`--json`'s procView): "No such file or directory" under the kernel view,
 * "Permission denied" under the supervised view.
 */
export function outsideGrantsText(view: string): RegExp {
  assert.ok(view === "kernel" || view === "supervised", `the case recorded its view (${view})`);
  return view === "kernel" ? /No such file or directory/ : /Permission denied/;
}

/** The probe's answer: first line of stdout. */
export function answer(o: CaseOutcome): string {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  return (o.result?.stdout ?? "").split("\n")[0] ?? "";
}

/**
 * Runs a script of the staged package (a path under dist/, e.g.
 * "dist/test/scripts/fork-case.js") with Node as `who`, in its own process, and resolves
 * with the JSON value of the last line it printed. ${PROBE} in args becomes the staged probe.
 */
export function runScript(script: string, args: readonly string[], who: Who, timeoutMs = RUNNER_TIMEOUT_MS): Promise<unknown> {
  const stage = stagePackage();
  const { file, args: argv } = asWho(
    who,
    join(stage.dir, script),
    args.map((a) => a.replaceAll("${PROBE}", stage.probe).replaceAll("${STAGE}", stage.dir)),
  );
  return new Promise((resolve, reject) => {
    execFile(file, argv, { cwd: "/", env: runnerEnv(), timeout: timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`${script} (${who}) failed: ${err?.message ?? ""}\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`));
      }
    });
  });
}

/** Registers `name [root]` and `name [user]`, each running a staged script as that user
 * (see runScript); check asserts on the JSON it printed. */
export function scriptCase(name: string, script: string, args: readonly string[], check: (out: any, who: Who) => void, timeoutMs?: number, todo?: string): void {
  scriptTests(name, (who) => runScript(script, args, who, timeoutMs), check, todo);
}

const sharedRuns = new Map<string, Promise<unknown>>();

/** scriptCase for one of several checks of the same run: the script runs once per user for
 * every sharedScriptCase of the same script and arguments in the test file, each check a
 * test of its own (a run that takes seconds, checked for different things). */
export function sharedScriptCase(name: string, script: string, args: readonly string[], check: (out: any, who: Who) => void, timeoutMs?: number, todo?: string): void {
  scriptTests(name, (who) => {
    const key = JSON.stringify([who, script, args]);
    let run = sharedRuns.get(key);
    if (run === undefined) sharedRuns.set(key, (run = runScript(script, args, who, timeoutMs)));
    return run;
  }, check, todo);
}

function scriptTests(name: string, run: (who: Who) => Promise<unknown>, check: (out: any, who: Who) => void, todo: string | undefined): void {
  test(`${name} [root]`, { skip: isRoot ? false : "tests are not running as root", todo }, async () => check(await run("root"), "root"));
  test(`${name} [user]`, { todo }, async () => check(await run("user"), "user"));
}
