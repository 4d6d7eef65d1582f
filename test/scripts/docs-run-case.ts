// Runs the code blocks of the docs as a user would, as whoever runs this script: one fresh
// directory per document with this package installed as node_modules/sandlock (so `sandlock`
// and `npx sandlock` resolve to it), the blocks run in its app/ directory. Usage: docs-run-case.js SPEC.json; prints one JSON line.

import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { consoleSteps } from "../helpers/doc-blocks.js";
import { keepPriority } from "../helpers/session-priority.js";

export interface RunBlock {
  id: string;
  lang: string;
  body: string;
  /** The JavaScript to run, for ts/js/mjs blocks (TypeScript already transpiled). */
  js?: string;
  file?: string;
  setup?: string;
}

export interface RunDoc {
  doc: string;
  blocks: RunBlock[];
}

export interface StepResult {
  command: string;
  expected: string;
  output: string;
  exitCode: number | null;
}

export interface BlockResult {
  id: string;
  exitCode: number | null;
  signal: string | null;
  output: string;
  /** For console blocks: each `$ command`, the output shown and the output it gave. */
  steps?: StepResult[];
  /** Wall-clock time of the block, setup included (a diagnostic of the test, not asserted). */
  ms?: number;
  /** The output of a first run that failed on an interrupted fork (the block ran again). */
  interruptedFork?: string;
}

// dash ("Cannot fork") and make ("Interrupted system call") fail when a signal interrupts a
// trapped fork before the supervisor received it: a known limit of the supervisor on a
// loaded host, measured and held to under 1% by interrupted.test.ts (docs/supervision.md).
// A block failing so runs once more and the test prints the first output; any other
// failure, or a second one, fails the test (as in workspace-case.ts).
const INTERRUPTED_FORK = /Cannot fork|Interrupted system call/;

// A guard against a block that hangs, not a time limit: fork(1000) examples take 16 s alone on
// a VM whose plain C fork of 1000 processes takes 1.5 s, twice that beside the suite.
const BLOCK_TIMEOUT_MS = 120_000;
const STAGE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/**
 * A project directory with this package installed in node_modules, as `npm install sandlock`
 * leaves it; the blocks run in `app/` beneath it (npx and Node's resolution find the package
 * one level up), so the working directory that `-p workspace` makes writable does not hold
 * sandlock's own installation, as docs/cli.md advises (a sandbox there could rewrite the
 * next run: the CLI warns; eighth review).
 */
function project(): string {
  const root = mkdtempSync("/tmp/sandlock-docs-");
  const pkg = join(root, "node_modules", "sandlock");
  for (const part of ["package.json", "bin", "dist/src", "build/Release/sandlock-launcher", "build/Release/sandlock_native.node"]) {
    cpSync(join(STAGE, part), join(pkg, part), { recursive: true });
  }
  mkdirSync(join(root, "node_modules", ".bin"));
  symlinkSync("../sandlock/bin/sandlock.cjs", join(root, "node_modules", ".bin", "sandlock"));
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "docs-project", private: true, type: "module" }));
  const dir = join(root, "app");
  mkdirSync(join(dir, ".home"), { recursive: true });
  return dir;
}

function env(dir: string): NodeJS.ProcessEnv {
  // npm's update notice (it asks the registry) would be part of an npx command's output.
  return { PATH: `${dirname(dir)}/node_modules/.bin:/usr/local/bin:/usr/bin:/bin`, HOME: join(dir, ".home"), LANG: "C.UTF-8", npm_config_update_notifier: "false" };
}

/** Runs `file args` in `dir` with stdout and stderr on one pipe (in the order a terminal shows them). */
function run(file: string, args: string[], dir: string): Promise<{ exitCode: number | null; signal: string | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", 'exec "$@" 2>&1', "sh", file, ...args], { cwd: dir, env: env(dir), detached: true, stdio: ["ignore", "pipe", "inherit"] });
    // (a session of its own, for the group kill below, keeping this process's priority)
    void keepPriority(child.pid!);
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => kill(child.pid!, "SIGKILL"), BLOCK_TIMEOUT_MS);
    child.on("exit", (exitCode, signal) => {
      clearTimeout(timer);
      // What the block left in the background (a `cmd &`) ends with it, as when a terminal closes.
      kill(child.pid!, "SIGHUP");
      const done = (): void => resolve({ exitCode, signal, output });
      if (child.stdout.readableEnded) done();
      else child.stdout.once("close", done);
      setTimeout(() => kill(child.pid!, "SIGKILL"), 10_000).unref();
    });
  });
}

function kill(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

/**
 * A sh block as one script, stopping at the first command that fails. After a line that
 * starts a named sandbox in the background, the script waits (at most 10 s) for it to be
 * listed by `sandlock ps`, as a user typing the next line would have.
 */
function shScript(body: string): string {
  const out = ["set -e"];
  for (const line of body.split("\n")) {
    out.push(line);
    const bg = /sandlock run .*--name (\S+).*&\s*(#.*)?$/.exec(line);
    if (bg) out.push(`i=0; until sandlock ps | grep -q '^${bg[1]} ' || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done`);
  }
  return out.join("\n");
}

async function runBlock(b: RunBlock, dir: string, n: number): Promise<BlockResult> {
  if (b.setup !== undefined) {
    const r = await run("/bin/sh", ["-ec", b.setup], dir);
    if (r.exitCode !== 0) return { id: b.id, ...r, output: `setup failed: ${r.output}` };
  }
  if (b.file !== undefined) {
    writeFileSync(join(dir, b.file), b.body);
    return { id: b.id, exitCode: 0, signal: null, output: "" };
  }
  switch (b.lang) {
    case "sh": {
      writeFileSync(join(dir, `.block-${n}.sh`), shScript(b.body));
      const first = await run("/bin/sh", ["-x", `.block-${n}.sh`], dir);
      if (first.exitCode === 0 || !INTERRUPTED_FORK.test(first.output)) return { id: b.id, ...first };
      return { id: b.id, ...(await run("/bin/sh", ["-x", `.block-${n}.sh`], dir)), interruptedFork: first.output.slice(-1000) };
    }
    case "console": {
      const steps: StepResult[] = [];
      let interruptedFork: string | undefined;
      for (const s of consoleSteps(b.body)) {
        let r = await run("/bin/sh", ["-c", s.command], dir);
        if (INTERRUPTED_FORK.test(r.output) && !INTERRUPTED_FORK.test(s.output)) {
          interruptedFork = `$ ${s.command}\n${r.output.slice(-1000)}`;
          r = await run("/bin/sh", ["-c", s.command], dir);
        }
        steps.push({ command: s.command, expected: s.output, output: r.output, exitCode: r.exitCode });
      }
      return { id: b.id, exitCode: 0, signal: null, output: "", steps, ...(interruptedFork !== undefined ? { interruptedFork } : {}) };
    }
    case "toml": {
      writeFileSync(join(dir, `.block-${n}.toml`), b.body);
      return { id: b.id, ...(await run("sandlock", ["profile", "show", "--profile-file", `.block-${n}.toml`], dir)) };
    }
    default: {
      writeFileSync(join(dir, `.block-${n}.mjs`), b.js!);
      return { id: b.id, ...(await run(process.execPath, [`.block-${n}.mjs`], dir)) };
    }
  }
}

const spec = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as RunDoc[];
const results: BlockResult[] = [];
for (const d of spec) {
  const dir = project();
  try {
    let n = 0;
    for (const b of d.blocks) {
      const t0 = performance.now();
      const r = await runBlock(b, dir, n++);
      results.push({ ...r, ms: Math.round(performance.now() - t0) });
    }
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
}
console.log(JSON.stringify(results));
