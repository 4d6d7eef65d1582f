// A granted directory swapped for a symbolic link between planning and launch: plans with
// the library (the grant a real directory then), puts a link to another directory in its
// place, then launches the plan without a supervisor and has the probe read a file in the
// link's target by its own path. With the rule pinned to what was planned the start fails
// (ELOOP); following the link would have granted the target. Also the plan launched with
// nothing swapped (the control). Prints {swapped, control}. Usage: swapped-case.js PROBE
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { native } from "../../src/confine/native.js";
import { computeFeatures } from "../../src/plan/features.js";
import { makePlan } from "../../src/plan/plan.js";
import { Policy } from "../../src/policy/index.js";
import { launchPlan } from "./launch-plan.js";

const probe = process.argv[2]!;
// "kernel" or "supervised": the view to run (kernel: its constructed root binds each grant).
const view = process.argv[3] as "kernel" | "supervised" | undefined;
const dir = mkdtempSync("/tmp/sandlock-swapped-");
mkdirSync(join(dir, "d"));
mkdirSync(join(dir, "outside"));
writeFileSync(join(dir, "d", "mine"), "mine\n"); // the probe prints "ok" for a read that worked
writeFileSync(join(dir, "outside", "secret"), "secret\n");

async function launch(target: string, swap: boolean): Promise<unknown> {
  const features = computeFeatures(new Policy({ fsReadable: [probe, join(dir, "d")], ...(view !== undefined ? { procView: view } : {}) }), { landlockAbi: native().landlockAbi(), cpuCount: 1 });
  const unsupervised = { ...features, seccomp: { ...features.seccomp, notify: [] } };
  const plan = makePlan(unsupervised, { path: probe, argv: [probe, "read", target], env: {}, cwd: "/", ownProcessGroup: true });
  if (swap) {
    renameSync(join(dir, "d"), join(dir, "d.real"));
    // Relative, so that it leads to the same place wherever the root is (the kernel view's
    // launcher resolves host paths under its staging root, where an absolute one leads nowhere).
    symlinkSync("outside", join(dir, "d"));
  }
  try {
    return await launchPlan(plan);
  } finally {
    if (swap) {
      rmSync(join(dir, "d"));
      renameSync(join(dir, "d.real"), join(dir, "d"));
    }
  }
}

const control = await launch(join(dir, "d", "mine"), false);
// Through the granted name: what a bind of the link's target (or a rule following it) would expose.
const swapped = await launch(join(dir, "d", "secret"), true);
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ control, swapped }) + "\n");
