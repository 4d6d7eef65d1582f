// What /proc tells the sandbox about its host (issue 9), against the real kernel: the mount
// tables list only the mounts the grants reach, /proc/net only the interfaces the policy
// calls for and the sandbox's own sockets, under every spelling and against a racing
// rewrite of the path. Each has a control run without a sandbox that shows more. The cases
// of the supervised view's filtered copies are pinned to it (procView "supervised"): under
// the kernel view these files are the sandbox's own namespaces' (kernel-view.test.ts).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { defaultRouteInterfaces } from "../../src/plan/interface-view.js";
import { within } from "../../src/plan/proc-grants.js";
import type { CaseOutcome } from "../helpers/case-types.js";
import { answer, securityCase } from "../helpers/harness.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const PROC = { fsReadable: ["${PROBE}", "/proc"], cwd: "/" };
const SUPERVISED_PROC = { ...PROC, procView: "supervised" } as const;

function lines(o: CaseOutcome): string[] {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  return (o.result?.stdout ?? "").trim().split("\n");
}

/** "SPEC ANSWER" lines as {spec: answer}. */
function answers(o: CaseOutcome): Record<string, string> {
  return Object.fromEntries(lines(o).map((l) => [l.slice(0, l.lastIndexOf(" ")), l.slice(l.lastIndexOf(" ") + 1)]));
}

/** Mount points of a mountinfo text (octal escapes undone). */
function mountPoints(o: CaseOutcome): string[] {
  return lines(o).map((l) => l.split(" ")[4]!.replace(/\\([0-7]{3})/g, (_, d: string) => String.fromCharCode(parseInt(d, 8))));
}

/** Interface names of a /proc/net/dev text. */
function devNames(o: CaseOutcome): string[] {
  return lines(o).slice(2).map((l) => l.slice(0, l.indexOf(":")).trim());
}

securityCase("the mount table lists only the mounts the grants reach: / and /proc here", { policy: PROC, cmd: probe("cat", "/proc/self/mountinfo") }, (o) => {
  const points = mountPoints(o);
  const probePath = o.vars!.PROBE!;
  for (const p of points) assert.ok(within(probePath, p) || within(p, "/proc"), `${p} is neither above the probe nor in /proc`);
  assert.ok(points.includes("/"), "the root mount, which the probe lies on");
  assert.ok(points.includes("/proc"), "the granted /proc");
});

securityCase("control: without a sandbox the mount table lists mounts no grant of that policy reaches", { policy: PROC, scenario: "bare", cmd: probe("cat", "/proc/self/mountinfo") }, (o) => {
  const probePath = o.vars!.PROBE!;
  const unreached = mountPoints(o).filter((p) => !within(probePath, p) && !within(p, "/proc"));
  assert.ok(unreached.length > 0, "the host has mounts beside / and /proc (/sys, /dev...)");
});

securityCase(
  "every spelling of the mount tables and /proc/net files gets the filtered copy; other /proc/net files are refused",
  {
    policy: SUPERVISED_PROC,
    cmd: probe(
      "count-each",
      "/proc/self/mountinfo", "/proc/mounts", "/proc/self/mounts", "/proc/thread-self/mountinfo", "/proc/self/mountstats",
      "/proc/self::mountinfo", "@/proc/self::mounts", "/proc/self/net/../mounts", "/proc/self/root/proc/self/mountinfo",
      "/proc/net/dev", "/proc/self/net/dev", "/proc/thread-self/net/dev", "/proc/net::dev", "@/proc/self/net::dev",
      "/proc/net/fib_trie", "/proc/net/dev_snmp6/lo", "/proc/self/net/wireless", "/proc/net/ptype", "/proc/net/snmp",
    ),
  },
  (o) => {
    const got = answers(o);
    assert.equal(Object.keys(got).length, 19, lines(o).join("\n"));
    const mounts = Number(got["/proc/self/mountinfo"]);
    assert.ok(mounts >= 2 && mounts < 10, `mountinfo has ${mounts} lines`);
    for (const spec of ["/proc/mounts", "/proc/self/mounts", "/proc/thread-self/mountinfo", "/proc/self/mountstats", "/proc/self::mountinfo", "@/proc/self::mounts", "/proc/self/net/../mounts", "/proc/self/root/proc/self/mountinfo"]) {
      assert.equal(got[spec], String(mounts), spec);
    }
    // Without network rules: the two header lines and lo.
    for (const spec of ["/proc/net/dev", "/proc/self/net/dev", "/proc/thread-self/net/dev", "/proc/net::dev", "@/proc/self/net::dev"]) assert.equal(got[spec], "3", spec);
    for (const spec of ["/proc/net/fib_trie", "/proc/net/dev_snmp6/lo", "/proc/self/net/wireless", "/proc/net/ptype"]) assert.equal(got[spec], "EACCES", spec);
    assert.match(got["/proc/net/snmp"]!, /^[1-9][0-9]*$/, "host-wide counters pass");
  },
);

securityCase("control: without a sandbox /proc/net/fib_trie (host addresses per interface) is readable", { policy: PROC, scenario: "bare", cmd: probe("count-each", "/proc/net/fib_trie") }, (o) =>
  assert.match(answers(o)["/proc/net/fib_trie"]!, /^[1-9][0-9]*$/),
);

const hostInterfaces = (): string[] =>
  readFileSync("/proc/net/dev", "latin1").split("\n").slice(2).filter((l) => l.includes(":")).map((l) => l.slice(0, l.indexOf(":")).trim());
const beyondLoopback = hostInterfaces().some((n) => n !== "lo");

securityCase("without egress rules, /proc/net shows lo and no other interface", { policy: PROC, cmd: probe("cat", "/proc/net/dev") }, (o) =>
  assert.deepEqual(devNames(o), ["lo"]),
);

securityCase("without egress rules, /proc/net/if_inet6 lists addresses of lo only", { policy: PROC, cmd: probe("cat", "/proc/net/if_inet6") }, (o) => {
  for (const l of lines(o)) assert.match(l, /\slo$/, `if_inet6: ${l}`);
});

securityCase("control: without a sandbox /proc/net/dev lists more than lo", { policy: PROC, scenario: "bare", cmd: probe("cat", "/proc/net/dev") }, (o) => {
  assert.ok(beyondLoopback, "this host has no interface but lo: the interface tests cannot tell hiding from absence");
  assert.ok(devNames(o).some((n) => n !== "lo"), devNames(o).join(" "));
});

securityCase(
  "with an egress rule beyond loopback, /proc/net shows lo and the default-route interfaces, no other",
  { policy: { ...PROC, netAllow: ["tcp://192.0.2.1:443"] }, cmd: probe("cat", "/proc/net/dev") },
  (o) => {
    const defaults = defaultRouteInterfaces(readFileSync("/proc/net/route", "latin1"), readFileSync("/proc/net/ipv6_route", "latin1"));
    assert.deepEqual(devNames(o).sort(), ["lo", ...defaults].sort());
  },
);

securityCase(
  "a loopback-only rule does not widen the view",
  { policy: { ...PROC, netAllow: ["tcp://127.0.0.1:80", "[::1]:443"] }, cmd: probe("cat", "/proc/net/dev") },
  (o) => assert.deepEqual(devNames(o), ["lo"]),
);

/** "own-unix I", "own-tcp J", "unix I...", "tcp J..." of the net-tables probe. */
function tables(o: CaseOutcome): Record<string, string[]> {
  return Object.fromEntries(lines(o).map((l) => [l.split(" ")[0]!, l.split(" ").slice(1)]));
}

const TABLES = { ...PROC, netAllow: ["tcp://127.0.0.1:${TCP_OK}"] };

securityCase(
  "the socket tables list only the sandbox's own sockets, not the host's",
  { fixtures: ["abstract", "tcp"], policy: TABLES, cmd: probe("net-tables", "${TCP_OK}") },
  (o) => {
    const t = tables(o);
    assert.equal(t["own-unix"]?.length, 1, lines(o).join("\n"));
    assert.deepEqual(t.unix, t["own-unix"]);
    assert.deepEqual(t.tcp, t["own-tcp"]);
  },
);

securityCase(
  "control: without a sandbox the same tables list the host's sockets too",
  { fixtures: ["abstract", "tcp"], policy: TABLES, scenario: "bare", cmd: probe("net-tables", "${TCP_OK}") },
  (o) => {
    const t = tables(o);
    assert.ok(t.unix!.some((i) => i !== t["own-unix"]![0]), "the host's abstract listener");
    assert.ok(t.tcp!.some((i) => i !== t["own-tcp"]![0]), "the host's TCP listeners");
  },
);

for (const bad of ["/proc/self/mountinfo", "/proc/self/net/dev"]) {
  securityCase(
    `a path rewritten by another thread during the open never reaches the real ${bad}`,
    { policy: SUPERVISED_PROC, cmd: probe("race", "/proc/meminfo", bad, "20000") },
    (o) => {
      const m = /^bad (\d+) good (\d+)$/.exec(answer(o));
      assert.ok(m, answer(o));
      assert.equal(Number(m[1]), 0, `opens that reached the real ${bad}`);
      assert.ok(Number(m[2]) > 0, "the race ran (some opens reached /proc/meminfo)");
    },
  );
}

/** A host interface that neither scope shows (not lo, no default route), if the host has one. */
const hiddenInterface = (): string | undefined => {
  const defaults = defaultRouteInterfaces(readFileSync("/proc/net/route", "latin1"), readFileSync("/proc/net/ipv6_route", "latin1"));
  return hostInterfaces().find((n) => n !== "lo" && !defaults.includes(n));
};

securityCase(
  "the per-interface sysctl directories list all, default and the visible interfaces only",
  { policy: PROC, cmd: probe("listdir", "/proc/sys/net/ipv4/conf") },
  (o) => assert.deepEqual(lines(o).filter((n) => n !== "." && n !== "..").sort(), ["all", "default", "lo"]),
);

securityCase(
  "control: without a sandbox the same directory lists every host interface",
  { policy: PROC, scenario: "bare", cmd: probe("listdir", "/proc/sys/net/ipv4/conf") },
  (o) => assert.ok(lines(o).some((n) => ![".", "..", "all", "default", "lo"].includes(n)), lines(o).join(" ")),
);

{
  const hidden = hiddenInterface() ?? "eth0";
  securityCase(
    `a hidden interface's sysctls do not exist for the sandbox (${hidden})`,
    { policy: PROC, cmd: probe("open-each", `/proc/sys/net/ipv4/conf/${hidden}/forwarding`, `/proc/sys/net/ipv6/neigh/${hidden}`, "/proc/sys/net/ipv4/conf/lo/forwarding") },
    (o) => {
      const got = answers(o);
      assert.equal(got[`/proc/sys/net/ipv4/conf/${hidden}/forwarding`], "ENOENT");
      assert.equal(got[`/proc/sys/net/ipv6/neigh/${hidden}`], "ENOENT");
      assert.equal(got["/proc/sys/net/ipv4/conf/lo/forwarding"], "ok", "lo's are there");
    },
  );
  securityCase(
    `control: without a sandbox ${hidden}'s sysctls open`,
    { policy: PROC, scenario: "bare", cmd: probe("open-each", `/proc/sys/net/ipv4/conf/${hidden}/forwarding`) },
    (o) => {
      assert.ok(hiddenInterface() !== undefined, "this host has no interface beside lo and the default routes: the test cannot tell hiding from absence");
      assert.equal(answers(o)[`/proc/sys/net/ipv4/conf/${hidden}/forwarding`], "ok");
    },
  );
}
