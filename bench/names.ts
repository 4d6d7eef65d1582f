// The cost of the supervisor's name operations (issues 12 and 14): `make -j2` of C files
// and `git commit` bare, sandboxed, with protectedFiles (every write open and name
// operation performed by the supervisor) and with a policyFn auditing every open
// (policyFnFiles), interleaved in one invocation. No target is set for these figures.
// Usage: node dist/bench/names.js [rounds], or `npm run bench` (BENCH_ONLY=names).

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox, type PolicyInput } from "../src/index.js";
import { fmt, summarize, timed, type Summary } from "./stats.js";

const VARIANTS = ["bare", "sandboxed", "protected", "policyFn audit"] as const;
type Variant = (typeof VARIANTS)[number];

export interface NamesResult {
  jobs: { name: string; ms: Record<Variant, Summary>; opens: number }[];
  /** The audit's ratio to bare and to the same policy without policyFn, per round. */
  auditVsBare: Summary;
  auditVsSandboxed: Summary;
}

/** A git repository with 60 C files and a Makefile that compiles them into objects. */
function makeProject(base: string): string {
  const p = join(base, "p");
  mkdirSync(join(p, "src"), { recursive: true });
  let objs = "";
  for (let i = 0; i < 60; i++) {
    writeFileSync(join(p, "src", `f${i}.c`), `#include <stdio.h>\nint f${i}(int x) { return x * ${i} + printf("%d", x); }\n`);
    objs += ` out/f${i}.o`;
  }
  writeFileSync(join(p, "Makefile"), `all:${objs}\nout/%.o: src/%.c\n\t@mkdir -p out && cc -c -O0 -o $@ $<\nclean:\n\t@rm -rf out\n`);
  const git = (...a: string[]): void => void execFileSync("git", ["-C", p, "-c", "user.name=b", "-c", "user.email=b@b", ...a]);
  git("init", "-q");
  git("add", ".");
  git("commit", "-qm", "init");
  return p;
}

export async function benchNames(rounds = 5): Promise<NamesResult> {
  const base = mkdtempSync("/tmp/sandlock-bench-names-");
  try {
    const p = makeProject(base);
    let opens = 0;
    const policy = (v: Variant): PolicyInput => ({
      fsReadable: ["/usr", "/bin", "/lib", "/lib64", "/etc", "/dev/urandom"], fsWritable: [p, "/dev/null", "/tmp"], cwd: p,
      env: { PATH: "/usr/bin:/bin", HOME: p },
      ...(v === "protected" ? { protectedFiles: true } : {}),
      ...(v === "policyFn audit" ? { policyFnFiles: true, policyFn: (e) => (e.category === "file" && opens++, "audit" as const) } : {}),
    });
    const jobs: { name: string; cmd: string }[] = [
      { name: "make -j2 (60 C files)", cmd: "make -s clean && make -s -j2" },
      { name: "git commit (one-line change)", cmd: "echo x >> src/f1.c && git -c user.name=b -c user.email=b@b commit -qam c" },
    ];
    const out: NamesResult["jobs"] = [];
    const vsBare: number[] = [];
    const vsSandboxed: number[] = [];
    for (const job of jobs) {
      const samples: Record<Variant, number[]> = { bare: [], sandboxed: [], protected: [], "policyFn audit": [] };
      opens = 0;
      for (let r = 0; r < rounds; r++) {
        for (const v of VARIANTS) {
          const ms = await timed(async () => {
            if (v === "bare") {
              execFileSync("/bin/sh", ["-c", job.cmd], { cwd: p, env: { PATH: "/usr/bin:/bin", HOME: p } });
              return;
            }
            const res = await Sandbox.run(policy(v), ["/bin/sh", "-c", job.cmd], { timeout: 300_000 });
            if (res.exitCode !== 0) throw new Error(`${job.name} (${v}): exit ${res.exitCode}: ${res.stderrText}`);
          });
          samples[v].push(ms);
        }
        if (job.name.startsWith("make")) {
          vsBare.push(samples["policyFn audit"][r]! / samples.bare[r]!);
          vsSandboxed.push(samples["policyFn audit"][r]! / samples.sandboxed[r]!);
        }
      }
      out.push({ name: job.name, ms: Object.fromEntries(VARIANTS.map((v) => [v, summarize(samples[v])])) as Record<Variant, Summary>, opens: Math.round(opens / rounds) });
    }
    return { jobs: out, auditVsBare: summarize(vsBare), auditVsSandboxed: summarize(vsSandboxed) };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

export function reportNames(r: NamesResult): string {
  const lines = ["Name operations by the supervisor: protectedFiles and policyFn file events (no target)"];
  for (const j of r.jobs) {
    lines.push(`  ${j.name} (${j.opens} opens audited per run)`);
    for (const v of VARIANTS) lines.push(`    ${v.padEnd(15)} ${fmt(j.ms[v], " ms", 1)}`);
  }
  lines.push(`  make: policyFn audit / bare       ${fmt(r.auditVsBare, "x", 2)}`);
  lines.push(`  make: policyFn audit / sandboxed  ${fmt(r.auditVsSandboxed, "x", 2)}`);
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(reportNames(await benchNames(Number(process.argv[2] ?? 5))));
}
