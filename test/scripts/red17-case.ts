// The seventeenth review's cases (maxProcesses' refusal settling, the checkpoint freezer's
// vfork release). Prints one JSON line.
// Usage: red17-case.js RT17 peak VIEW MAX SECS MODE ARGS...   (peak processes, supervisor cost)
//        red17-case.js RT17 ckpt VIEW MODE [N]                (checkpoints of a vfork attack)

import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../../src/index.js";
import { scriptMain } from "../helpers/script-main.js";

const [rt17, what, view, ...rest] = process.argv.slice(2) as [string, string, "kernel" | "supervised", ...string[]];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function ppidOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1]);
}
function launcherOf(pid: number): number {
  let p = pid;
  while (ppidOf(p) !== process.pid) p = ppidOf(p);
  return p;
}
/** Every thread under root: tid, state, TracerPid. */
function threadsUnder(root: number): { pid: number; tid: number; state: string; tracer: number }[] {
  const parent = new Map<number, number>();
  for (const n of readdirSync("/proc")) {
    const pid = Number(n);
    if (!Number.isInteger(pid)) continue;
    try {
      parent.set(pid, ppidOf(pid));
    } catch {}
  }
  const out: { pid: number; tid: number; state: string; tracer: number }[] = [];
  for (const pid of parent.keys()) {
    let under = false;
    for (let p = parent.get(pid), d = 0; p !== undefined && d < 64; p = parent.get(p), d++) if (p === root) (under = true), (d = 99);
    if (!under) continue;
    try {
      for (const t of readdirSync(`/proc/${pid}/task`)) {
        const s = readFileSync(`/proc/${pid}/task/${t}/status`, "latin1");
        out.push({ pid, tid: Number(t), state: /^State:\s+(\S)/m.exec(s)![1]!, tracer: Number(/^TracerPid:\s+(\d+)/m.exec(s)![1]) });
      }
    } catch {}
  }
  return out;
}

function lagProbe(): { stop: () => { maxLagMs: number; over20: number } } {
  let last = performance.now();
  let maxLag = 0;
  let over20 = 0;
  const t = setInterval(() => {
    const n = performance.now();
    const lag = n - last - 5;
    if (lag > maxLag) maxLag = lag;
    if (lag > 20) over20++;
    last = n;
  }, 5);
  return { stop: () => (clearInterval(t), { maxLagMs: Math.round(maxLag), over20 }) };
}

async function peak(): Promise<unknown> {
  const [max, secs, ...cmd] = rest as [string, string, ...string[]];
  const prog = rt17;
  const argv = [prog, ...cmd];
  const sb = new Sandbox({ fsReadable: [prog], maxProcesses: Number(max), procView: view });
  const cpu0 = process.cpuUsage();
  const lag = lagProbe();
  await sb.spawn(argv, { timeout: Number(secs) * 1000 });
  const launcher = launcherOf(sb.pid!);
  const sampler = spawn(rt17, ["sample", String(launcher), String(Number(secs) * 1000 + 500)]);
  let sout = "";
  sampler.stdout.on("data", (d) => (sout += d));
  const sdone = new Promise((r) => sampler.on("close", r));
  const t0 = Date.now();
  const r = await Promise.race([sb.wait(), sleep(Number(secs) * 1000 + 3000).then(() => undefined)]);
  if (r === undefined) await sb.kill();
  const ms = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const l = lag.stop();
  await sdone;
  return {
    view,
    max: Number(max),
    cmd: cmd.join(" "),
    sampler: JSON.parse(sout || "{}"),
    note: view === "kernel" ? "kernel view: the init is one of the counted processes (limit+1 expected)" : undefined,
    out: r?.stdoutText.trim().slice(0, 200),
    err: r?.stderrText.trim().slice(0, 200),
    ms,
    supervisorCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    ...l,
  };
}

async function ckpt(): Promise<unknown> {
  const [mode, nStr] = rest as [string, string?];
  const n = Number(nStr ?? 5);
  const file = join("/tmp", `rt17-side-${process.pid}`);
  const sb = new Sandbox({ fsReadable: [rt17], fsWritable: ["/tmp"], procView: view });
  await sb.spawn([rt17, mode, file], { timeout: 120_000 });
  await sleep(300);
  const launcher = launcherOf(sb.pid!);
  const runs: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const before = mode === "vfside" ? readFileSync(file, "latin1").trim() : "";
    const t0 = performance.now();
    let res: string;
    try {
      const cp = await sb.checkpoint();
      res = `ok ${cp.processes.length} processes`;
    } catch (e) {
      res = (e as Error).message.slice(0, 160);
    }
    const ms = Math.round(performance.now() - t0);
    const after = threadsUnder(launcher);
    const traced = after.filter((t) => t.tracer !== 0);
    const stopped = after.filter((t) => t.state === "t" || t.state === "T");
    await sleep(30);
    const later = threadsUnder(launcher).filter((t) => t.tracer !== 0 || t.state === "t" || t.state === "T");
    runs.push({ res, ms, threads: after.length, tracedAfter: traced.length, stoppedAfter: stopped.length, heldAfter30ms: later.length, side: mode === "vfside" ? [before, readFileSync(file, "latin1").trim()] : undefined });
    await sleep(100);
  }
  await sb.kill();
  return { view, mode, runs };
}

scriptMain("/tmp/rt17-", async () => (what === "peak" ? peak() : ckpt()));
