// Runs the start-up path of `sandlock run` once at build time, so the build can record the
// code V8 compiled for it (see scripts/bundle-cli.mjs and bin/sandlock.cjs).

import { existsSync } from "node:fs";
import { PROTECTIONS } from "../policy/types.js";
import { computeFeatures } from "../plan/features.js";
import { encodePlan, makePlan } from "../plan/plan.js";
import { Policy } from "../policy/policy.js";
import { parseRunArgs } from "./run-options.js";
import { runCommand } from "./run.js";

export async function warmUp(): Promise<void> {
  const args = ["-r", "/", "--net-allow", "tcp://:443", "--net-allow-bind", "8080", "--allow-degraded", PROTECTIONS.join(",")];
  const o = parseRunArgs([...args, "--", "/bin/true"]);
  // Planning against a fixed host compiles the plan code whatever the build machine is.
  const features = computeFeatures(new Policy(o.policy), { landlockAbi: 7, cpuCount: 1 });
  encodePlan(makePlan(features, { path: "/bin/true", argv: o.cmd, env: {}, cwd: "/", ownProcessGroup: true }));
  // A real run compiles the rest; a build host that cannot sandbox just records less.
  if (existsSync("/bin/true")) {
    try {
      await runCommand([...args, "--", "/bin/true"]);
    } catch {
      // the cache is an optimisation; the build goes on without the run's code in it
    }
  }
}
