// The kernel-native view (procView, SANDLOCK_KERNEL_VIEW; plan/kernel-view.ts) against the
// supervised view and bare, interleaved round by round in one run: the workloads, the calls
// the /proc view traps, and the start of a sandbox. `node dist/bench/kernel-view.js [rounds]`
// (`[rounds] calls`: the calls and the start only).

import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sandbox } from "../src/index.js";
import { fmt, summarize, verdict } from "./stats.js";
import { buildFixture } from "./trap.js";
import { SYSTEM, WORKLOADS, cleanEnv, stringEnv } from "./workloads.js";

type Side = "bare" | "supervised" | "kernel";
const SIDES: readonly Side[] = ["bare", "supervised", "kernel"];

/** Each side by name, whatever the default (policies here leave procView unset). */
function setView(side: Side): void {
  process.env.SANDLOCK_KERNEL_VIEW = side === "kernel" ? "1" : "0";
}

/** CPU time of a run, the load on a shared machine notwithstanding: the command's user +
 * system time (its waited-for descendants included, from /usr/bin/time around it) plus this
 * process's own CPU meanwhile (the supervisor's threads and event loop). */
const TIME = ["/usr/bin/time", "-f", "SLTIME %U %S"];

function cpuOf(stderr: string): number {
  const m = /SLTIME ([0-9.]+) ([0-9.]+)/.exec(stderr);
  if (m === null) throw new Error(`no /usr/bin/time line in: ${stderr.slice(-500)}`);
  return (Number(m[1]) + Number(m[2])) * 1000;
}

const cpu: Record<Side, number[]> = { bare: [], supervised: [], kernel: [] };

async function runWorkload(side: Side, cmd: string[], cwd: string): Promise<number> {
  setView(side);
  const full = [...TIME, ...cmd];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let stderr = "";
  if (side === "bare") {
    await new Promise<void>((resolve, reject) => {
      const c = spawn(full[0]!, full.slice(1), { cwd, stdio: ["ignore", "ignore", "pipe"], env: cleanEnv(cwd) });
      c.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      c.once("error", reject);
      c.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd.join(" ")} exited ${code}: ${stderr}`))));
    });
  } else {
    const policy = { fsReadable: [...SYSTEM, process.execPath], fsWritable: [cwd, "/dev/null"], cwd, cleanEnv: true, env: stringEnv(cwd) };
    const r = await Sandbox.run(policy, full, { stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${side} ${cmd.join(" ")} failed (${r.status} ${r.exitCode}): ${r.stderrText}`);
    stderr = r.stderrText;
  }
  const wall = performance.now() - t0;
  const own = process.cpuUsage(c0);
  cpu[side].push(cpuOf(stderr) + (side === "bare" ? 0 : (own.user + own.system) / 1000));
  return wall;
}

async function callRow(side: Side, calls: string, args: string[], name?: string): Promise<number> {
  setView(side);
  if (side === "bare") return Number(execFileSync(calls, args, { env: {} }).toString());
  const policy = { fsReadable: [calls, ...SYSTEM], ...(name !== undefined ? { name } : {}) };
  const r = await Sandbox.run(policy, [calls, ...args]);
  if (r.exitCode !== 0) throw new Error(`${side} ${args.join(" ")}: ${r.stderrText}`);
  return Number(r.stdoutText);
}

function bareSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn("/bin/true", { stdio: "ignore" });
    c.once("error", reject);
    c.once("exit", () => resolve());
  });
}

function line(label: string, values: Record<Side, number[]>, unit: string, digits: number): string[] {
  const out = [`  ${label}`];
  for (const side of SIDES) out.push(`    ${side.padEnd(11)} ${fmt(summarize(values[side]), unit, digits)}`);
  for (const side of SIDES.slice(1)) out.push(`    ${(side + "/bare").padEnd(16)} ${fmt(summarize(values[side].map((x, i) => x / values.bare[i]!)), "x", 2)}`);
  return out;
}

/** Rotates which side goes first each round, so drift favours none. */
async function rounds(n: number, one: (side: Side) => Promise<number>): Promise<Record<Side, number[]>> {
  const out: Record<Side, number[]> = { bare: [], supervised: [], kernel: [] };
  for (const side of SIDES) await one(side); // warm up
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < SIDES.length; k++) {
      const side = SIDES[(r + k) % SIDES.length]!;
      out[side].push(await one(side));
    }
  }
  return out;
}

export async function benchKernelView(n: number, workloads = true): Promise<string> {
  const lines = [`Kernel-native view vs supervised view vs bare, ${n} rounds, grants ${SYSTEM.join(" ")} (+ a writable work dir), load ${loadavg().map((x) => x.toFixed(1)).join(" ")} on ${cpus().length} CPUs`];
  for (const w of workloads ? WORKLOADS : []) {
    const dir = mkdtempSync(join(tmpdir(), "sandlock-bench-"));
    try {
      mkdirSync(join(dir, ".tmp"));
      w.setup(dir);
      for (const side of SIDES) cpu[side].length = 0;
      const v = await rounds(n, (side) => {
        w.reset?.(dir);
        return runWorkload(side, w.cmd, dir);
      });
      lines.push(...line(`${w.name} (wall ms)`, v, " ms", 1));
      // The warm-up runs are the first of each side: left out, as for the wall times.
      const measured = { bare: cpu.bare.slice(1), supervised: cpu.supervised.slice(1), kernel: cpu.kernel.slice(1) };
      lines.push(...line(`${w.name} (CPU ms: the command's + the supervising process's)`, measured, " ms", 1));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const calls = buildFixture("call-loop", true);
  const rows: { label: string; args: string[]; name?: string }[] = [
    { label: "open+close /etc/passwd (us per call)", args: ["open", "20000", "/etc/passwd"] },
    { label: "open+close /proc/self/status (us per call)", args: ["open", "5000", "/proc/self/status"] },
    { label: "list /usr/include (us per listing)", args: ["getdents", "500", "/usr/include"] },
    { label: "uname, named sandbox (us per call)", args: ["uname", "100000"], name: "bench" },
  ];
  for (const row of rows) {
    const v = await rounds(n, (side) => callRow(side, calls, row.args, row.name));
    const us = (xs: number[]): number[] => xs.map((x) => x / 1000);
    lines.push(...line(row.label, { bare: us(v.bare), supervised: us(v.supervised), kernel: us(v.kernel) }, " us", 2));
  }
  // Start + exit of /bin/true under the system grants, with and without /proc: the
  // namespaces, binds and init at spawn, against child_process.spawn (asynchronous, as the
  // library's start is), against issue 16's target for a supervised start.
  for (const proc of [false, true]) {
    const grants = proc ? [...SYSTEM, "/proc"] : SYSTEM;
    const start = await rounds(Math.max(n, 20), async (side) => {
      setView(side);
      const t0 = performance.now();
      if (side === "bare") await bareSpawn();
      else await Sandbox.run({ fsReadable: grants }, ["/bin/true"], { stdout: "ignore", stderr: "ignore" });
      return performance.now() - t0;
    });
    lines.push(...line(`start and exit of /bin/true${proc ? ", /proc granted" : ""} (ms; bare: child_process.spawn)`, start, " ms", 2));
    for (const side of ["supervised", "kernel"] as const) {
      const over = summarize(start[side].map((x, i) => x - start.bare[i]!));
      lines.push(`    ${side} - bare: ${fmt(over, " ms", 2)}; ${verdict("supervised start within 0.5 ms of child_process.spawn (issue 16)", over.median <= 0.5)}`);
    }
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await benchKernelView(Number(process.argv[2] ?? 5), process.argv[3] !== "calls"));
}
