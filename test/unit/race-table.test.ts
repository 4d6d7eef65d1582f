// The race table of docs/supervision.md ("Why each answer is race-free") names every
// syscall the seccomp filter can route to the supervisor, under the policies that route
// the most, on a kernel with Landlock's signal scope and on one without it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Policy } from "../../src/policy/index.js";
import type { PolicyInput } from "../../src/policy/types.js";
import { computeFeatures, withLearning } from "../../src/plan/features.js";
import { reachFilters } from "../../src/plan/seccomp-reach.js";

const DOC = new URL("../../../docs/supervision.md", import.meta.url);

/** The syscall names in backticks in the first column of the table's rows. */
function tableNames(): Set<string> {
  const text = readFileSync(DOC, "utf8");
  const start = text.indexOf("## Why each answer is race-free");
  assert.ok(start >= 0, "docs/supervision.md has the section");
  const end = text.indexOf("\n## ", start + 1);
  const names = new Set<string>();
  for (const line of text.slice(start, end).split("\n")) {
    if (!line.startsWith("| ") || line.startsWith("| syscall")) continue;
    const first = line.split(" | ")[0]!;
    for (const m of first.matchAll(/`([a-z_0-9]+)[`(]/g)) names.add(m[1]!);
  }
  return names;
}

function routed(input: PolicyInput, landlockAbi: number): string[] {
  const old: PolicyInput = landlockAbi < 6 ? { protection: { allowDegraded: ["scopes"] } } : {};
  const f = computeFeatures(new Policy({ ...input, ...old }), { landlockAbi, cpuCount: 2 }, new Map([["localhost", ["127.0.0.1"]]]));
  // A learning run (sandlock learn) routes the most of all.
  const learning = withLearning(f);
  return [...learning.seccomp.notify, ...reachFilters(true, f.seccomp.trapSignals === true).keys()];
}

test("every syscall the filter can route to the supervisor has a row in the race table", () => {
  const names = tableNames();
  assert.ok(names.size > 30, `the table was found and parsed (${names.size} names)`);
  const policies: PolicyInput[] = [
    {},
    {
      name: "box", numCpus: 1, maxMemory: "64M", extraAllowSyscalls: ["sysv_ipc"], randomSeed: 1, portRemap: true,
      fsReadable: ["/usr", "/etc", "/proc", "/sys/devices/system/cpu"], fsWritable: ["/tmp", "/dev"],
      netAllow: ["tcp://localhost:80", "udp://127.0.0.1:53"],
    },
  ];
  const missing = new Set<string>();
  for (const abi of [7, 5]) for (const p of policies) for (const n of routed(p, abi)) if (!names.has(n)) missing.add(n);
  assert.deepEqual([...missing], [], "routed syscalls without a row");
});

test("the race table check can fail: a name the filter never routes is not taken as covered", () => {
  const names = tableNames();
  assert.ok(!names.has("getpid"));
  assert.ok(names.has("connect") && names.has("capget"));
});
