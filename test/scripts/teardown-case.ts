// Teardown scenarios (issue 9, section 2), as whichever user started this script: a
// sandbox leaves a daemon that escaped with setsid and a double fork, then its supervisor
// is SIGKILLed, a timeout fires, or kill is asked, optionally after the launcher was left
// without descriptors (RLIMIT_NOFILE 0:0, set from outside the way the reported attack set
// it from inside). Prints one JSON line: whether teardown completed and what survived.
// Usage: teardown-case.js SCENARIO PROBE CLI

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { alive, outerPid } from "../helpers/proc.js";

const [scenario, probe, cli] = process.argv.slice(2) as [string, string, string];
/** How long teardown may take before the scenario says it did not complete. */
const BOUND_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => parentOf(p) === pid);
}

/** Leaves the launcher no descriptor at all: soft and hard RLIMIT_NOFILE 0. */
function starveLauncher(launcher: number): void {
  execFileSync("prlimit", ["--pid", String(launcher), "--nofile=0:0"]);
}

/** Polls until none of pids is alive, for at most BOUND_MS; returns the survivors. */
async function survivors(pids: number[]): Promise<number[]> {
  const end = Date.now() + BOUND_MS;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < end) {
    await sleep(50);
    left = left.filter(alive);
  }
  return left;
}

/** A library sandbox whose root stays and whose daemon escaped: [sandbox, launcher, root, daemon]. */
async function librarySandbox(opts: { timeout?: number } = {}): Promise<[Sandbox, number, number, number]> {
  const sb = new Sandbox({ fsReadable: [probe] });
  await sb.spawn([probe, "daemon-stay"], { stdout: "pipe", ...opts });
  let text = "";
  sb.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  for (let i = 0; i < 500 && !text.includes("\n"); i++) await sleep(10);
  const root = sb.pid!;
  // Under the kernel view the root's parent is the init (the launcher's child), and the
  // daemon printed its namespace's pid.
  const launcher = sb.procView === "kernel" ? parentOf(parentOf(root)!)! : parentOf(root)!;
  return [sb, launcher, root, outerPid(root, Number(text.trim()))];
}

/** Resolves with what p resolved to, or "timed out" after BOUND_MS. */
function bounded<T>(p: Promise<T>): Promise<T | "timed out"> {
  return Promise.race([p, sleep(BOUND_MS).then(() => "timed out" as const)]);
}

/** The CLI running the daemon scenario: [cli process, launcher, daemon]. */
async function cliSandbox(extra: string[]): Promise<[ReturnType<typeof spawn>, number, number]> {
  const child = spawn(process.execPath, [cli, "run", "-r", probe, ...extra, "--", probe, "daemon-stay"], { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  for (let i = 0; i < 1000 && !text.includes("\n"); i++) await sleep(10);
  const launcher = childrenOf(child.pid!)[0]!;
  // The launcher's child (the command, or the kernel view's init) names the daemon's namespace.
  return [child, launcher, outerPid(childrenOf(launcher)[0]!, Number(text.trim()))];
}

/**
 * A library program (ES module) that keeps a `sleep 30` sandbox running and writes that
 * sandbox's root and launcher pids to pids.json before it goes on with `then` (the
 * scenario's own code, which may use `long`, `policy` and `Sandbox`). Runs it with stdout
 * and stderr piped; after
 * its first line of stdout, closes the reading end when `closeStdout`. Resolves once it
 * exited or BOUND_MS passed (then it is SIGKILLed and `code` is "timed out").
 */
async function libraryProgram(then: string, opts: { closeStdout?: boolean } = {}): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "sl-teardown-"));
  try {
    const index = new URL("../../src/index.js", import.meta.url).href;
    writeFileSync(
      join(dir, "program.mjs"),
      `import { readFileSync, writeFileSync } from "node:fs";
import { Sandbox } from ${JSON.stringify(index)};
const policy = { fsReadable: ["/usr", "/lib", "/lib64", "/bin", "/etc"] };
const long = new Sandbox(policy);
await long.spawn(["sleep", "30"]);
const ppid = (pid) => Number(readFileSync("/proc/" + pid + "/stat", "latin1").split(") ")[1].split(" ")[1]);
const launcher = long.procView === "kernel" ? ppid(ppid(long.pid)) : ppid(long.pid);
writeFileSync(${JSON.stringify(join(dir, "pids.json"))}, JSON.stringify([long.pid, launcher]));
${then}
`,
    );
    const child = spawn(process.execPath, [join(dir, "program.mjs")], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (opts.closeStdout && stdout.includes("\n")) child.stdout!.destroy();
    });
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    const code = await bounded(exited);
    if (code === "timed out") child.kill("SIGKILL");
    let pids: number[] = [];
    try {
      pids = JSON.parse(readFileSync(join(dir, "pids.json"), "utf8")) as number[];
    } catch {
      // the program did not get that far: stderr says why
    }
    return { code, stdout, stderr, sandboxRan: pids.length === 2, left: await survivors(pids) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const scenarios: Record<string, () => Promise<Record<string, unknown>>> = {
  /**
   * An exception thrown in a process.nextTick callback queued by code that ran when a
   * sandbox's pause() resolved (pause() resolves from the library's native event-loop
   * callback, whose scope runs the tick queue): the program dies of it as of any uncaught
   * exception, and its sandbox with it. Before, Node-API kept it as a pending exception: the
   * program lived on (Node's own timers still ran: the "still alive" line), none of the
   * library's callbacks reached JavaScript again, and the loop spun on the next ready
   * descriptor with a core busy.
   */
  async throwAfterPause() {
    return libraryProgram(`await long.pause();
process.nextTick(() => { throw new Error("boom from a tick"); });
setTimeout(() => { console.log("still alive"); process.exit(3); }, 4000);`);
  },

  /** The same exception with an uncaughtException listener: the listener gets it and sandboxes go on working. */
  async throwAfterPauseHandled() {
    return libraryProgram(`let caught = [];
process.on("uncaughtException", (e) => { caught.push(e.message); });
await long.pause();
process.nextTick(() => { throw new Error("boom from a tick"); });
await long.resume();
const r = await Sandbox.run(policy, ["sh", "-c", "echo after"]);
console.log(JSON.stringify({ caught, after: r.stdoutText }));
await long.kill();
process.exit(0);`);
  },

  /**
   * The program's own stdout is a pipe whose reader is gone (a test runner that quit):
   * console.log when pause() resolved fails with EPIPE, an 'error' event without a listener,
   * and the program dies of it. The case that spun a core for 25 minutes in a CI run.
   */
  async stdoutReaderGone() {
    return libraryProgram(`for (let i = 0; i < 200; i++) {
  await long.pause();
  console.log("paused", i);
  await long.resume();
}
console.error("all 200 lines printed");
process.exit(3);`, { closeStdout: true });
  },

  /** Sandbox.kill() on a launcher left without descriptors. */
  async killStarved() {
    const [sb, launcher, root, daemon] = await librarySandbox();
    starveLauncher(launcher);
    const done = await bounded(sb.kill().then(() => "completed"));
    return { done, daemonAlive: alive(daemon), left: await survivors([launcher, root, daemon]), status: done === "completed" ? (await sb.wait()).status : null };
  },

  /** The spawn timeout fires on a launcher left without descriptors. */
  async timeoutStarved() {
    const [sb, launcher, root, daemon] = await librarySandbox({ timeout: 1000 });
    starveLauncher(launcher);
    const result = await bounded(sb.wait());
    return { done: result === "timed out" ? result : "completed", status: result === "timed out" ? null : result.status, left: await survivors([launcher, root, daemon]) };
  },

  /** The supervising process (the CLI) is SIGKILLed, with or without a starved launcher. */
  async cliKilled() {
    const [child, launcher, daemon] = await cliSandbox([]);
    const before = alive(daemon);
    child.kill("SIGKILL");
    return { daemonAliveBefore: before, left: await survivors([launcher, daemon]) };
  },

  async cliKilledStarved() {
    const [child, launcher, daemon] = await cliSandbox([]);
    starveLauncher(launcher);
    // Looked at before the kill: once the CLI is gone the teardown may take the daemon at
    // once, and a look afterwards made this control fail (2 of 6 runs under load).
    const before = alive(daemon);
    child.kill("SIGKILL");
    return { daemonAliveBefore: before, left: await survivors([launcher, daemon]) };
  },

  /** The CLI's -t fires: it exits 124 only once everything is gone. */
  async cliTimeout() {
    const [child, launcher, daemon] = await cliSandbox(["-t", "1"]);
    const code = await bounded(new Promise<number | null>((r) => child.once("exit", (c) => r(c))));
    return { code, daemonAliveAtExit: alive(daemon), left: await survivors([launcher, daemon]) };
  },
};

async function main(): Promise<void> {
  const run = scenarios[scenario];
  if (run === undefined) throw new Error(`unknown scenario ${scenario}`);
  const out = await run();
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
}

void main();
