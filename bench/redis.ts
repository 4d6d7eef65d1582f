// A syscall-heavy real workload: redis-server (Debian's package) serving redis-benchmark
// SET and GET, bare and sandboxed (its port allowed), in the same invocation. Installs
// redis with apt-get when it is missing.

import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sandbox } from "../src/index.js";
import { availableParallelism } from "node:os";
import { fmt, summarize, verdict, type Summary } from "./stats.js";

const REQUESTS = 100_000;
const run = promisify(execFile);

function ensureRedis(): void {
  if (existsSync("/usr/bin/redis-server") && existsSync("/usr/bin/redis-benchmark")) return;
  execFileSync("apt-get", ["install", "-y", "-qq", "redis-server", "redis-tools"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

function serverArgs(port: number, dir: string): string[] {
  return ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--logfile", ""];
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: "127.0.0.1" }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis did not start listening on ${port}`);
}

/** requests per second for SET and GET. Asynchronous on purpose: this process supervises
 * the sandboxed server, so it must keep its event loop running while the load runs. */
async function benchmark(port: number, pipeline: number): Promise<{ set: number; get: number }> {
  const out = (await run("redis-benchmark", ["-p", String(port), "-t", "set,get", "-n", String(REQUESTS), "-P", String(pipeline), "-q"])).stdout;
  const rate = (name: string): number => {
    const m = new RegExp(`${name}: ([\\d.]+) requests per second`).exec(out);
    if (!m) throw new Error(`cannot read ${name} from redis-benchmark: ${out}`);
    return Number(m[1]);
  };
  return { set: rate("SET"), get: rate("GET") };
}

type OpResult = { bare: Summary; sandboxed: Summary; ratio: Summary };

export interface RedisResult {
  /** Keyed "set", "get" (one request at a time) and "set -P 16", "get -P 16" (pipelined). */
  ops: Record<string, OpResult>;
}

const PIPELINES = [1, 16];

export async function benchRedis(rounds: number, port = 16379): Promise<RedisResult> {
  ensureRedis();
  const dir = mkdtempSync(join(tmpdir(), "sandlock-redis-"));
  const samples: Record<string, { bare: number[]; sandboxed: number[] }> = {};
  const note = (p: number, side: "bare" | "sandboxed", r: { set: number; get: number }): void => {
    for (const op of ["set", "get"] as const) ((samples[p === 1 ? op : `${op} -P ${p}`] ??= { bare: [], sandboxed: [] })[side]).push(r[op]);
  };
  const bareRun = async (): Promise<void> => {
    const bare: ChildProcess = spawn("/usr/bin/redis-server", serverArgs(port, dir), { stdio: "ignore" });
    await waitForPort(port);
    for (const p of PIPELINES) note(p, "bare", await benchmark(port, p));
    bare.kill("SIGKILL");
    await new Promise((res) => bare.once("exit", res));
  };
  const sandboxedRun = async (): Promise<void> => {
    const sb = new Sandbox({
      fsReadable: ["/usr", "/lib", "/lib64", "/etc"].filter((p) => existsSync(p)),
      fsWritable: [dir],
      netAllowBind: [port],
    });
    await sb.spawn(["/usr/bin/redis-server", ...serverArgs(port, dir)], { stdout: "ignore", stderr: "ignore" });
    await waitForPort(port);
    for (const p of PIPELINES) note(p, "sandboxed", await benchmark(port, p));
    await sb.kill();
  };
  try {
    // Alternating which side runs first, so drift in the machine's load hits both.
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        await bareRun();
        await sandboxedRun();
      } else {
        await sandboxedRun();
        await bareRun();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ops: Record<string, OpResult> = {};
  for (const [k, x] of Object.entries(samples)) {
    ops[k] = { bare: summarize(x.bare), sandboxed: summarize(x.sandboxed), ratio: summarize(x.sandboxed.map((v, i) => v / x.bare[i]!)) };
  }
  return { ops };
}

export function reportRedis(r: RedisResult): string {
  const k = (s: Summary): Summary => ({ min: s.min / 1000, median: s.median / 1000, max: s.max / 1000 });
  const lines = [
    `redis-benchmark -n ${REQUESTS} against redis-server, thousands of requests per second`,
    `  (client and server share this machine's ${availableParallelism()} CPUs, as a local client would)`,
  ];
  for (const [op, x] of Object.entries(r.ops)) {
    lines.push(`  ${op.toUpperCase().padEnd(9)} ${"bare".padEnd(23)} ${fmt(k(x.bare), "k", 1)}`);
    lines.push(`  ${op.toUpperCase().padEnd(9)} ${"sandboxed".padEnd(23)} ${fmt(k(x.sandboxed), "k", 1)}`);
    lines.push(`  ${op.toUpperCase().padEnd(9)} ${"ratio (sandboxed / bare)".padEnd(23)} ${fmt(x.ratio, "x", 3)}`);
    lines.push(`  ${verdict(`${op}: at least 97% of bare throughput (DESIGN 5)`, x.ratio.median >= 0.97)}`);
  }
  return lines.join("\n");
}
