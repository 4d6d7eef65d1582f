// What determinism costs (issue 14, item 5): a Python program that draws randomness in a loop
// (os.urandom, getrandom underneath, and reads of /dev/urandom) and one that lists a
// directory of 2,000 entries in a loop, each bare, sandboxed, and sandboxed with randomSeed
// or deterministicDirs, interleaved round by round; the clock read in loops with timeStart
// (through the vDSO, monotonic, and the system call the supervisor answers); and 200 execs
// under a policyFn that audits each. No target is set: these are the prices
// docs/determinism.md and docs/policy-fn.md quote.
// `node dist/bench/determinism.js [rounds]` runs it alone.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, timed, type Summary } from "./stats.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"];
const PY = "/usr/bin/python3";

interface Case {
  name: string;
  code: (dir: string) => string;
  extra: object;
}

const CASES: Case[] = [
  {
    name: "20,000 x os.urandom(16) and 2,000 x 16 bytes of /dev/urandom, randomSeed",
    code: () => "import os\nfor _ in range(20000): os.urandom(16)\nfor _ in range(2000):\n  with open('/dev/urandom','rb') as f: f.read(16)",
    extra: { randomSeed: 7, fsReadable: [...SYSTEM, "/dev/urandom"] },
  },
  {
    name: "200,000 x time.time() (vDSO clock_gettime(CLOCK_REALTIME)), timeStart",
    code: () => "import time\nfor _ in range(200000): time.time()",
    extra: { timeStart: "2000-01-01T00:00:00Z" },
  },
  {
    name: "200,000 x time.monotonic() (vDSO clock_gettime(CLOCK_MONOTONIC)), timeStart",
    code: () => "import time\nfor _ in range(200000): time.monotonic()",
    extra: { timeStart: "2000-01-01T00:00:00Z" },
  },
  {
    name: "20,000 x syscall(SYS_clock_gettime, CLOCK_REALTIME), timeStart",
    code: () => "import ctypes\nlibc = ctypes.CDLL(None)\nb = ctypes.create_string_buffer(16)\nfor _ in range(20000): libc.syscall(228, 0, b)",
    extra: { timeStart: "2000-01-01T00:00:00Z" },
  },
  {
    name: "200 x subprocess.run(['/bin/true']), policyFn auditing every exec",
    code: () => "import subprocess\nfor _ in range(200): subprocess.run(['/bin/true'])",
    extra: { policyFn: () => "audit" },
  },
  {
    name: "200 x listing a directory of 2,000 entries, deterministicDirs",
    code: (dir) => `import os\nfor _ in range(200): os.listdir(${JSON.stringify(join(dir, "many"))})`,
    extra: { deterministicDirs: true },
  },
];

function bare(code: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(PY, ["-c", code], { stdio: "ignore" });
    c.once("error", reject);
    c.once("exit", (status) => (status === 0 ? resolve() : reject(new Error(`bare python exited ${status}`))));
  });
}

async function sandboxed(code: string, dir: string, extra: object): Promise<void> {
  const base = { fsReadable: [...SYSTEM, dir, "/dev/urandom"] };
  const policy = { ...base, ...extra, fsReadable: [...new Set([...base.fsReadable, ...((extra as { fsReadable?: string[] }).fsReadable ?? [])])] };
  const r = await Sandbox.run(policy, [PY, "-c", code], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`sandboxed python failed: ${r.stderrText}`);
}

export interface DeterminismResult {
  name: string;
  bareMs: Summary;
  sandboxedMs: Summary;
  deterministicMs: Summary;
  ratioToSandboxed: Summary;
  ratioToBare: Summary;
}

export async function benchDeterminism(rounds: number): Promise<DeterminismResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-bench-det-"));
  mkdirSync(join(dir, "many"));
  for (let i = 0; i < 2000; i++) writeFileSync(join(dir, "many", `f${(i * 7919) % 2000}`), "");
  const out: DeterminismResult[] = [];
  try {
    for (const c of CASES) {
      const code = c.code(dir);
      const b: number[] = [];
      const s: number[] = [];
      const d: number[] = [];
      await bare(code);
      await sandboxed(code, dir, c.extra);
      for (let r = 0; r < rounds; r++) {
        b.push(await timed(() => bare(code)));
        s.push(await timed(() => sandboxed(code, dir, {})));
        d.push(await timed(() => sandboxed(code, dir, c.extra)));
      }
      out.push({
        name: c.name,
        bareMs: summarize(b),
        sandboxedMs: summarize(s),
        deterministicMs: summarize(d),
        ratioToSandboxed: summarize(d.map((x, i) => x / s[i]!)),
        ratioToBare: summarize(d.map((x, i) => x / b[i]!)),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export function reportDeterminism(results: readonly DeterminismResult[]): string {
  const lines = ["Determinism's cost (no target; docs/determinism.md)"];
  for (const r of results) {
    lines.push(`  ${r.name}`);
    lines.push(`    bare          ${fmt(r.bareMs, " ms", 1)}`);
    lines.push(`    sandboxed     ${fmt(r.sandboxedMs, " ms", 1)}`);
    lines.push(`    deterministic ${fmt(r.deterministicMs, " ms", 1)}`);
    lines.push(`    deterministic / sandboxed ${fmt(r.ratioToSandboxed, "x", 2)};  / bare ${fmt(r.ratioToBare, "x", 2)}`);
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(reportDeterminism(await benchDeterminism(Number(process.argv[2] ?? 5))));
}
