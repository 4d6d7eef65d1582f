// The /proc parsers of a thread's scheduling (checkpoint/sched.ts): stat fields nice,
// rt_priority and policy past a comm holding ") ", and Cpus_allowed_list ranges.

import assert from "node:assert/strict";
import { test } from "node:test";
import { cpuListText, parseCpuList, parseSchedStat } from "../../src/checkpoint/sched.js";

test("a CPU list's ranges and single CPUs, and the compact form back", () => {
  assert.deepEqual(parseCpuList("0-2,5,7-8\n"), [0, 1, 2, 5, 7, 8]);
  assert.deepEqual(parseCpuList("3"), [3]);
  assert.equal(cpuListText([0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
  assert.equal(cpuListText([4]), "4");
  assert.throws(() => parseCpuList("0-x"), /unexpected CPU list "0-x"/);
});

test("nice (19), rt_priority (40) and policy (41) of a task's stat, with a comm holding ') '", () => {
  // Fields 3.. after "pid (comm) ": state, ppid, ... nice is the 17th of them.
  const after = Array.from({ length: 50 }, (_, i) => String(i + 3));
  after[0] = "S";
  after[19 - 3] = "-4";
  after[40 - 3] = "7";
  after[41 - 3] = "2";
  const stat = `812 (a) b) ${after.join(" ")}\n`;
  assert.deepEqual(parseSchedStat(stat, "Name:\ta\nCpus_allowed_list:\t0,2-3\n"), { nice: -4, policy: 2, priority: 7, cpus: [0, 2, 3] });
  assert.throws(() => parseSchedStat(stat, "Name:\ta\n"), /no Cpus_allowed_list/);
});
