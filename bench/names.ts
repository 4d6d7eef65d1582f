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
  jobs: { name: string; ms: Record<Variant, Summary>; cpuMs: Record<Variant, Summary>; opens: number }[];
  /** OPENS opens of one file by a static probe, per variant and mode: microseconds per
   * open, wall and the supervisor's CPU (less disturbed by other load than wall time). */
  loop: { variant: Variant; mode: "read" | "write"; usPerOpen: Summary; supervisorCpuUsPerOpen: Summary }[];
  /** The audit's ratio to bare and to the same policy without policyFn, per round. */
  auditVsBare: Summary;
  auditVsSandboxed: Summary;
}

const OPENS = 5000;

function buildProbe(): string {
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const out = join(root, "build", "bench", "sl-probe");
  mkdirSync(join(root, "build", "bench"), { recursive: true });
  execFileSync("gcc", ["-O2", "-static", "-o", out, join(root, "test", "fixtures", "probe.c"), "-lpthread"]);
  return out;
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
      const cpu: Record<Variant, number[]> = { bare: [], sandboxed: [], protected: [], "policyFn audit": [] };
      opens = 0;
      for (let r = 0; r < rounds; r++) {
        for (const v of VARIANTS) {
          const c0 = process.cpuUsage();
          const ms = await timed(async () => {
            if (v === "bare") {
              execFileSync("/bin/sh", ["-c", job.cmd], { cwd: p, env: { PATH: "/usr/bin:/bin", HOME: p } });
              return;
            }
            const res = await Sandbox.run(policy(v), ["/bin/sh", "-c", job.cmd], { timeout: 300_000 });
            if (res.exitCode !== 0) throw new Error(`${job.name} (${v}): exit ${res.exitCode}: ${res.stderrText}`);
          });
          samples[v].push(ms);
          const c = process.cpuUsage(c0);
          cpu[v].push((c.user + c.system) / 1000);
        }
        if (job.name.startsWith("make")) {
          vsBare.push(samples["policyFn audit"][r]! / samples.bare[r]!);
          vsSandboxed.push(samples["policyFn audit"][r]! / samples.sandboxed[r]!);
        }
      }
      const sum = (x: Record<Variant, number[]>): Record<Variant, Summary> => Object.fromEntries(VARIANTS.map((v) => [v, summarize(x[v])])) as Record<Variant, Summary>;
      out.push({ name: job.name, ms: sum(samples), cpuMs: sum(cpu), opens: Math.round(opens / rounds) });
    }
    const probe = buildProbe();
    const file = join(p, "src", "f2.c");
    const loop: NamesResult["loop"] = [];
    const loopSamples = new Map<string, { wall: number[]; cpu: number[] }>();
    for (let r = 0; r < rounds; r++) {
      for (const mode of ["read", "write"] as const) {
        for (const v of VARIANTS.filter((x) => x !== "bare")) {
          const c0 = process.cpuUsage();
          const ms = await timed(async () => {
            const res = await Sandbox.run({ ...policy(v), fsReadable: ["/usr", "/bin", "/lib", "/lib64", "/etc", probe] }, [probe, "open-loop", file, String(OPENS), mode === "read" ? "r" : "w"]);
            if (res.stdoutText.trim() !== `opens ${OPENS}`) throw new Error(`open-loop (${v}, ${mode}): ${res.stdoutText} ${res.stderrText}`);
          });
          const c = process.cpuUsage(c0);
          const key = `${v}|${mode}`;
          const s = loopSamples.get(key) ?? { wall: [], cpu: [] };
          s.wall.push((ms * 1000) / OPENS);
          s.cpu.push((c.user + c.system) / OPENS);
          loopSamples.set(key, s);
        }
      }
    }
    for (const [key, s] of loopSamples) {
      const [variant, mode] = key.split("|") as [Variant, "read" | "write"];
      loop.push({ variant, mode, usPerOpen: summarize(s.wall), supervisorCpuUsPerOpen: summarize(s.cpu) });
    }
    return { jobs: out, loop, auditVsBare: summarize(vsBare), auditVsSandboxed: summarize(vsSandboxed) };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

export function reportNames(r: NamesResult): string {
  const lines = ["Name operations by the supervisor: protectedFiles and policyFn file events (no target)"];
  for (const j of r.jobs) {
    lines.push(`  ${j.name} (${j.opens} opens audited per run)`);
    for (const v of VARIANTS) lines.push(`    ${v.padEnd(15)} ${fmt(j.ms[v], " ms", 1)}   supervisor CPU ${fmt(j.cpuMs[v], " ms", 1)}`);
  }
  lines.push(`  ${OPENS} opens of one file by a static probe (per open, including the sandbox's start)`);
  for (const l of r.loop) lines.push(`    ${l.mode.padEnd(5)} ${l.variant.padEnd(15)} wall ${fmt(l.usPerOpen, " us", 1)}   supervisor CPU ${fmt(l.supervisorCpuUsPerOpen, " us", 1)}`);
  lines.push(`  make: policyFn audit / bare       ${fmt(r.auditVsBare, "x", 2)}`);
  lines.push(`  make: policyFn audit / sandboxed  ${fmt(r.auditVsSandboxed, "x", 2)}`);
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(reportNames(await benchNames(Number(process.argv[2] ?? 5))));
}
