// The plan cache's keys and checks: equal policies share an entry, any changed field or
// other host facts do not, a host read that now gives another answer (or an error) voids
// an entry, and what an entry hands out cannot be changed by its users.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Policy } from "../../src/policy/index.js";
import { cachedFeatures, planFor } from "../../src/plan/cache.js";
import { observe, recordReads, unchanged } from "../../src/plan/host-reads.js";
import { encodePlan, makePlan } from "../../src/plan/plan.js";
import { computeFeatures } from "../../src/plan/features.js";

const HOST = { landlockAbi: 7, cpuCount: 2 };
const CMD = { path: "/bin/true", argv: ["/bin/true", "x"], env: { A: "1", B: "é" }, cwd: "/", ownProcessGroup: true };

test("equal policies share one entry; a changed field, or other host facts, never do", () => {
  const a = cachedFeatures(new Policy({ fsReadable: ["/usr"] }), HOST);
  assert.equal(cachedFeatures(new Policy({ fsReadable: ["/usr"] }), HOST), a);
  assert.notEqual(cachedFeatures(new Policy({ fsReadable: ["/usr"], maxProcesses: 7 }), HOST), a);
  assert.notEqual(cachedFeatures(new Policy({ fsReadable: ["/usr", "/etc"] }), HOST), a);
  assert.notEqual(cachedFeatures(new Policy({ fsReadable: ["/usr"], supervisor: false }), HOST), a);
  assert.notEqual(cachedFeatures(new Policy({ fsReadable: ["/usr"] }), { ...HOST }), a);
  assert.notEqual(cachedFeatures(new Policy({ fsReadable: ["/usr"] }), HOST, new Map([["example.org", ["192.0.2.1"]]])), a);
});

test("what the cache hands out is what planning afresh gives, and is frozen", () => {
  const policy = new Policy({ fsReadable: ["/usr", "/etc"], fsWritable: ["/tmp"] });
  const fresh = computeFeatures(policy, HOST);
  const cached = cachedFeatures(policy, HOST);
  assert.deepEqual(cached, fresh);
  assert.throws(() => (cached.grants as unknown[]).push({}), TypeError);
  assert.throws(() => ((cached.supervision as { maxProcesses?: number }).maxProcesses = 1), TypeError);
  for (let i = 0; i < 3; i++) {
    for (const cwd of ["/", "/tmp"]) {
      const cmd = { ...CMD, cwd, argv: ["/bin/true", String(i)] };
      const { plan, blob } = planFor(cachedFeatures(policy, HOST), cmd);
      const whole = makePlan(fresh, cmd);
      assert.ok(blob.equals(encodePlan(whole)), `blob for ${cwd} #${i}`);
      assert.deepEqual(plan.steps.map((s) => s.describe), whole.steps.map((s) => s.describe));
    }
  }
});

test("a noted host read that now answers differently voids the record", () => {
  let answer: string | Error = "/a";
  const read = (): string => {
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const { value, reads } = recordReads(() => [observe("k", read), observe("k", read), observe(undefined, () => 1)]);
  assert.deepEqual(value, ["/a", "/a", 1]);
  assert.equal(reads.length, 2, "a keyed read is noted once");
  assert.equal(unchanged(reads), true);
  answer = "/b";
  assert.equal(unchanged(reads), false);
  answer = Object.assign(new Error("gone"), { code: "ENOENT" });
  assert.equal(unchanged(reads), false);
  // Outside a recording nothing is noted.
  assert.equal(observe("k", () => 2), 2);
});

test("a failed read is noted with its error and checked again", () => {
  let fail = true;
  const read = (): string => {
    if (fail) throw Object.assign(new Error("no"), { code: "ENOENT" });
    return "/x";
  };
  const r = recordReads(() => {
    try {
      return observe("p", read);
    } catch {
      return "caught";
    }
  });
  assert.equal(r.value, "caught");
  assert.equal(r.reads.length, 1);
  assert.equal(unchanged(r.reads), true);
  fail = false;
  assert.equal(unchanged(r.reads), false, "a path that appeared voids the record");
});
