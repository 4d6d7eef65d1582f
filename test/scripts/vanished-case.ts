// A grant whose path is gone between planning and launch (an entry of a split directory
// removed, a process exited): the launcher gives it no rule and the command still starts.
// Plans with the library, removes the path, then launches the plan without a supervisor
// (the probe's read is not trapped). Prints {code, out}. Usage: vanished-case.js PROBE

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { native } from "../../src/confine/native.js";
import { computeFeatures } from "../../src/plan/features.js";
import { makePlan } from "../../src/plan/plan.js";
import { Policy } from "../../src/policy/index.js";
import { launchPlan } from "./launch-plan.js";

const probe = process.argv[2]!;
const dir = mkdtempSync("/tmp/sandlock-vanish-");
mkdirSync(join(dir, "kept"));
mkdirSync(join(dir, "gone"));
writeFileSync(join(dir, "kept", "file"), "data\n");
const features = computeFeatures(new Policy({ fsReadable: [probe, join(dir, "kept"), join(dir, "gone")] }), { landlockAbi: native().landlockAbi(), cpuCount: 1 });
const unsupervised = { ...features, seccomp: { ...features.seccomp, notify: [] } };
const plan = makePlan(unsupervised, { path: probe, argv: [probe, "read", join(dir, "kept", "file")], env: {}, cwd: "/", ownProcessGroup: true });
rmSync(join(dir, "gone"), { recursive: true });
const out = await launchPlan(plan);
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(out) + "\n");
