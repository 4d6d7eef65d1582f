// Signals when the kernel cannot scope them (Landlock ABI < 6, simulated): the supervisor
// decides every signal-sending call, lets the sandbox signal its own processes (also by
// pidfd, sent by the supervisor on a duplicate) and refuses the launcher, the supervisor
// and kill(-1). On this kernel the launcher's own scope stays in force underneath.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/signals-case.js";

function calls(lines: string[]): Record<string, string> {
  return Object.fromEntries(lines.slice(1).map((l) => l.split(" ") as [string, string]));
}

scriptCase("without the signal scope the supervisor refuses kill(-1), the launcher and itself, and lets the sandbox signal its own", SCRIPT, ["${PROBE}", "trapped"], (out) => {
  assert.equal(out.enforcement, "degraded");
  assert.deepEqual(out.killAll, ["EPERM"], "kill(-1) is refused by the supervisor");
  assert.deepEqual(out.supervisor, ["EPERM"]);
  assert.deepEqual(out.ownChild, ["ok", "137"]);
  assert.deepEqual(out.pidfd, ["ok signal 9"], "pidfd_send_signal performed by the supervisor");
  const launcher = calls(out.launcher);
  for (const c of ["kill", "tgkill", "rt_sigqueueinfo"]) assert.equal(launcher[c], "EPERM", `${c} on the launcher`);
  const self = calls(out.self);
  for (const c of ["kill", "tgkill", "rt_sigqueueinfo"]) assert.equal(self[c], "ok", `${c} on itself`);
});

// Control: with the scope (this kernel) kill(-1) is not routed and reaches the sandbox's
// own domain, so the refusal above is the supervisor's.
scriptCase("control: with the signal scope kill(-1, 0) is the kernel's and succeeds within the sandbox", SCRIPT, ["${PROBE}", "control"], (out) => {
  assert.equal(out.enforcement, "active");
  assert.deepEqual(out.killAll, ["ok"]);
  assert.deepEqual(out.supervisor, ["EPERM"]);
  assert.deepEqual(out.ownChild, ["ok", "137"]);
  assert.deepEqual(out.pidfd, ["ok signal 9"]);
});

// A handler that fails answers EPERM (fail closed); the run's refusals name the call and
// why, where the caller saw a bare EPERM with no rule behind it before. The failure is
// injected into the signal check; without it the same kill succeeds.
scriptCase("a supervisor handler that fails refuses the call with EPERM, and RunResult.refused says so and why", "dist/test/scripts/handler-failure-case.js", ["${PROBE}"], (out) => {
  assert.equal(out.failed, "EPERM");
  assert.deepEqual(out.refused, [{ syscall: "kill", errno: "EPERM", target: "", why: "the supervisor failed to decide, so refused it: injected by the test", count: 1 }]);
  assert.equal(out.control, "ok");
  assert.deepEqual(out.controlRefused, []);
});
