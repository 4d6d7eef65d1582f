// policyFn's ctx.restrictMaxProcesses and ctx.restrictMaxMemory against the real kernel, as
// root and as the test user: the lowered limits hold (forks past it EAGAIN, memory past it
// ends the run with the memory limit), a second call cannot raise them, controls without
// them run free, and bad values deny the call being decided with the reason.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("policyFn: ctx.restrictMaxProcesses and ctx.restrictMaxMemory lower the limits in force", "dist/test/scripts/policy-ctx-case.js", [], (o: Record<string, any>) => {
  // maxProcesses 4 (the shell, python and two children): two forks, three EAGAIN.
  assert.equal(o.procs.code, 0, o.procs.stderr);
  assert.match(o.procs.stdout, /^forks 2 3$/m, o.procs.stdout);
  assert.equal(o.procs.stdout.split("\n").filter((l: string) => l === "errno 11").length, 3);
  assert.match(o.procsControl.stdout, /^forks 5 0$/m, o.procsControl.stderr);
  // maxMemory 512M lowered to 32M (then "raised" to 1G, which changes nothing): 100 MB ends the run.
  assert.equal(o.memory.code, 137, "python3 killed (the shell reports it)");
  assert.equal(o.memory.limit?.field, "maxMemory");
  assert.equal(o.memory.limit?.cap, 32 * 1024 * 1024);
  assert.equal(o.memory.stdout, "");
  assert.equal(o.memoryControl.code, 0, o.memoryControl.stderr);
  assert.equal(o.memoryControl.stdout, "allocated 104857600\n");
  // Bad values and a limit the policy does not set: the exec being decided is denied, with why.
  for (const [key, why] of [
    ["badSize", `policyFn threw: SandboxError: policyFn: ctx.restrictMaxMemory(): maxMemory: "12X" is not a byte size`],
    ["noMemoryLimit", "policyFn threw: SandboxError: policyFn: ctx.restrictMaxMemory(): the policy sets no maxMemory"],
    ["badCount", "policyFn threw: SandboxError: policyFn: ctx.restrictMaxProcesses(): maxProcesses: 0 is outside 1..4194304"],
  ] as const) {
    assert.equal(o[key].stdout, "", `${key}: the command must not run`);
    assert.ok(o[key].refused.some((x: string) => x.startsWith("execve EPERM /usr/bin/python3: ") && x.includes(why)), `${key}: ${o[key].refused.join("\n")}`);
  }
});
