// deterministicDirs through the CLI, as whoever runs this: a directory of 3000 entries made
// in an unsorted order, listed by a Python program with raw getdents64 and getdents in small
// batches, readdir + telldir/seekdir, and a delete-while-listing loop; the same Python and
// Node programs run twice (with randomSeed) to compare bytes; and a control without the
// flag. The check runs in the default view and again in the supervised one. Prints one JSON line. Usage: dirs-case.js STAGE FIXTURES
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [stage, fixtures] = process.argv.slice(2) as [string, string];
const cli = join(stage, "bin", "sandlock.cjs");
const project = mkdtempSync("/tmp/sandlock-dirs-");
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };

function sandlock(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: project, env: ENV, timeout: 120_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
  });
}

// Names in a scrambled order (a multiplicative walk), with a directory among them.
const big = join(project, "big");
mkdirSync(big);
for (let i = 0; i < 3000; i++) writeFileSync(join(big, `f${(i * 7919) % 3000}-${"x".repeat(i % 40)}`), "");
mkdirSync(join(big, "sub"));
const del = join(project, "del");
/** The directory the delete-while-listing loop empties, filled afresh for each check. */
function fillDel(): void {
  mkdirSync(del, { recursive: true });
  for (let i = 0; i < 2500; i++) writeFileSync(join(del, `d${(i * 613) % 2500}`), "");
}
fillDel();
writeFileSync(join(project, "afile"), "x");
for (const n of ["q", "b", "Z", "a", "m", "0"]) writeFileSync(join(project, n), n);

const PY = `import os, random; print(os.listdir(".")); print(random.random())`;
const NODE = `const fs = require("fs"); console.log(fs.readdirSync(".").join(","), fs.readdirSync("big").slice(0, 5).join(","))`; // Node's randomBytes mixes time and pid (docs/determinism.md)
const twice = (flags: string[]) => sandlock(["run", "-p", "workspace", ...flags, "--", "sh", "-c", `python3 -c '${PY}'; node -e '${NODE}'; ls -f big | head -3`]);

const out = {
  check: await sandlock(["run", "-p", "workspace", "-r", fixtures, "--deterministic-dirs", "--", "python3", join(fixtures, "dirs-check.py"), big, del, join(project, "afile")]),
  // The same under the supervised view (the default is the kernel view where it applies):
  // the listings are the supervisor's in both.
  checkSupervised: (fillDel(), await sandlock(["run", "-p", "workspace", "--proc-view", "supervised", "-r", fixtures, "--deterministic-dirs", "--", "python3", join(fixtures, "dirs-check.py"), big, del, join(project, "afile")])),
  run1: await twice(["--deterministic-dirs", "--random-seed", "7"]),
  run2: await twice(["--deterministic-dirs", "--random-seed", "7"]),
  control: await sandlock(["run", "-p", "workspace", "--", "sh", "-c", "ls -f big | head -50"]),
  unsupervised: await sandlock(["run", "-p", "workspace", "--no-supervisor", "--deterministic-dirs", "--", "true"]),
};
rmSync(project, { recursive: true, force: true });
console.log(JSON.stringify(out));
