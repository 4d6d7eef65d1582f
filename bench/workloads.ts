// Ordinary workloads under the grants a user gives a build or an agent tool (system
// directories including /etc and /proc, a writable work directory), sandboxed against the
// same command bare, interleaved round by round: make, a Python program opening thousands
// of files, git, and Node requiring many modules. Target (DESIGN 5): at most 1.15x bare.
// Both sides run through bench/fixtures/cpu-of.c, so the command's own CPU time (its
// descendants' included) is compared too, apart from the sandbox's start: on a shared
// machine the wall-time ratio swings with the load (printed), the CPU ratio much less.
// A third side, the floor, runs the command under a compiled launcher that only confines
// it (bench/fixtures/confine-floor.c -n: Landlock rules for the same grants and a seccomp
// filter that traps nothing): what the kernel's mechanisms cost the workload, whoever
// applies them (the Rust reference uses the same two).
// `node dist/bench/workloads.js [rounds]` runs it alone.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, type Summary } from "./stats.js";
import { buildFixture } from "./trap.js";

export const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc", "/proc"].filter((p) => existsSync(p));
const TARGET = 1.15;

export interface Workload {
  name: string;
  /** Runs once before the rounds, outside any timing. */
  setup(dir: string): void;
  /** Before every run, outside its timing (e.g. make clean). */
  reset?(dir: string): void;
  cmd: string[];
}

function sh(cmd: string, cwd: string): void {
  const r = spawnSync("/bin/sh", ["-c", cmd], { cwd, stdio: ["ignore", "ignore", "pipe"], env: cleanEnv() });
  if (r.status !== 0) throw new Error(`workload setup failed: ${cmd}: ${r.stderr}`);
}

/** The same environment on both sides; TMPDIR inside the work dir (the sandbox may not
 * write /tmp). */
export function cleanEnv(dir?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C" };
  if (dir !== undefined) env.TMPDIR = join(dir, ".tmp");
  delete env.NODE_EXTRA_CA_CERTS; // ~50 ms per Node start here (DESIGN 5)
  return env;
}

export const WORKLOADS: Workload[] = [
  {
    name: "make -s -j2, 25 C files",
    setup(dir) {
      for (let i = 0; i < 25; i++) writeFileSync(join(dir, `f${i}.c`), `#include <stdio.h>\n#include <string.h>\nint f${i}(int x) { char b[64]; snprintf(b, sizeof b, "%d", x); return (int)strlen(b) + ${i}; }\n`);
      writeFileSync(join(dir, "main.c"), `int main(void) { return 0; }\n`);
      const objs = [...Array.from({ length: 25 }, (_, i) => `f${i}.o`), "main.o"].join(" ");
      writeFileSync(join(dir, "Makefile"), `prog: ${objs}\n\tcc -o $@ $^\n%.o: %.c\n\tcc -O1 -c -o $@ $<\nclean:\n\trm -f *.o prog\n`);
    },
    reset: (dir) => sh("make -s clean", dir),
    cmd: ["make", "-s", "-j2"],
  },
  {
    name: "python3 opening every file under /usr/include",
    setup() {},
    cmd: ["/usr/bin/python3", "-c", "import os\nn=0\nfor d,_,fs in os.walk('/usr/include'):\n  for f in fs:\n    try:\n      with open(os.path.join(d,f),'rb') as h: h.read(64); n+=1\n    except OSError: pass\nprint(n)"],
  },
  {
    name: "git status; git log --stat -n300; git grep",
    setup(dir) {
      sh("git init -q . && git config user.email b@e && git config user.name bench", dir);
      for (let i = 0; i < 60; i++) writeFileSync(join(dir, `file${i}.txt`), `line ${i}\n`.repeat(50));
      sh("git add -A && git commit -qm init", dir);
      // 300 commits, each touching one file.
      sh("i=0; while [ $i -lt 300 ]; do echo $i >> file$((i % 60)).txt; git commit -qam c$i; i=$((i+1)); done", dir);
    },
    cmd: ["/bin/sh", "-c", "git status --short >/dev/null && git log --stat -n300 >/dev/null && git grep 'line 7' >/dev/null"],
  },
  {
    name: "node requiring 500 small modules",
    setup(dir) {
      mkdirSync(join(dir, "mods"));
      for (let i = 0; i < 500; i++) writeFileSync(join(dir, "mods", `m${i}.js`), `module.exports = ${i};\n`);
      writeFileSync(join(dir, "main.js"), `let s = 0; for (let i = 0; i < 500; i++) s += require("./mods/m" + i + ".js"); console.log(s);\n`);
    },
    cmd: [process.execPath, "main.js"],
  },
];

/** The command's user + system microseconds, from cpu-of's last line on stderr. */
function cpuOf(stderr: string): number {
  const m = /SLCPU (\d+) (\d+)\s*$/.exec(stderr);
  if (m === null) throw new Error(`no cpu-of line in: ${stderr.slice(-500)}`);
  return (Number(m[1]) + Number(m[2])) / 1000;
}

/** One run: wall ms (spawn to exit, the sandbox's start and end included), the command's
 * own CPU ms, and this process's CPU ms meanwhile (sandboxed: the start and the supervisor,
 * its receiving threads included; a bare spawn's is left out, as in kernel-view.ts). */
interface Sample {
  wall: number;
  cpu: number;
  own: number;
}

function bare(cmd: string[], cwd: string): Promise<Sample> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(cmd[0]!, cmd.slice(1), { cwd, stdio: ["ignore", "ignore", "pipe"], env: cleanEnv(cwd) });
    let stderr = "";
    c.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    c.once("error", reject);
    c.once("close", (code) => {
      if (code !== 0) reject(new Error(`${cmd.join(" ")} exited ${code}: ${stderr}`));
      else resolve({ wall: performance.now() - t0, cpu: cpuOf(stderr), own: 0 });
    });
  });
}

/** The floor side: the command confined by Landlock (the sandboxed side's grants) and a
 * seccomp filter alone, through the confine-floor binary at `launcher`. */
function floorSide(launcher: string): (cmd: string[], cwd: string) => Promise<Sample> {
  return (cmd, cwd) => {
    const grants = [...SYSTEM, dirname(process.execPath), dirname(cmd[0]!), `+${cwd}`, "+/dev/null"];
    return bare([launcher, "-n", ...grants, "--", ...cmd], cwd);
  };
}

async function sandboxed(cmd: string[], cwd: string): Promise<Sample> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const policy = { fsReadable: [...SYSTEM, process.execPath, cmd[0]!], fsWritable: [cwd, "/dev/null"], cwd, cleanEnv: true, env: stringEnv(cwd) };
  const r = await Sandbox.run(policy, cmd, { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`sandboxed ${cmd.join(" ")} failed (${r.status} ${r.exitCode}): ${r.stderrText}`);
  const own = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: cpuOf(r.stderrText), own: (own.user + own.system) / 1000 };
}

export function stringEnv(dir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(cleanEnv(dir)).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface WorkloadResult {
  name: string;
  bareMs: Summary;
  sandboxedMs: Summary;
  ratio: Summary;
  /** The command's own CPU time (cpu-of), ms, and sandboxed / bare. */
  bareCpuMs: Summary;
  sandboxedCpuMs: Summary;
  cpuRatio: Summary;
  /** (the command's CPU + this process's) / the bare command's CPU. */
  totalCpuRatio: Summary;
  /** The floor's wall time (confine-floor), floor / bare and sandboxed / floor. */
  floorMs: Summary;
  floorRatio: Summary;
  toFloor: Summary;
  /** The floor's command CPU / the bare command's. */
  floorCpuRatio: Summary;
  /** The 1-minute load average before and after this workload's rounds. */
  load: [number, number];
}

export async function benchWorkloads(rounds: number): Promise<WorkloadResult[]> {
  const out: WorkloadResult[] = [];
  const floor = floorSide(buildFixture("confine-floor", false));
  for (const w of WORKLOADS) {
    const dir = mkdtempSync(join(tmpdir(), "sandlock-bench-"));
    try {
      mkdirSync(join(dir, ".tmp"));
      w.setup(dir);
      const cpuOfPath = buildFixture("cpu-of", true);
      const once = async (side: (c: string[], d: string) => Promise<Sample>): Promise<Sample> => {
        w.reset?.(dir);
        return side([cpuOfPath, ...w.cmd], dir);
      };
      const load0 = loadavg()[0]!;
      await once(bare); // warm the page cache and both paths
      await once(sandboxed);
      await once(floor);
      const b: Sample[] = [];
      const s: Sample[] = [];
      const f: Sample[] = [];
      for (let r = 0; r < rounds; r++) {
        // Alternate which side goes first, so drift does not always favour one.
        if (r % 2 === 0) {
          b.push(await once(bare));
          s.push(await once(sandboxed));
          f.push(await once(floor));
        } else {
          f.push(await once(floor));
          s.push(await once(sandboxed));
          b.push(await once(bare));
        }
      }
      out.push({
        name: w.name,
        bareMs: summarize(b.map((x) => x.wall)),
        sandboxedMs: summarize(s.map((x) => x.wall)),
        ratio: summarize(s.map((x, i) => x.wall / b[i]!.wall)),
        bareCpuMs: summarize(b.map((x) => x.cpu)),
        sandboxedCpuMs: summarize(s.map((x) => x.cpu)),
        cpuRatio: summarize(s.map((x, i) => x.cpu / b[i]!.cpu)),
        totalCpuRatio: summarize(s.map((x, i) => (x.cpu + x.own) / b[i]!.cpu)),
        floorMs: summarize(f.map((x) => x.wall)),
        floorRatio: summarize(f.map((x, i) => x.wall / b[i]!.wall)),
        toFloor: summarize(s.map((x, i) => x.wall / f[i]!.wall)),
        floorCpuRatio: summarize(f.map((x, i) => x.cpu / b[i]!.cpu)),
        load: [load0, loadavg()[0]!],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export function reportWorkloads(results: readonly WorkloadResult[]): string {
  const lines = [`Workloads under system grants (${SYSTEM.join(" ")}) and a writable work dir, sandboxed / bare`];
  for (const r of results) {
    lines.push(`  ${r.name} (load average ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)})`);
    lines.push(`    bare wall ${fmt(r.bareMs, " ms", 1)}`);
    lines.push(`    sandboxed wall ${fmt(r.sandboxedMs, " ms", 1)}`);
    lines.push(`    wall ratio ${fmt(r.ratio, "x", 2)}  target <= ${TARGET}x median: ${r.ratio.median <= TARGET ? "PASS" : "MISS"}`);
    lines.push(`    command CPU bare ${fmt(r.bareCpuMs, " ms", 1)}, sandboxed ${fmt(r.sandboxedCpuMs, " ms", 1)}`);
    lines.push(`    command CPU ratio ${fmt(r.cpuRatio, "x", 2)} (the command alone, the start left out)`);
    lines.push(`    CPU ratio with the supervising process ${fmt(r.totalCpuRatio, "x", 2)} (+ its start and supervision)`);
    lines.push(`    floor (Landlock and a seccomp filter alone, confine-floor) wall ${fmt(r.floorMs, " ms", 1)}`);
    lines.push(`    floor / bare wall ${fmt(r.floorRatio, "x", 2)}, command CPU ${fmt(r.floorCpuRatio, "x", 2)}; sandboxed / floor wall ${fmt(r.toFloor, "x", 2)}`);
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rounds = Number(process.argv[2] ?? 5);
  console.log(reportWorkloads(await benchWorkloads(rounds)));
}
