// Network escapes a security review found, run for real against listeners the runner
// starts on loopback: TCP Fast Open past Landlock, and a sibling thread dup2()ing a socket
// onto the number the supervisor looked at. Each attack has a control that succeeds where
// the policy allows it, so the tests can tell a refusal from a broken probe.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { answer, scriptCase, securityCase } from "../helpers/harness.js";
import type { CaseOutcome } from "../helpers/case-types.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const base = { fsReadable: ["${PROBE}"] };

for (const how of ["sendto", "sendmsg", "sendmmsg"]) {
  for (const [label, netAllow] of [["no network rule", []], ["a port rule for another port", ["tcp://:${TCP_OK}"]], ["an IP rule for another port", ["127.0.0.1:${TCP_OK}"]]] as const) {
    securityCase(
      `TCP Fast Open by ${how} is refused (EOPNOTSUPP) under ${label}, and nothing connects`,
      { fixtures: ["tcp"], policy: { ...base, netAllow: [...netAllow] }, cmd: probe("fastopen", how, "127.0.0.1", "${TCP_DENIED}") },
      (o) => {
        assert.equal(answer(o), "EOPNOTSUPP");
        assert.equal(o.observed.TCP_DENIED_accepted, 0);
      },
    );
  }
}

securityCase(
  "TCP Fast Open is refused even to an allowed port (a connect inside a send is never checked)",
  { fixtures: ["tcp"], policy: { ...base, netAllow: ["tcp://:${TCP_OK}"] }, cmd: probe("fastopen", "sendmsg", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "EOPNOTSUPP");
    assert.equal(o.observed.TCP_OK_accepted, 0);
  },
);

/** Whether this host lets clients use TCP Fast Open (net.ipv4.tcp_fastopen bit 0). */
const fastOpenClient = (Number(readFileSync("/proc/sys/net/ipv4/tcp_fastopen", "utf8").trim()) & 1) === 1;
const noFastOpen = fastOpenClient ? undefined : "net.ipv4.tcp_fastopen has no client bit here: Fast Open never connects";

if (noFastOpen === undefined) {
  scriptCase("control: outside a sandbox the same Fast Open sendto connects", "dist/test/scripts/net-bare.js", ["${PROBE}", "fastopen", "sendto", "127.0.0.1", "${PORT}"], (out: { stdout: string; accepted: number }) => {
    assert.equal(out.stdout, "ok\n");
    assert.equal(out.accepted, 1);
  });
} else {
  test("control: outside a sandbox the same Fast Open sendto connects", { skip: noFastOpen }, () => undefined);
}

securityCase(
  "TCP_FASTOPEN_CONNECT is refused (ENOPROTOOPT); a library's plain connect then works where allowed",
  { fixtures: ["tcp"], policy: { ...base, netAllow: ["tcp://:${TCP_OK}"] }, cmd: probe("fastopen", "sockopt", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "setsockopt ENOPROTOOPT connect ok write ok");
    assert.equal(o.observed.TCP_OK_accepted, 1);
  },
);

/** "MODE CALLS OK" lines of race-swap, checked for shape. */
function raceLines(o: CaseOutcome): string[] {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  const lines = (o.result?.stdout ?? "").trim().split("\n");
  assert.deepEqual(
    lines.map((l) => l.split(" ")[0]),
    ["connect", "sendto", "sendmsg", "sendmmsg"],
    o.result?.stdout ?? "",
  );
  for (const l of lines) assert.ok(Number(l.split(" ")[1]) > 0, l);
  return lines;
}

securityCase(
  "a sibling dup2()ing a UDP socket onto the descriptor during connect/sendto/sendmsg/sendmmsg reaches nothing denied",
  {
    fixtures: ["udp"],
    policy: { ...base, netAllow: ["udp://127.0.0.1:${UDP_OK}"] },
    // 500 ms per call kind; the descriptor cycles through a unix, a TCP and a UDP socket.
    cmd: probe("race-swap", "500", "127.0.0.1", "${UDP_DENIED}"),
    timeout: 20_000,
  },
  (o) => {
    for (const l of raceLines(o)) assert.equal(Number(l.split(" ")[2]), 0, `a call succeeded: ${l}`);
    assert.equal(o.observed.UDP_DENIED_received, 0);
  },
);

securityCase(
  "control: the same race delivers datagrams when the destination is allowed",
  {
    fixtures: ["udp"],
    policy: { ...base, netAllow: ["udp://127.0.0.1:${UDP_OK}", "udp://127.0.0.1:${UDP_DENIED}"] },
    cmd: probe("race-swap", "500", "127.0.0.1", "${UDP_DENIED}"),
    timeout: 20_000,
  },
  (o) => {
    const ok = raceLines(o).map((l) => Number(l.split(" ")[2]));
    assert.ok(ok.every((k) => k > 0), `every call kind succeeded sometimes: ${ok.join(" ")}`);
    assert.ok((o.observed.UDP_DENIED_received as number) > 0);
  },
);
