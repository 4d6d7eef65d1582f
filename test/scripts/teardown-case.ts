// Teardown scenarios (issue 9, section 2), as whichever user started this script: a
// sandbox leaves a daemon that escaped with setsid and a double fork, then its supervisor
// is SIGKILLed, a timeout fires, or kill is asked, optionally after the launcher was left
// without descriptors (RLIMIT_NOFILE 0:0, set from outside the way the reported attack set
// it from inside). Prints one JSON line: whether teardown completed and what survived.
// Usage: teardown-case.js SCENARIO PROBE CLI

import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
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

const scenarios: Record<string, () => Promise<Record<string, unknown>>> = {
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
