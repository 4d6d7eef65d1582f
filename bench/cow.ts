// The copy-on-write workdir's cost (issue 12): `git status` and `make` bare, with the
// directory granted writable, and in a workdir, interleaved in one invocation; and a commit
// of 10,000 new files. No target is set (the issue asks for the figures).
// Usage: node dist/bench/cow.js [rounds], or `npm run bench` (BENCH_ONLY=cow).

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox, applyWorkdirBranch } from "../src/index.js";
import { fmt, summarize, timed, type Summary } from "./stats.js";

export interface CowResult {
  /** Per job: bare, writable grant and workdir, in ms. */
  jobs: { name: string; bareMs: Summary; grantMs: Summary; workdirMs: Summary }[];
  commitMs: Summary;
}

/** A project of 2,000 tracked files and a Makefile of 40 targets, in a git repository. */
function makeProject(base: string): string {
  const project = join(base, "p");
  mkdirSync(join(project, "src"), { recursive: true });
  for (let i = 0; i < 2000; i++) writeFileSync(join(project, "src", `f${i}.txt`), `line ${i}\n`);
  let rules = "all:";
  for (let i = 0; i < 40; i++) rules += ` out/o${i}`;
  rules += "\nout/%: src/f1.txt\n\t@mkdir -p out && cp $< $@\nclean:\n\t@rm -rf out\n";
  writeFileSync(join(project, "Makefile"), rules);
  const env = { ...process.env, HOME: base, GIT_CONFIG_NOSYSTEM: "1" };
  execFileSync("sh", ["-c", "git init -q . && git config user.email b@e && git config user.name B && git add -A && git commit -qm x"], { cwd: project, env });
  return project;
}

export async function benchCow(rounds: number): Promise<CowResult> {
  const base = mkdtempSync("/tmp/sandlock-cow-bench-");
  try {
    const storage = join(base, "branches");
    const system = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/dev/null"];
    const project = makeProject(base);
    const plain = { fsReadable: system, fsWritable: [project, "/dev/null"], cwd: project, env: { HOME: base } };
    const cow = { fsReadable: system, fsWritable: ["/dev/null"], workdir: project, fsStorage: storage, onExit: "abort" as const, env: { HOME: base } };
    const jobs: Record<string, string> = { "git status": "git status --porcelain >/dev/null", make: "make -s && make -s clean" };
    const out: CowResult["jobs"] = [];
    for (const [name, script] of Object.entries(jobs)) {
      const bare: number[] = [], grant: number[] = [], staged: number[] = [];
      for (let r = 0; r < rounds; r++) {
        bare.push(await timed(async () => void execFileSync("/bin/sh", ["-c", script], { cwd: project, env: { ...process.env, HOME: base } })));
        grant.push(await timed(async () => void (await Sandbox.run(plain, ["/bin/sh", "-c", script]))));
        staged.push(await timed(async () => void (await Sandbox.run(cow, ["/bin/sh", "-c", script]))));
      }
      out.push({ name, bareMs: summarize(bare), grantMs: summarize(grant), workdirMs: summarize(staged) });
    }
    const commits: number[] = [];
    for (let r = 0; r < Math.min(rounds, 3); r++) {
      const run = await Sandbox.run({ ...cow, onExit: "keep" }, ["/bin/sh", "-c", `mkdir -p gen${r} && cd gen${r} && seq 10000 | xargs touch`]);
      const id = run.workdir!.branch;
      commits.push(await timed(async () => void applyWorkdirBranch(id, { fsStorage: storage })));
    }
    return { jobs: out, commitMs: summarize(commits) };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

export function reportCow(r: CowResult): string {
  const lines = ["Copy-on-write workdir (no target; docs/cow.md)"];
  for (const j of r.jobs) {
    lines.push(`  ${j.name}`);
    lines.push(`    bare            ${fmt(j.bareMs, " ms", 1)}`);
    lines.push(`    writable grant  ${fmt(j.grantMs, " ms", 1)}`);
    lines.push(`    workdir         ${fmt(j.workdirMs, " ms", 1)}`);
  }
  lines.push(`  commit of 10,000 new files ${fmt(r.commitMs, " ms", 0)}`);
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(reportCow(await benchCow(Number(process.argv[2] ?? 7))));
}
