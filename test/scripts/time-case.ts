// timeStart through the CLI, as whoever runs this: the probe's every clock read (vDSO and
// system call, threads, after execs), date, Python and Node, each with the host's monotonic
// clock and wall clock taken around the run; a control without timeStart; the refusal
// without a supervisor. Prints one JSON line. Usage: time-case.js STAGE PROBE

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { Sandbox } from "../../src/index.js";

const [stage, probe] = process.argv.slice(2) as [string, string];
const cli = join(stage, "bin", "sandlock.cjs");
const project = mkdtempSync("/tmp/sandlock-time-");
const ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };
/** 2000-01-01T00:00:00Z and 2038-02-01T00:00:00Z (past 2^31 seconds), as seconds. */
const PAST = 946684800;
const FUTURE = 2148595200;

interface Ran { code: number | null; stdout: string; stderr: string; mono: [number, number]; wall: [number, number] }

function sandlock(args: readonly string[]): Promise<Ran> {
  const mono0 = Number(process.hrtime.bigint()) / 1e9;
  const wall0 = Date.now() / 1000;
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: project, env: ENV, timeout: 60_000 }, (err, stdout, stderr) => {
      const mono: [number, number] = [mono0, Number(process.hrtime.bigint()) / 1e9];
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr, mono, wall: [wall0, Date.now() / 1000] });
    });
  });
}

const iso = (s: number): string => new Date(s * 1000).toISOString();
const TOOLS = "date +%s; python3 -c 'import time; print(time.time())'; node -e 'console.log(Date.now() / 1000)'";
// Job control under the launcher's tracing: a stopped child stays stopped until SIGCONT.
const JOBS = "sleep 5 </dev/null & p=$!; kill -STOP $p; sleep 0.2; s=$(grep -c '^State:.*[tT]' /proc/$p/status); kill -CONT $p; kill $p; wait $p; echo stopped=$s waited=$?";

const out = {
  probe: await sandlock(["run", "-p", "workspace", "-r", dirname(probe), "--time-start", iso(PAST), "--", probe, "time-all", probe]),
  future: await sandlock(["run", "-p", "workspace", "-r", dirname(probe), "--time-start", iso(FUTURE), "--", probe, "time-all", probe]),
  tools: await sandlock(["run", "-p", "workspace", "--time-start", iso(PAST), "--", "sh", "-c", TOOLS]),
  jobs: await sandlock(["run", "-p", "workspace", "--time-start", iso(PAST), "--", "sh", "-c", JOBS]),
  control: await sandlock(["run", "-p", "workspace", "-r", dirname(probe), "--", probe, "time-reads", ""]),
  unsupervised: await sandlock(["run", "-p", "workspace", "--no-supervisor", "--time-start", iso(PAST), "--", "true"]),
};
// A checkpoint traces the processes itself: refused, the launcher is their tracer.
const sb = new Sandbox({ fsReadable: [dirname(probe)], timeStart: new Date(PAST * 1000) });
await sb.spawn([probe, "sleep", "30"]);
const checkpoint = await sb.checkpoint().then(() => "taken", (e: Error) => `${e.name}: ${e.message}`);
// pause() and resume() from outside, twice: the traced processes stop and go on.
const paused: string[] = [];
for (let i = 0; i < 2; i++) {
  await sb.pause();
  paused.push(sb.state);
  await sb.resume();
  paused.push(sb.state);
}
await sb.kill();
await sb.wait().catch(() => undefined);
rmSync(project, { recursive: true, force: true });
console.log(JSON.stringify({ ...out, checkpoint, paused }));
