// `npm run bench`: runs every benchmark and prints ratios against the bare run measured in
// the same invocation, with min/median/max over rounds. Results also go to
// bench/results/latest.json.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchCli, benchLibrary, report } from "./spawn.js";
import { benchRedis, reportRedis } from "./redis.js";
import { benchTrap, reportTrap } from "./trap.js";
import { benchCheckpoint, reportCheckpoint } from "./checkpoint.js";
import { benchFork, reportFork } from "./fork.js";
import { benchWorkloads, reportWorkloads } from "./workloads.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const rounds = Number(process.env.BENCH_ROUNDS ?? 9);

const library = await benchLibrary(rounds, 200);
console.log(report("Library: Sandbox.run(/bin/true) vs child_process.spawn(/bin/true), per run", "child_process.spawn", library));
console.log("  target: overhead within 0.5 ms (DESIGN 5)\n");
const cli = benchCli(rounds, 20);
console.log(report("CLI: sandlock run -- /bin/true vs node -e 0, per run", "node -e 0", cli));
console.log("  target: overhead within 10 ms (DESIGN 5)\n");

const workloads = await benchWorkloads(Math.max(3, Math.ceil(rounds / 2)));
console.log(reportWorkloads(workloads));
console.log("");

const trap = await benchTrap(rounds);
console.log(reportTrap(trap));
console.log("  target: under 20 us median per call, within 2x the C floor (issue 3, DESIGN 5)\n");

const redis = await benchRedis(Math.max(3, Math.ceil(rounds / 2)));
console.log(reportRedis(redis));
console.log("  target: at least 97% of bare throughput (DESIGN 5)\n");

const checkpoint = await benchCheckpoint(rounds);
console.log(reportCheckpoint(checkpoint));
console.log("  no target set; the floor is copying the same pages with process_vm_readv (issue 5)\n");

const fork = await benchFork(Math.max(3, Math.ceil(rounds / 3)));
console.log(reportFork(fork));
console.log("  targets: all 1000 started within 1 s, total memory under 2x the zygote's (issue 4, DESIGN 5)\n");

const out = join(ROOT, "bench", "results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "latest.json"), JSON.stringify({ date: new Date().toISOString(), rounds, library, cli, workloads, trap, redis, checkpoint, fork }, null, 2) + "\n");
