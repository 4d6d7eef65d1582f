// randomSeed through the CLI, as whoever runs this: what a program reads from getrandom,
// /dev/urandom and /dev/random (and Python's os.urandom, random, hash seeds on top of them),
// twice with one seed, once with another, once without; and the ways around the seeded
// devices. Prints one JSON line. Usage: random-case.js STAGE

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";

const [stage] = process.argv.slice(2) as [string];
const cli = join(stage, "bin", "sandlock.cjs");
const project = mkdtempSync("/tmp/sandlock-random-");
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };

function sandlock(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: project, env: ENV, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
  });
}

const READ = [
  "head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo",
  "head -c 16 /dev/random | od -An -tx1 | tr -d ' \\n'; echo",
  `python3 -c 'import os, random; print(os.urandom(16).hex()); print(random.random()); print(hash("sandlock"))'`,
].join("; ");

const seeded = (seed: string) => sandlock(["run", "-p", "workspace", "--random-seed", seed, "--", "sh", "-c", READ]);

const AROUND = [
  // Other spellings are the same device.
  "head -c 4 /dev/./urandom | od -An -tx1 | tr -d ' \\n'; echo",
  "head -c 4 //dev//urandom | od -An -tx1 | tr -d ' \\n'; echo",
  // A link of its own to the real device: Landlock has no rule on it.
  "ln -s /dev/urandom \"$TMPDIR/u\"; head -c 4 \"$TMPDIR/u\" >/dev/null 2>&1 && echo link-read || echo link-refused",
  // Writing entropy, bad flags, a buffer it does not own.
  "(echo x > /dev/urandom) 2>/dev/null && echo write-ok || echo write-refused",
  `python3 -c 'import os, ctypes
try:
    os.getrandom(4, 8)
except OSError as e:
    print("flags", e.errno)
libc = ctypes.CDLL(None, use_errno=True)
print("null", libc.syscall(318, 0, 16, 0), ctypes.get_errno())
print("zero", libc.syscall(318, 0, 0, 0))'`,
].join("; ");

const out = {
  a: await seeded("42"),
  b: await seeded("42"),
  other: await seeded("43"),
  unseeded1: await sandlock(["run", "-p", "workspace", "--", "sh", "-c", READ]),
  unseeded2: await sandlock(["run", "-p", "workspace", "--", "sh", "-c", READ]),
  around: await sandlock(["run", "-p", "workspace", "--random-seed", "42", "--", "sh", "-c", AROUND]),
  unsupervised: await sandlock(["run", "-p", "workspace", "--no-supervisor", "--random-seed", "42", "--", "true"]),
};
rmSync(project, { recursive: true, force: true });
console.log(JSON.stringify(out));
