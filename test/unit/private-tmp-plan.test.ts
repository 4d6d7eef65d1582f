// A run with privateTmp is planned once against the process's planning template and given
// its own directory in the template's place (plan/private-tmp-plan.ts). On this host, for
// policies of every kind a user gives (the presets, both views, maxMemory, network rules,
// protected files): those features are the features planned for the run's own directory.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { after, test } from "node:test";
import { makePrivateTmp, planTemplate } from "../../src/confine/private-tmp.js";
import { probeHost } from "../../src/kernel/probe.js";
import { computeFeatures } from "../../src/plan/features.js";
import { privateTmpFeatures, privateTmpPlanStats } from "../../src/plan/private-tmp-plan.js";
import { withLstatMemo } from "../../src/plan/grant-path.js";
import { Policy } from "../../src/policy/policy.js";
import { presetInput } from "../../src/policy/presets.js";
import type { PolicyInput } from "../../src/policy/types.js";

const SYSTEM = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
const project = mkdtempSync("/tmp/sandlock-ptplan-");
after(() => rmSync(project, { recursive: true, force: true }));

const POLICIES: Record<string, PolicyInput> = {
  "preset workspace": { ...presetInput("workspace", { cwd: project }) },
  "preset workspace-net": { ...presetInput("workspace-net", { cwd: project }) },
  "read-only system": { fsReadable: SYSTEM },
  "supervised view, /proc and /dev": { fsReadable: [...SYSTEM, "/proc", "/dev"], fsWritable: [project], procView: "supervised" },
  "maxMemory, a name, numCpus": { fsReadable: SYSTEM, fsWritable: [project], maxMemory: 64 << 20, name: "ptplan", numCpus: 1 },
  "network rules, fsDenied": { fsReadable: [...SYSTEM, "/proc"], fsDenied: ["/etc/shadow"], netAllow: ["10.0.0.1:443"], protectedFiles: true },
};

/** The features a run's own directory gets when planned directly. */
function planned(p: Policy, dir: string): ReturnType<typeof computeFeatures> {
  return withLstatMemo(() => computeFeatures(p.with({ fsWritable: [...p.fsWritable, dir] }), probeHost()));
}

// First: a process's first run with privateTmp plans its own directory and makes no
// template (the CLI runs one sandbox per process).
test("privateTmp's plan: a process's first run plans its own directory directly", () => {
  const p = new Policy({ fsReadable: SYSTEM, privateTmp: true });
  const priv = makePrivateTmp(false);
  try {
    assert.deepEqual(privateTmpFeatures(p, priv.dir, probeHost()), planned(p, priv.dir));
    assert.deepEqual(privateTmpPlanStats, { templated: 0, direct: 1 });
  } finally {
    priv.remove();
  }
});

for (const [name, input] of Object.entries(POLICIES)) {
  test(`privateTmp's plan from the template is the run's own plan: ${name}`, () => {
    const p = new Policy({ ...input, privateTmp: true });
    const before = privateTmpPlanStats.templated;
    for (let run = 0; run < 2; run++) {
      const priv = makePrivateTmp(false);
      try {
        const viaTemplate = privateTmpFeatures(p, priv.dir, probeHost());
        assert.deepEqual(viaTemplate, planned(p, priv.dir));
        assert.ok(viaTemplate.grants.some((g) => g.path === priv.dir && g.writable), "the run's directory is granted writable");
        assert.ok(!JSON.stringify(viaTemplate, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes(planTemplate()!), "nothing of the template is left");
      } finally {
        priv.remove();
      }
    }
    assert.equal(privateTmpPlanStats.templated - before, 2, "both runs were planned from the template");
  });
}

test("privateTmp's plan: a policy naming a private directory is planned directly, the same", () => {
  const other = makePrivateTmp(false);
  const priv = makePrivateTmp(false);
  try {
    const p = new Policy({ fsReadable: [...SYSTEM, other.dir], privateTmp: true });
    const direct = privateTmpPlanStats.direct;
    assert.deepEqual(privateTmpFeatures(p, priv.dir, probeHost()), planned(p, priv.dir));
    assert.equal(privateTmpPlanStats.direct - direct, 1);
  } finally {
    priv.remove();
    other.remove();
  }
});

// Last: the template is given up for the rest of this process.
test("privateTmp's plan: a template replaced by another directory (a process that may write the temporary directory) is given up; runs plan directly", () => {
  const template = planTemplate()!;
  assert.ok(template !== undefined);
  renameSync(template, `${template}.aside`);
  mkdirSync(template, { mode: 0o700 });
  mkdirSync(`${template}/tmp`, { mode: 0o700 });
  mkdirSync(`${template}/home`, { mode: 0o700 });
  const priv = makePrivateTmp(false);
  try {
    assert.equal(planTemplate(), undefined, "a directory of the same name and contents is not the template (another inode)");
    const p = new Policy({ fsReadable: SYSTEM, privateTmp: true });
    const direct = privateTmpPlanStats.direct;
    assert.deepEqual(privateTmpFeatures(p, priv.dir, probeHost()), planned(p, priv.dir));
    assert.equal(privateTmpPlanStats.direct - direct, 1);
  } finally {
    priv.remove();
    rmSync(template, { recursive: true, force: true });
    rmSync(`${template}.aside`, { recursive: true, force: true });
  }
});
