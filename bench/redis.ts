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
import { fmt, summarize, type Summary } from "./stats.js";

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
async function benchmark(port: number): Promise<{ set: number; get: number }> {
  const out = (await run("redis-benchmark", ["-p", String(port), "-t", "set,get", "-n", String(REQUESTS), "-q"])).stdout;
  const rate = (name: string): number => {
    const m = new RegExp(`${name}: ([\\d.]+) requests per second`).exec(out);
    if (!m) throw new Error(`cannot read ${name} from redis-benchmark: ${out}`);
    return Number(m[1]);
  };
  return { set: rate("SET"), get: rate("GET") };
}

export interface RedisResult {
  set: { bare: Summary; sandboxed: Summary; ratio: Summary };
  get: { bare: Summary; sandboxed: Summary; ratio: Summary };
}

export async function benchRedis(rounds: number, port = 16379): Promise<RedisResult> {
  ensureRedis();
  const dir = mkdtempSync(join(tmpdir(), "sandlock-redis-"));
  const samples = { set: { bare: [] as number[], sandboxed: [] as number[] }, get: { bare: [] as number[], sandboxed: [] as number[] } };
  try {
    for (let r = 0; r < rounds; r++) {
      const bare: ChildProcess = spawn("/usr/bin/redis-server", serverArgs(port, dir), { stdio: "ignore" });
      await waitForPort(port);
      const b = await benchmark(port);
      bare.kill("SIGKILL");
      await new Promise((res) => bare.once("exit", res));

      const sb = new Sandbox({
        fsReadable: ["/usr", "/lib", "/lib64", "/etc"].filter((p) => existsSync(p)),
        fsWritable: [dir],
        netAllowBind: [port],
      });
      await sb.spawn(["/usr/bin/redis-server", ...serverArgs(port, dir)], { stdout: "ignore", stderr: "ignore" });
      await waitForPort(port);
      const s = await benchmark(port);
      await sb.kill();

      samples.set.bare.push(b.set);
      samples.set.sandboxed.push(s.set);
      samples.get.bare.push(b.get);
      samples.get.sandboxed.push(s.get);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pack = (x: { bare: number[]; sandboxed: number[] }) => ({
    bare: summarize(x.bare),
    sandboxed: summarize(x.sandboxed),
    ratio: summarize(x.sandboxed.map((v, i) => v / x.bare[i]!)),
  });
  return { set: pack(samples.set), get: pack(samples.get) };
}

export function reportRedis(r: RedisResult): string {
  const k = (s: Summary): Summary => ({ min: s.min / 1000, median: s.median / 1000, max: s.max / 1000 });
  const lines = [`redis-benchmark -t set,get -n ${REQUESTS} against redis-server, thousands of requests per second`];
  for (const op of ["set", "get"] as const) {
    lines.push(`  ${op.toUpperCase()} ${"bare".padEnd(23)} ${fmt(k(r[op].bare), "k", 1)}`);
    lines.push(`  ${op.toUpperCase()} ${"sandboxed".padEnd(23)} ${fmt(k(r[op].sandboxed), "k", 1)}`);
    lines.push(`  ${op.toUpperCase()} ${"ratio (sandboxed / bare)".padEnd(23)} ${fmt(r[op].ratio, "x", 3)}`);
  }
  return lines.join("\n");
}
