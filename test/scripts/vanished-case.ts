// A grant whose path is gone between planning and launch (an entry of a split directory
// removed, a process exited): the launcher gives it no rule and the command still starts.
// Plans with the library, removes the path, then launches the plan without a supervisor
// (the probe's read is not trapped). Prints {code, out}. Usage: vanished-case.js PROBE

import { closeSync, mkdirSync, mkdtempSync, readSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LauncherProcess } from "../../src/confine/launcher.js";
import { native } from "../../src/confine/native.js";
import { computeFeatures } from "../../src/plan/features.js";
import { encodePlan, makePlan } from "../../src/plan/plan.js";
import { Policy } from "../../src/policy/index.js";

const probe = process.argv[2]!;
const dir = mkdtempSync("/tmp/sandlock-vanish-");
mkdirSync(join(dir, "kept"));
mkdirSync(join(dir, "gone"));
writeFileSync(join(dir, "kept", "file"), "data\n");
const features = computeFeatures(new Policy({ fsReadable: [probe, join(dir, "kept"), join(dir, "gone")] }), { landlockAbi: native().landlockAbi(), cpuCount: 1 });
const unsupervised = { ...features, seccomp: { ...features.seccomp, notify: [] } };
const plan = makePlan(unsupervised, { path: probe, argv: [probe, "read", join(dir, "kept", "file")], env: {}, cwd: "/", ownProcessGroup: true });
rmSync(join(dir, "gone"), { recursive: true });
const [r, w] = native().pipe();
const launcher = new LauncherProcess(encodePlan(plan), plan.steps, [0, w, 2]);
try {
  await launcher.started;
  const exit = await launcher.exited;
  const buf = Buffer.alloc(256);
  closeSync(w);
  const n = readSync(r, buf);
  process.stdout.write(JSON.stringify({ code: exit.code, out: buf.toString("utf8", 0, n) }) + "\n");
} catch (e) {
  process.stdout.write(JSON.stringify({ error: `${(e as Error).name}: ${(e as Error).message}` }) + "\n");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
