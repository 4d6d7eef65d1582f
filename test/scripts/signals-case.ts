// Signals on a kernel without Landlock's signal scope (ABI < 6), simulated by telling the
// planner the host has ABI 5: the filter then routes every signal to the supervisor. The
// launcher still scopes itself on this kernel, so the one call whose answer only the
// supervisor decides is kill(-1): the scope lets it reach the sandbox's own processes, the
// supervisor refuses it. Prints one JSON line. Usage: signals-case.js PROBE trapped|control

import { overrideHost } from "../../src/kernel/probe.js";
import { Sandbox } from "../../src/index.js";
import { SYSTEM_RO } from "../helpers/system.js";

const [probe, mode] = process.argv.slice(2) as [string, string];

async function main(): Promise<void> {
  const protection = mode === "trapped" ? { allowDegraded: ["scopes" as const] } : {};
  if (mode === "trapped") overrideHost({ landlockAbi: 5 });
  // The supervised view (pinned): these cases are the supervisor's signal checks and their
  // control in the host's pid namespace; under the kernel view kill(-1) reaches only the
  // sandbox's own pid namespace by the kernel's rules (kernel-view.test.ts).
  const policy = { fsReadable: [probe, "/dev/null", ...SYSTEM_RO], protection, procView: "supervised" as const };
  const run = async (cmd: string[]): Promise<string[]> => (await Sandbox.run(policy, cmd)).stdoutText.split("\n");
  const out = {
    enforcement: (await Sandbox.run(policy, [probe, "exit", "0"])).enforcement.scopes,
    killAll: await run([probe, "kill", "-1", "0"]),
    supervisor: await run([probe, "kill", String(process.pid), "0"]),
    ownChild: await run(["/bin/sh", "-c", `${probe} sleep 30 & ${probe} kill $! 9; wait $!; echo $?`]),
    pidfd: await run([probe, "pidfd-kill"]),
    launcher: await run([probe, "reach", "launcher"]),
    self: await run([probe, "reach", "self"]),
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

void main();
