// `npm run bench`: runs every benchmark and prints ratios against the bare run measured in
// the same invocation, with min/median/max over rounds, and each target with PASS or MISS.
// Results also go to bench/results/latest.json. BENCH_ONLY=name,name runs a subset
// (library, cli, workloads, trap, scale, redis, checkpoint, fork, determinism, proxy, cow, names).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchCli, benchLibrary, reportCli, reportLibrary } from "./spawn.js";
import { benchRedis, reportRedis } from "./redis.js";
import { benchTrap, reportTrap } from "./trap.js";
import { benchCheckpoint, reportCheckpoint } from "./checkpoint.js";
import { benchFork, reportFork } from "./fork.js";
import { benchWorkloads, reportWorkloads } from "./workloads.js";
import { benchScale, reportScale } from "./scale.js";
import { benchDeterminism, reportDeterminism } from "./determinism.js";
import { benchProxy, reportProxy } from "./proxy.js";
import { benchCow, reportCow } from "./cow.js";
import { benchNames, reportNames } from "./names.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const only = process.env.BENCH_ONLY?.split(",");
const results: Record<string, unknown> = {};

async function bench<T>(name: string, measure: () => T | Promise<T>, report: (r: T) => string, note?: string): Promise<void> {
  if (only !== undefined && !only.includes(name)) return;
  const r = await measure();
  results[name] = r;
  console.log(report(r));
  if (note !== undefined) console.log(`  ${note}`);
  console.log("");
}

await bench("library", () => benchLibrary(rounds, 200), reportLibrary);
await bench("cli", () => benchCli(rounds, 20), reportCli);
await bench("workloads", () => benchWorkloads(Math.max(3, Math.ceil(rounds / 2))), reportWorkloads);
await bench("trap", () => benchTrap(rounds), reportTrap);
await bench("scale", () => benchScale(Math.max(3, Math.ceil(rounds / 3))), reportScale);
await bench("redis", () => benchRedis(Math.max(3, Math.ceil(rounds / 2))), reportRedis);
await bench("checkpoint", () => benchCheckpoint(rounds), reportCheckpoint, "no target set; the floor is copying the same pages with process_vm_readv (issue 5)");
await bench("fork", () => benchFork(Math.max(3, Math.ceil(rounds / 3))), reportFork);
await bench("determinism", () => benchDeterminism(Math.max(3, Math.ceil(rounds / 2))), reportDeterminism);
await bench("proxy", () => benchProxy(Math.max(3, Math.ceil(rounds / 2))), reportProxy);
await bench("cow", () => benchCow(Math.max(3, Math.ceil(rounds / 2))), reportCow);
await bench("names", () => benchNames(Math.max(3, Math.ceil(rounds / 2))), reportNames);

const out = join(ROOT, "bench", "results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, only === undefined ? "latest.json" : `latest-${only.join("-")}.json`), JSON.stringify({ date: new Date().toISOString(), rounds, ...results }, null, 2) + "\n");
