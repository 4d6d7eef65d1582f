// Starts sandboxes with /proc granted while other processes come and go (issue 9: a
// process exiting during start-up failed the run with ENOENT). Prints one JSON line: how
// many starts and planning passes failed, and how many processes the churn made meanwhile.
// Usage: proc-churn-case.js PROBE STARTS PASSES

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Sandbox } from "../../src/index.js";
import { procfsMounts } from "../../src/kernel/mounts.js";
import { hideProcesses } from "../../src/plan/proc-grants.js";

const [probe, starts, passes] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];

/** The last pid the kernel handed out (/proc/loadavg's fifth field). */
const lastPid = (): number => Number(readFileSync("/proc/loadavg", "utf8").trim().split(" ")[4]);
const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));

async function main(): Promise<void> {
  // Two shells each starting and reaping /bin/true in a loop: /proc entries keep vanishing.
  // Each stops once this script is gone, however it ends: killed with SIGKILL (a stopped CI
  // run), the churners outlived it and spun for 35 minutes, slowing the next run by half.
  const loop = `while kill -0 ${process.pid} 2>/dev/null; do /bin/true; done`;
  const churn = [0, 1].map(() => spawn("/bin/sh", ["-c", loop], { stdio: "ignore" }));
  const first = lastPid();
  const startFailures: string[] = [];
  const planFailures: string[] = [];
  try {
    for (let i = 0; i < starts; i++) {
      try {
        const r = await Sandbox.run({ fsReadable: [probe, "/proc"] }, [probe, "exit", "0"]);
        if (r.exitCode !== 0) startFailures.push(`run ${i}: ${r.status} ${r.exitCode}`);
      } catch (e) {
        startFailures.push(`run ${i}: ${(e as Error).message}`);
      }
    }
    // The planner's own pass over /proc, the step that failed, many times more often.
    for (let i = 0; i < passes; i++) {
      try {
        hideProcesses([{ path: "/proc", isDir: true, writable: false }], procfsMounts());
      } catch (e) {
        planFailures.push((e as Error).message);
      }
    }
  } finally {
    for (const c of churn) c.kill("SIGKILL");
  }
  const pidsUsed = (lastPid() - first + pidMax) % pidMax;
  process.stdout.write(JSON.stringify({ startFailures, planFailures: planFailures.slice(0, 3), planFailureCount: planFailures.length, pidsUsed }) + "\n");
}

void main();
