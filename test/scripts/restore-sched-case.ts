// Runs one restore scenario about scheduling, SIGEV_THREAD timers and a restore that fails
// after its sandbox started, as whichever user runs it, and prints what it saw as one JSON
// line for test/integration/restore-sched.test.ts.
// Usage: restore-sched-case.js SCENARIO FIXTURE (test/fixtures/checkpoint-sched.c built).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { parseSchedStat } from "../../src/checkpoint/sched.js";
import { Checkpoint, CheckpointError, Sandbox, type PolicyInput } from "../../src/index.js";
import { until } from "../helpers/until.js";

const [scenario, fixture] = process.argv.slice(2);
if (scenario === undefined || fixture === undefined) throw new Error("usage: restore-sched-case.js SCENARIO FIXTURE");
const work = mkdtempSync(join(tmpdir(), "sl-restore-sched-"));
const out = join(work, "out");
mkdirSync(out);
const file = join(out, "f");
const text = (f = file): string => (existsSync(f) ? readFileSync(f, "latin1") : "");
const lines = (f = file): string[] => text(f).split("\n").filter((l) => l !== "");

/** Runs argv until ready(), checkpoints it (through the disk), kills it. */
async function captured(policy: PolicyInput, argv: string[], ready: () => boolean): Promise<Checkpoint> {
  const sb = new Sandbox(policy);
  await sb.spawn(argv);
  await until("the program to be ready", ready);
  const cp = await sb.checkpoint();
  await sb.kill();
  await sb.wait().catch(() => undefined);
  const dir = join(work, `cp-${Date.now()}`);
  await cp.save(dir);
  return Checkpoint.load(dir);
}

/** Every thread's scheduling as /proc shows it, sorted (tids change across a restore). */
function schedOf(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const s = parseSchedStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1"), readFileSync(`/proc/${pid}/task/${tid}/status`, "latin1"));
    return JSON.stringify(s);
  }).sort();
}

/** Every process descending from this one (pid, state), from a walk of /proc. */
function descendants(): { pid: number; state: string }[] {
  const parent = new Map<number, { ppid: number; state: string }>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "latin1");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(d), { ppid: Number(rest[1]), state: rest[0]! });
    } catch {
      // gone meanwhile
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = parent.get(pid)?.ppid, n = 0; p !== undefined && n < 64; p = parent.get(p)?.ppid, n++) if (p === process.pid) return true;
    return false;
  };
  return [...parent].filter(([pid]) => isOurs(pid)).map(([pid, v]) => ({ pid, state: v.state }));
}

const refusal = (e: unknown): Record<string, unknown> => {
  if (!(e instanceof CheckpointError)) throw e;
  return { name: e.name, code: e.code, message: e.message, pid: e.pid ?? null, errno: e.errno ?? null };
};

async function run(): Promise<unknown> {
  const policy: PolicyInput = { fsReadable: [fixture], fsWritable: [out] };
  switch (scenario) {
    case "sched": {
      const cp = await captured(policy, [fixture, "sched", file], () => lines().includes("ready"));
      const capturedSched = cp.processes[0]!.threads.map((t) => JSON.stringify(t.sched ?? null)).sort();
      const sb = await Sandbox.restore(cp);
      const restored = schedOf(sb.pid!);
      await sb.kill();
      await sb.wait().catch(() => undefined);
      return { captured: capturedSched, restored };
    }
    case "narrow-1":
    case "narrow-0": {
      // Pinned to CPU 1 (or 0), restored by a process that may run on CPU 1 only (taskset):
      // the new sandbox inherits that affinity, so every thread's set is intersected with {1}.
      const pin = scenario === "narrow-1" ? "1" : "0";
      const cp = await captured(policy, [fixture, "sched", file, pin], () => lines().includes("ready"));
      const dir = join(work, "cp-narrow");
      await cp.save(dir);
      const r = spawnSync("taskset", ["-c", "1", process.execPath, process.argv[1]!, "restore-at", dir], { encoding: "utf8", timeout: 60_000 });
      if (r.status !== 0) throw new Error(`the restoring process failed (${r.status}): ${r.stderr}`);
      return { captured: cp.processes[0]!.threads.map((t) => JSON.stringify(t.sched ?? null)).sort(), ...JSON.parse(r.stdout) };
    }
    case "restore-at": {
      // argv[3]: the checkpoint directory (narrow-*); the scheduling of the restored threads.
      const cp = await Checkpoint.load(fixture);
      try {
        const sb = await Sandbox.restore(cp);
        const restored = schedOf(sb.pid!);
        await sb.kill();
        await sb.wait().catch(() => undefined);
        return { outcome: "restored", restored };
      } catch (e) {
        return { outcome: "refused", ...refusal(e), left: descendants() };
      }
    }
    case "sched-lower": {
      // The captured threads run at the sandbox's usual nice; the new one starts from this
      // process's nice, raised to 6 here: getting the captured nice back lowers it.
      const cp = await captured(policy, [fixture, "sched", file], () => lines().includes("ready"));
      const capturedSched = cp.processes[0]!.threads.map((t) => JSON.stringify(t.sched ?? null)).sort();
      setPriority(0, 6);
      const left: { pid: number; state: string }[][] = [];
      try {
        const sb = await Sandbox.restore(cp);
        const restored = schedOf(sb.pid!);
        await sb.kill();
        await sb.wait().catch(() => undefined);
        return { outcome: "restored", captured: capturedSched, restored };
      } catch (e) {
        left.push(descendants());
        return { outcome: "refused", captured: capturedSched, ...refusal(e), left: left[0] };
      }
    }
    case "sigev-control": {
      // Not restored: after the deletion a second SIGEV_THREAD timer works.
      const sb = new Sandbox(policy);
      await sb.spawn([fixture, "sigev", file, "thread"]);
      await until("the program to be ready", () => lines().includes("ready"));
      writeFileSync(`${file}.go`, "");
      const guard = setTimeout(() => void sb.kill().catch(() => undefined), 20_000);
      const r = await sb.wait();
      clearTimeout(guard);
      return { exitCode: r.exitCode, lines: lines().filter((l) => l !== "ready") };
    }
    case "sigev-thread":
    case "sigev-thread-supervised":
    case "sigev-signal": {
      const kind = scenario === "sigev-signal" ? "signal" : "thread";
      const view = scenario === "sigev-thread-supervised" ? "supervised" : "kernel";
      const cp = await captured({ ...policy, procView: view }, [fixture, "sigev", file, kind], () => lines().includes("ready"));
      let sb: Sandbox;
      try {
        sb = await Sandbox.restore(cp);
      } catch (e) {
        return { outcome: "refused", ...refusal(e) };
      }
      writeFileSync(`${file}.go`, "");
      const guard = setTimeout(() => void sb.kill().catch(() => undefined), 20_000);
      const r = await sb.wait();
      clearTimeout(guard);
      return { outcome: "restored", exitCode: r.exitCode, lines: lines().filter((l) => l !== "ready") };
    }
    case "big": {
      // 24 MiB in the child, under a saved maxMemory of 256 MiB; restored under 8 MiB, the
      // child's region cannot be mapped: found while rebuilding the child, after the
      // launcher, the restored parent and the child (its fork) were started.
      const saved: PolicyInput = { ...policy, maxMemory: "256M" };
      const cp = await captured(saved, [fixture, "big", file, "24"], () => lines().includes("ready"));
      // Control: under the saved policy it restores, and the walk sees its processes.
      const ok = await Sandbox.restore(cp);
      const whileRunning = descendants().length;
      await ok.kill();
      await ok.wait().catch(() => undefined);
      const afterControl = descendants();
      // The failing restore: every descendant seen while it runs is recorded.
      const seen = new Set<number>();
      const poll = setInterval(() => descendants().forEach((d) => seen.add(d.pid)), 2);
      let error: Record<string, unknown> | null = null;
      try {
        const sb = await Sandbox.restore(cp, { policy: { ...policy, maxMemory: "8M" } });
        await sb.kill();
      } catch (e) {
        error = refusal(e);
      }
      clearInterval(poll);
      const stillThere = [...seen].filter((pid) => existsSync(`/proc/${pid}`));
      return { imagePids: cp.processes.map((p) => p.pid), whileRunning, afterControl, error, seen: seen.size, stillThere, left: descendants() };
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

try {
  console.log(JSON.stringify(await run()));
} finally {
  rmSync(work, { recursive: true, force: true });
}
