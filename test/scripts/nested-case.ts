// A sandbox started inside a sandbox, through the CLI as users type it: the inner run
// with --no-supervisor works and stays confined by its own grants; without the flag it
// fails before its command runs, saying to use it. Prints one JSON line.
// Usage: nested-case.js

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CLI as cli, ROOT } from "../helpers/system.js";

const stage = resolve(ROOT); // the package root, as a grant path

const outer = ["run", "-r", "/usr", "-r", "/lib", "-r", "/lib64", "-r", "/bin", "-r", "/etc", "-r", "/proc", "-r", "/dev", "-r", stage, "--"];
// The inner grants by their real paths: under the kernel view the outer sandbox's root (and
// the /lib -> usr/lib links in it) belongs to the caller, and a grant through a link in a
// directory its own processes could change is refused (plan/grant-path.ts).
const innerSystem = [...new Set(["/usr", "/lib", "/lib64", "/bin"].map((p) => realpathSync(p)))].flatMap((p) => ["-r", p]);
const inner = (...flags: string[]): string[] => [
  process.execPath, cli, "run", ...flags, ...innerSystem, "--",
  "/bin/sh", "-c", "echo nested; cat /etc/hostname >/dev/null 2>&1 && echo etc-read || echo etc-refused",
];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, args, { encoding: "utf8", timeout: 30_000 }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
}

// Presets inside: -p workspace --no-supervisor, and a profile extending it that turns the
// supervisor off ([protection] supervisor = false), in a project directory the outer run
// lets it write (and /tmp, where the private TMPDIR is made).
const project = mkdtempSync("/tmp/sandlock-nested-");
writeFileSync(join(project, "nested.toml"), 'extends = "workspace"\n[protection]\nsupervisor = false\n');
const presetJob = ["--", "/bin/sh", "-c", "echo preset > made.txt; cat made.txt; ls /proc >/dev/null 2>&1 && echo proc-listed || echo proc-refused"];
const outerWritable = [...outer.slice(0, -1), "-w", "/tmp", "--"];
const out = {
  preset: await run([cli, ...outerWritable, process.execPath, cli, "run", "-p", "workspace", "--no-supervisor", "--cwd", project, ...presetJob]),
  profile: await run([cli, ...outerWritable, process.execPath, cli, "run", "--profile-file", join(project, "nested.toml"), "--cwd", project, ...presetJob]),
  withFlag: await run([cli, ...outer, ...inner("--no-supervisor")]),
  withoutFlag: await run([cli, ...outer, ...inner()]),
  // Control: the same inner command, not nested, with the supervisor.
  alone: await run(inner().slice(1)),
};
const made = readFileSync(join(project, "made.txt"), "utf8");
rmSync(project, { recursive: true, force: true });
console.log(JSON.stringify({ ...out, made }));
