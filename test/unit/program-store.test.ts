// The seccomp program's persistent store (plan.ts setProgramStore, the CLI's files beside
// its bundle): asked only after the process's own map, under the spec's whole JSON, which
// carries every host fact the filter depends on; what it serves is what the plan carries.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Policy } from "../../src/policy/index.js";
import { computeFeatures } from "../../src/plan/features.js";
import { makePlan, setProgramStore, type ProgramStore } from "../../src/plan/plan.js";
import { Step } from "../../src/plan/protocol.js";

const CMD = { path: "/bin/true", argv: ["/bin/true"], env: {}, cwd: "/", ownProcessGroup: true };

class Recorder implements ProgramStore {
  readonly asked: string[] = [];
  readonly stored = new Map<string, Buffer>();
  get(key: string): Buffer | undefined {
    this.asked.push(key);
    return this.stored.get(key);
  }
  put(key: string, program: Buffer): void {
    this.stored.set(key, program);
  }
}

/** The program bytes of the plan's SECCOMP step (after its flags word). */
function programOf(policy: Policy, host: { landlockAbi: number; cpuCount: number }): Buffer {
  const step = makePlan(computeFeatures(policy, host), CMD).steps.find((s) => s.op === Step.SECCOMP)!;
  return step.payload.subarray(8);
}

test("the store is asked under the spec's JSON, after the process's map; a kernel without Landlock's signal scope gives another key", () => {
  const store = new Recorder();
  setProgramStore(store);
  try {
    // The first spec this process assembles (a test file runs in a process of its own).
    // The supervised view: under the kernel view the pid namespace bounds signals either way.
    const policy = new Policy({ fsReadable: ["/usr"], procView: "supervised", protection: { allowDegraded: ["scopes"] } });
    const abi7 = programOf(policy, { landlockAbi: 7, cpuCount: 2 });
    assert.equal(store.asked.length, 1);
    const key7 = store.asked[0]!;
    assert.deepEqual(JSON.parse(key7), JSON.parse(JSON.stringify(computeFeatures(policy, { landlockAbi: 7, cpuCount: 2 }).seccomp)));
    assert.ok(store.stored.get(key7)!.equals(abi7), "a miss stores what was assembled");
    // The same spec again: the process's own map answers, the store is not asked.
    programOf(policy, { landlockAbi: 7, cpuCount: 2 });
    assert.equal(store.asked.length, 1);
    // Landlock ABI 5 has no signal scope: signals go to the supervisor, another spec, another key.
    const abi5 = programOf(policy, { landlockAbi: 5, cpuCount: 2 });
    assert.equal(store.asked.length, 2);
    assert.notEqual(store.asked[1], key7);
    assert.ok(!abi5.equals(abi7));
  } finally {
    setProgramStore(undefined);
  }
});

test("a program the store holds under the key is what the plan carries (the store is trusted; the CLI's checks who wrote it)", () => {
  const store = new Recorder();
  setProgramStore(store);
  try {
    // supervisor: false: a spec the case above did not assemble.
    const policy = new Policy({ fsReadable: ["/usr"], supervisor: false });
    const key = JSON.stringify(computeFeatures(policy, { landlockAbi: 7, cpuCount: 2 }).seccomp);
    const planted = Buffer.from([0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]); // ret ALLOW
    store.stored.set(key, planted);
    assert.ok(programOf(policy, { landlockAbi: 7, cpuCount: 2 }).equals(planted));
  } finally {
    setProgramStore(undefined);
  }
});
