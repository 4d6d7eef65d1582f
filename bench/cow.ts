// The copy-on-write workdir's cost (issue 12): `git status` and `make` in a workdir against
// the same directory granted writable, interleaved, and a commit of 10,000 new files.
// Usage: node dist/bench/cow.js [rounds]

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, applyWorkdirBranch } from "../src/index.js";
import { fmt, summarize, timed } from "./stats.js";

const rounds = Number(process.argv[2] ?? 7);
const base = mkdtempSync("/tmp/sandlock-cow-bench-");
const storage = join(base, "branches");
const system = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/dev/null"];
const project = join(base, "p");
mkdirSync(join(project, "src"), { recursive: true });
for (let i = 0; i < 2000; i++) writeFileSync(join(project, "src", `f${i}.txt`), `line ${i}\n`);
let rules = "all:";
for (let i = 0; i < 40; i++) rules += ` out/o${i}`;
rules += "\nout/%: src/f1.txt\n\t@mkdir -p out && cp $< $@\nclean:\n\t@rm -rf out\n";
writeFileSync(join(project, "Makefile"), rules);
const env = { ...process.env, HOME: base, GIT_CONFIG_NOSYSTEM: "1" };
execFileSync("sh", ["-c", "git init -q . && git config user.email b@e && git config user.name B && git add -A && git commit -qm x"], { cwd: project, env });

const plain = { fsReadable: system, fsWritable: [project, "/dev/null"], cwd: project, env: { HOME: base } };
const cow = { fsReadable: system, fsWritable: ["/dev/null"], workdir: project, fsStorage: storage, onExit: "abort" as const, env: { HOME: base } };
const jobs: Record<string, string> = { "git status": "git status --porcelain >/dev/null", make: "make -s && make -s clean" };
for (const [name, script] of Object.entries(jobs)) {
  const a: number[] = [], b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(await timed(async () => void (await Sandbox.run(plain, ["/bin/sh", "-c", script]))));
    b.push(await timed(async () => void (await Sandbox.run(cow, ["/bin/sh", "-c", script]))));
  }
  console.log(`${name}: writable grant ${fmt(summarize(a), " ms", 1)}`);
  console.log(`${name}: workdir        ${fmt(summarize(b), " ms", 1)}`);
}
const commits: number[] = [];
for (let r = 0; r < Math.min(rounds, 3); r++) {
  const run = await Sandbox.run({ ...cow, onExit: "keep" }, ["/bin/sh", "-c", `mkdir -p gen${r} && cd gen${r} && seq 10000 | xargs touch`]);
  const id = run.workdir!.branch;
  commits.push(await timed(async () => void applyWorkdirBranch(id, { fsStorage: storage })));
}
console.log(`commit of 10,000 new files: ${fmt(summarize(commits), " ms", 0)}`);
rmSync(base, { recursive: true, force: true });
