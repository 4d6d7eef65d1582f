// Where the time of fork(n) goes (issue 17): CPU of the parent (which also runs the
// supervisor), of the zygote and of its clones (reaped: the zygote's cutime/cstime), per
// clone, bare and sandboxed, with no state. `node dist/bench/fork-cpu.js [rounds] [clones]`
// (WORK=console: each clone prints with console.log instead of process.stdout.write).

import { readFileSync } from "node:fs";
import { Sandbox } from "../src/index.js";
import type { ForkFunctions } from "../src/fork/fns.js";
import { bareGroup, bareOptions, printLine } from "./fork.js";
import { summarize } from "./stats.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/etc"];
const TICK_MS = 10; // USER_HZ 100

const fns: ForkFunctions = {
  init: new Function(`globalThis.state = Buffer.alloc(0);`) as () => void,
  work: new Function("id", printLine("id")) as (id: number) => void,
};

/** utime, stime, cutime, cstime of pid in ms, then minflt and cminflt. */
function times(pid: number): number[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [...[11, 12, 13, 14].map((i) => Number(f[i]) * TICK_MS), Number(f[7]), Number(f[8])];
}

interface Sample {
  wallMs: number;
  forkedMs: number;
  parentUser: number;
  parentSys: number;
  zygoteUser: number;
  zygoteSys: number;
  clonesUser: number;
  clonesSys: number;
  zygoteFaults: number;
  clonesFaults: number;
}

type Group = { fork(n: number): Promise<{ wait(): Promise<unknown>; pid?: number; kill(): Promise<void> }[]>; pid: number; dispose(): Promise<void> };

async function make(mode: string): Promise<Group> {
  if (mode.startsWith("bare")) {
    // bare, or bare:<bareOptions>
    const b = await bareGroup(fns, bareOptions(mode.slice(5)));
    await Promise.all((await b.group.fork(1)).map((c) => c.wait()));
    return { fork: (n) => b.group.fork(n), pid: b.pid, dispose: async () => b.kill() };
  }
  const sb = Sandbox.newWithFns({ fsReadable: SYSTEM, maxProcesses: 2000 }, fns);
  await Promise.all((await sb.fork(1)).map((c) => c.wait()));
  return { fork: (n) => sb.fork(n), pid: sb.pid!, dispose: () => sb[Symbol.asyncDispose]() };
}

async function sample(mode: string, clones: number): Promise<Sample> {
  const g = await make(mode);
  if (process.env.PERF_WAIT) {
    // (to attach a profiler to the zygote, whose clones inherit it)
    console.log(`zygote ${g.pid}`);
    await new Promise((r) => setTimeout(r, Number(process.env.PERF_WAIT)));
  }
  const z0 = times(g.pid);
  const p0 = process.cpuUsage();
  const t0 = performance.now();
  const made = await g.fork(clones);
  const forkedMs = performance.now() - t0;
  await Promise.all(made.map((c) => c.wait()));
  const wallMs = performance.now() - t0;
  const p1 = process.cpuUsage(p0);
  await new Promise((r) => setTimeout(r, 100)); // the zygote's last reaps
  const z1 = times(g.pid);
  await g.dispose();
  const d = z1.map((v, i) => v - z0[i]!);
  return { wallMs, forkedMs, parentUser: p1.user / 1000, parentSys: p1.system / 1000, zygoteUser: d[0]!, zygoteSys: d[1]!, clonesUser: d[2]!, clonesSys: d[3]!, zygoteFaults: d[4]!, clonesFaults: d[5]! };
}

const rounds = Number(process.argv[2] ?? 3);
const clones = Number(process.argv[3] ?? 1000);
const modes = (process.env.MODES ?? "bare|sandboxed").split(process.env.MODES?.includes("|") ? "|" : ",");
const all = new Map<string, Sample[]>(modes.map((m) => [m, []]));
for (let i = 0; i < rounds; i++) for (const m of modes) all.get(m)!.push(await sample(m, clones));
for (const [m, ss] of all) {
  console.log(`${m}: ${clones} clones, no state, ${rounds} rounds; ms (per clone in us)`);
  for (const k of Object.keys(ss[0]!) as (keyof Sample)[]) {
    const s = summarize(ss.map((x) => x[k]));
    console.log(`  ${k.padEnd(12)} min ${s.min.toFixed(0).padStart(6)}  median ${s.median.toFixed(0).padStart(6)}  max ${s.max.toFixed(0).padStart(6)}   (${((s.median / clones) * 1000).toFixed(0)} us/clone)`);
  }
}
process.exit(0);
