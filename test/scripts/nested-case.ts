// A sandbox started inside a sandbox, through the CLI as users type it: the inner run
// with --no-supervisor works and stays confined by its own grants; without the flag it
// fails before its command runs, saying to use it. Prints one JSON line.
// Usage: nested-case.js

import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const stage = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const cli = join(stage, "bin", "sandlock.cjs");
const outer = ["run", "-r", "/usr", "-r", "/lib", "-r", "/lib64", "-r", "/bin", "-r", "/etc", "-r", "/proc", "-r", "/dev", "-r", stage, "--"];
const inner = (...flags: string[]): string[] => [
  process.execPath, cli, "run", ...flags, "-r", "/usr", "-r", "/lib", "-r", "/lib64", "-r", "/bin", "--",
  "/bin/sh", "-c", "echo nested; cat /etc/hostname >/dev/null 2>&1 && echo etc-read || echo etc-refused",
];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, args, { encoding: "utf8", timeout: 30_000 }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
}

const out = {
  withFlag: await run([cli, ...outer, ...inner("--no-supervisor")]),
  withoutFlag: await run([cli, ...outer, ...inner()]),
  // Control: the same inner command, not nested, with the supervisor.
  alone: await run(inner().slice(1)),
};
console.log(JSON.stringify(out));
