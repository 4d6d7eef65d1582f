// `npm test`: every unit and integration test file, in two parts. Files whose assertions
// measure time or CPU share (a lag bound, a share of a core, a race that must be lost under
// load) run one at a time at the end, on a quiet machine; the rest run two at a time, which
// on the 2-core machines CI uses halves the wall time of the suite. Both parts always run;
// the exit code is non-zero if either failed. Extra arguments go to both `node --test` runs
// (e.g. `npm test -- --test-name-pattern=maxCpu`).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

/** Files run alone, each with the reason it cannot share the machine. */
const SERIAL = new Map([
  ["cpu.test.js", "maxCpu shares of a core and the time a throttled loop takes"],
  ["supervisor-cost.test.js", "the host event loop's lag and the supervisor's share of a core"],
  ["kernel-memory.test.js", "memory held under floods, with time-bounded caps"],
  ["memory-files.test.js", "memfd charges sampled while they are held"],
  ["memory-credit.test.js", "a credit that refills at a rate"],
  ["limits.test.js", "the memory watchdog's reaction time"],
  ["hold-budget.test.js", "thousands of blocked threads at once"],
  ["interrupted.test.js", "at most 1% of starts interrupted"],
  ["workdir-swap.test.js", "a race that needs the racer to get CPU time"],
  ["fork.test.js", "1000 clones at once"],
  ["cpu-escape.test.js", "a thread's share of a core, with and without maxCpu"],
  ["restore-state.test.js", "timers and sleeps that must fire within a bound after a restore"],
]);

const dist = join(import.meta.dirname, "..", "dist", "test");
const files = (dir) => readdirSync(join(dist, dir)).filter((f) => f.endsWith(".test.js")).sort().map((f) => join(dist, dir, f));
const all = [...files("unit"), ...files("integration")];
const serial = all.filter((f) => SERIAL.has(f.slice(f.lastIndexOf("/") + 1)));
const parallel = all.filter((f) => !serial.includes(f));
for (const name of SERIAL.keys()) {
  if (!serial.some((f) => f.endsWith(`/${name}`))) throw new Error(`scripts/test.mjs: ${name} is listed as serial but no such test file exists`);
}

const extra = process.argv.slice(2);
function part(label, concurrency, list) {
  process.stdout.write(`\n# npm test: ${label}: ${list.length} files, ${concurrency} at a time\n`);
  const r = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, ...extra, ...list], { stdio: "inherit" });
  return r.status ?? 1;
}

const first = part("shared part", 2, parallel);
const second = part("timing-sensitive part (alone)", 1, serial);
process.stdout.write(`\n# npm test: shared part ${first === 0 ? "passed" : `FAILED (exit ${first})`}, timing-sensitive part ${second === 0 ? "passed" : `FAILED (exit ${second})`}\n`);
process.exit(first === 0 && second === 0 ? 0 : 1);
