// sandlock learn on a job that lists / and reads through a symbolic link it made, as
// whoever runs this: the profile it writes, and a run of it. Prints one JSON line.
// Usage: red2-learn-case.js STAGE

import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [stage] = process.argv.slice(2) as [string];
const cli = join(stage, "bin", "sandlock.cjs");
const project = mkdtempSync("/tmp/sandlock-red2-learn-");
const data = mkdtempSync("/tmp/sandlock-red2-data-");
chmodSync(data, 0o755);
writeFileSync(join(data, "data.txt"), "DATA\n", { mode: 0o644 });
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };

function sandlock(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: project, env: ENV, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
  });
}

// The attack: list / (a grant of / is every file), list /etc through a link in the project
// (a grant of the link is all of /etc, secrets included). The control: a directory of
// data read through a link of its own is still granted, where it really is.
const job = `ls / >/dev/null; ln -s /etc e; ls e/ >/dev/null; ln -s ${data} d; cat d/data.txt`;
const learned = await sandlock(["learn", "-o", "learned.toml", "--", "sh", "-c", job]);
let profile = "";
try {
  profile = readFileSync(join(project, "learned.toml"), "utf8");
} catch (e) {
  profile = `unreadable: ${(e as Error).message}`;
}
const replay = await sandlock(["run", "--profile-file", "learned.toml", "--", "sh", "-c", "cat d/data.txt; cat /etc/shadow >/dev/null 2>&1 && echo SHADOW-READ; ls / >/dev/null 2>&1 && echo ROOT-LISTED; true"]);
// A link planted where the profile is to be written, leading nowhere: refused, as a file
// there would be; nothing is written through it.
symlinkSync(join(project, "target.toml"), join(project, "planted.toml"));
const planted = { ...(await sandlock(["learn", "-o", "planted.toml", "--", "true"])), targetMade: existsSync(join(project, "target.toml")) };
rmSync(project, { recursive: true, force: true });
rmSync(data, { recursive: true, force: true });
console.log(JSON.stringify({ project, data, learned, profile, replay, planted }));
