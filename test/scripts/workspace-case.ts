// Runs everyday tools through the sandlock CLI under `-p workspace` (or another preset)
// with no other flag, in a project directory the current user owns, and reports each
// job's exit code and output, and whether the private TMPDIR was removed. Prints one JSON line.
// Usage: workspace-case.js STAGE

import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [stage] = process.argv.slice(2) as [string];
const cli = join(stage, "bin", "sandlock.cjs");
const project = mkdtempSync("/tmp/sandlock-workspace-");

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh machine's PATH: tools the user installed under their home are not expected. */
// A clean environment, but for the view switch a whole-suite run may set (the checks follow
// the view each run reports).
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", ...(process.env.SANDLOCK_KERNEL_VIEW !== undefined ? { SANDLOCK_KERNEL_VIEW: process.env.SANDLOCK_KERNEL_VIEW } : {}) };

function sandlock(args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: project, env: ENV, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

function writeProject(): void {
  writeFileSync(join(project, "hello.c"), '#include <stdio.h>\nint main(void) { puts("hello from c"); return 0; }\n');
  writeFileSync(join(project, "Makefile"), "all: hello\n\t./hello\nhello: hello.c\n\tgcc -O1 -o hello hello.c\n");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "tiny", version: "1.0.0", private: true, scripts: { test: "node --test" } }));
  mkdirSync(join(project, "test"));
  writeFileSync(join(project, "test", "sum.test.mjs"), 'import test from "node:test";\nimport assert from "node:assert";\ntest("sum", () => assert.equal(1 + 1, 2));\n');
  // The repository exists before the run: -p workspace refuses a new .git/config and
  // .git/hooks (protectedFiles), so `git init` and `git config` belong outside.
  execFileSync("git", ["init", "-q", project]);
}

/** Each job prints its TMPDIR on its last line, so the test can check it is gone. */
const JOBS: Record<string, string> = {
  bash: `(sleep 0.1; echo background) & echo pipe | tr a-z A-Z | cat; wait; echo x > /dev/null; echo "$TMPDIR"`,
  sh: `(sleep 0.1; echo background) & echo pipe | tr a-z A-Z; wait; echo ok > sh.txt; echo x > /dev/null; head -c 8 /dev/urandom | wc -c; cat sh.txt; echo "$TMPDIR"`,
  make: `make && echo "$TMPDIR"`,
  gcc: `gcc -Wall -o h2 hello.c && ./h2 && echo "$TMPDIR"`,
  git: `git add hello.c Makefile && git -c user.email=dev@example.com -c user.name=Dev commit -qm first && git log --format=%s && echo "$TMPDIR"`,
  python3: `python3 -c 'import tempfile, os; f = tempfile.NamedTemporaryFile(delete=False); f.write(b"x"); f.close(); open("py.txt", "w").write("ok"); print(os.path.dirname(f.name) == os.environ["TMPDIR"])' && echo "$TMPDIR"`,
  node: `node -e 'const fs = require("fs"), os = require("os"); fs.writeFileSync(os.tmpdir() + "/n", "1"); fs.writeFileSync("node.txt", "ok"); console.log(os.homedir() === process.env.HOME)' && echo "$TMPDIR"`,
  npm: `npm test 2>&1 && echo "$TMPDIR"`,
};

async function main(): Promise<void> {
  writeProject();
  const jobs: Record<string, Ran & { tmpdir: string; tmpdirGone: boolean; interruptedFork?: string }> = {};
  for (const [name, script] of Object.entries(JOBS)) {
    const job = (): Promise<Ran> => sandlock(["run", "-p", "workspace", "--", name === "bash" ? "bash" : "sh", "-c", script]);
    let r = await job();
    // dash (and the sh that make and npm run) fails with "Cannot fork" when a signal
    // interrupts a trapped fork before the supervisor received it: a known limit of the
    // supervisor on a loaded host, measured and held to under 1% by interrupted.test.ts
    // (docs/supervision.md). Such a run is made once more and reported (the test prints
    // it); any other failure, or a second one, fails the test.
    let interruptedFork: string | undefined;
    if (r.code !== 0 && /Cannot fork/.test(r.stderr)) {
      interruptedFork = r.stderr.slice(-500);
      r = await job();
    }
    const tmpdir = r.stdout.trim().split("\n").pop() ?? "";
    jobs[name] = { ...r, stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-2000), tmpdir, tmpdirGone: tmpdir.startsWith("/") && !existsSync(tmpdir), ...(interruptedFork !== undefined ? { interruptedFork } : {}) };
  }
  // Secrets stay out under system presets, whoever runs them; /etc/passwd is the control.
  const viewOf = async (preset: string): Promise<string> => (JSON.parse((await sandlock(["run", "-p", preset, "--json", "--", "true"])).stdout) as { procView: string }).procView;
  const views = { workspace: await viewOf("workspace"), system: await viewOf("system") };
  const shadow = await sandlock(["run", "-p", "workspace", "--", "cat", "/etc/shadow"]);
  const ssh = await sandlock(["run", "-p", "system", "--", "ls", "/etc/ssh"]);
  const passwd = await sandlock(["run", "-p", "system", "--", "cat", "/etc/passwd"]);
  let bareShadow = "ok";
  try {
    readFileSync("/etc/shadow");
  } catch (e) {
    bareShadow = (e as NodeJS.ErrnoException).code ?? "error";
  }
  const files = Object.fromEntries(["sh.txt", "py.txt", "node.txt", "hello"].map((f) => [f, existsSync(join(project, f))]));
  rmSync(project, { recursive: true, force: true });
  console.log(JSON.stringify({ jobs, files, views, shadow, ssh, passwd: { ...passwd, stdout: passwd.stdout.slice(0, 200) }, bareShadow, uid: process.getuid?.() }));
}

void main();
