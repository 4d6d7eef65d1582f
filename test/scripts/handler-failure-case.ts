// A handler that fails answers EPERM (fail closed), and the run's refusals say so and why.
// The failure is injected into the signal handlers' target check (Targets.pid), on a
// kernel taken for one without Landlock's signal scope so that kill(2) is supervised (as
// signals-case.ts). Prints one JSON line: the probe's answers (a kill of its own pid, then
// the same without the injection) and the first run's refusals.
// Usage: handler-failure-case.js PROBE
import { overrideHost } from "../../src/kernel/probe.js";
import { Sandbox } from "../../src/index.js";
import { Targets } from "../../src/supervise/targets.js";

const [probe] = process.argv.slice(2) as [string];
overrideHost({ landlockAbi: 5 });
const policy = { fsReadable: [probe, "/bin", "/usr", "/lib", "/lib64"], protection: { allowDegraded: ["scopes" as const] }, procView: "supervised" as const };
const cmd = ["/bin/sh", "-c", `${probe} kill $$ 0`];
const pid = Targets.prototype.pid;
Targets.prototype.pid = function (): never {
  throw new Error("injected by the test");
};
const failed = await Sandbox.run(policy, cmd);
Targets.prototype.pid = pid;
const control = await Sandbox.run(policy, cmd);
process.stdout.write(`${JSON.stringify({ failed: failed.stdoutText.trim(), refused: failed.refused, control: control.stdoutText.trim(), controlRefused: control.refused })}\n`);
