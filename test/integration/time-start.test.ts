// timeStart against the real kernel, as root and as the test user: every way the probe
// reads the wall clock (vDSO and system call, from threads, after an exec in a child and
// from a thread), date, Python and Node read timeStart plus the time the run took; the
// monotonic clock is the host's; an absolute sleep and an absolute timerfd on the wall
// clock wake when that clock reaches the deadline; without timeStart the same reads give the host's time (control).

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

interface Ran { code: number | null; stdout: string; stderr: string; mono: [number, number]; wall: [number, number] }

const PAST = 946684800;
const FUTURE = 2148595200;

function values(r: Ran): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of r.stdout.trim().split("\n")) {
    const [k, v] = line.split(" ");
    m.set(k!, Number(v));
  }
  return m;
}

/** Every wall-clock read of the probe lies in [start, start + the run's duration]. */
function checkWall(name: string, r: Ran, start: number): void {
  const v = values(r);
  const took = r.mono[1] - r.mono[0];
  const reads = [...v].filter(([k]) => /(vdso|sys)-(realtime|coarse|tai|gettimeofday|time)$/.test(k));
  // 10 reads each: main thread, 4 threads, the forked child's exec, the thread's exec.
  assert.equal(reads.length, 70, `${name}: ${r.stdout}\n${r.stderr}`);
  for (const [k, x] of reads) assert.ok(x >= start && x <= start + took + 1, `${name}: ${k} = ${x}, expected ${start} .. ${start + took + 1}`);
  for (const p of ["t0-", "t1-", "t2-", "t3-", "fexec-", "texec-"]) assert.ok(v.has(`${p}vdso-realtime`), `${name}: ${p} reads missing`);
  assert.equal(v.get("fexec-status"), 0);
  // The monotonic clock is the host's: between this process's reads around the run.
  for (const k of ["mono-vdso", "mono-sys"]) assert.ok(v.get(k)! >= r.mono[0] - 0.001 && v.get(k)! <= r.mono[1] + 0.001, `${name}: ${k} ${v.get(k)} not in ${r.mono}`);
  assert.ok(v.get("boottime")! >= v.get("mono-vdso")!);
  // The absolute sleep waited its 300 ms of the sandbox's clock, and that clock had reached
  // the deadline on waking (before 1970 + the host's offset, it would return at once; after
  // it, it would never return).
  assert.equal(v.get("abs-sleep-rc"), 0);
  assert.ok(v.get("abs-slept")! >= 0.29, `${name}: abs-slept ${v.get("abs-slept")}`);
  assert.equal(v.get("abs-reached"), 1);
  // The same for a CLOCK_REALTIME timerfd set with TFD_TIMER_ABSTIME; its remaining time
  // (relative) is the host's count of the sandbox's deadline.
  assert.equal(v.get("tfd-rc"), 0);
  assert.equal(v.get("tfd-read"), 8);
  assert.ok(v.get("tfd-slept")! >= 0.29, `${name}: tfd-slept ${v.get("tfd-slept")}`);
  assert.equal(v.get("tfd-reached"), 1);
  assert.equal(v.get("tfd-old"), 0, "the expired setting has nothing left");
  // pthread_cond_timedwait with the default (wall) clock: a futex wait with an absolute
  // deadline, which the launcher moves onto the monotonic clock.
  assert.equal(v.get("cond-rc"), 110, "ETIMEDOUT");
  assert.ok(v.get("cond-waited")! >= 0.29, `${name}: cond-waited ${v.get("cond-waited")}`);
  assert.equal(v.get("cond-reached"), 1);
  assert.ok(v.get("tfd-remaining")! > 90 && v.get("tfd-remaining")! <= 100, `${name}: tfd-remaining ${v.get("tfd-remaining")}`);
}

scriptCase("timeStart: every clock read starts at timeStart and runs at real speed; monotonic and absolute sleeps stay right", "dist/test/scripts/time-case.js", ["${STAGE}", "${PROBE}"], (o: Record<string, Ran>) => {
  for (const k of ["probe", "future", "tools", "jobs", "control"]) assert.equal(o[k]!.code, 0, `${k}: ${o[k]!.stderr}`);
  checkWall("probe", o.probe!, PAST);
  checkWall("future", o.future!, FUTURE);
  const tools = o.tools!.stdout.trim().split("\n").map(Number);
  assert.equal(tools.length, 3, o.tools!.stdout);
  const took = o.tools!.mono[1] - o.tools!.mono[0];
  for (const [i, x] of tools.entries()) assert.ok(x >= PAST && x <= PAST + took + 1, `date, python3, node [${i}]: ${x}`);
  // The launcher's tracing keeps job control and pause/resume as they are without it.
  assert.equal(o.jobs!.stdout, "stopped=1 waited=143\n", o.jobs!.stderr);
  assert.deepEqual(o.paused, ["paused", "running", "paused", "running"]);
  // Control: without timeStart the same reads are the host's wall clock.
  const control = [...values(o.control!)].filter(([k]) => k.endsWith("realtime"));
  assert.equal(control.length, 2);
  for (const [k, x] of control) assert.ok(x >= o.control!.wall[0] - 1 && x <= o.control!.wall[1] + 1, `control ${k} = ${x}`);
  assert.equal(o.checkpoint as unknown as string, "SandboxError: checkpoint: a sandbox with timeStart cannot be checkpointed: its launcher traces every process of it to keep the clock (docs/determinism.md)");
  assert.equal(o.unsupervised!.code, 125);
  assert.match(o.unsupervised!.stderr, /time-start.*wall-clock calls are answered by it/);
});
