// What network supervision adds to the plan: nothing at all for rules Landlock enforces
// alone; otherwise connect/send* routed to the supervisor (sendto only with a
// destination), open* for a pinned /etc/hosts, UDP and ping sockets per rule, and the
// socket options that source-route refused.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Policy } from "../../src/policy/index.js";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { computeFeatures, notifiedSyscalls, type Features } from "../../src/plan/features.js";
import { NET, planLandlock } from "../../src/plan/landlock.js";
import { buildSeccompProgram } from "../../src/plan/seccomp.js";
import { runFilter } from "../helpers/bpf-interpreter.js";

const HOST = { landlockAbi: 7, cpuCount: 2 };
const RESOLVED = new Map([["localhost", ["127.0.0.1"]]]);
const NET_CALLS = ["connect", "sendto", "sendmsg", "sendmmsg"];
const OPEN_CALLS = ["open", "openat", "openat2", "creat"];
const ALLOW = 0x7fff0000;
const NOTIFY = 0x7fc00000;
const EPERM = 0x00050001;

function features(input: object): Features {
  return computeFeatures(new Policy(input), HOST, RESOLVED);
}

test("rules Landlock enforces alone add nothing to the supervisor's list", () => {
  assert.deepEqual(notifiedSyscalls({}), [], "nothing to supervise: no listener at all");
  for (const netAllow of [[], ["tcp://:443"], ["tcp://*:80,443"], ["tcp://*"]]) {
    const f = features({ netAllow, netAllowBind: [8080] });
    assert.equal(f.supervision.net, undefined, JSON.stringify(netAllow));
    assert.deepEqual(f.seccomp.notify.filter((s) => [...NET_CALLS, ...OPEN_CALLS].includes(s)), [], JSON.stringify(netAllow));
    assert.equal(f.seccomp.allowUdp, false);
    assert.equal(f.seccomp.allowPing, false);
    assert.ok(!f.seccomp.denySourceRouting);
  }
  // The network adds nothing to what a policy without network rules traps.
  assert.deepEqual(features({ netAllow: ["tcp://:443", "tcp://*:80"] }).seccomp.notify, features({}).seccomp.notify);
});

test("IP rules trap connect and send*; only host rules also trap open*", () => {
  const ip = features({ netAllow: ["tcp://10.0.0.1:443"] });
  assert.deepEqual(NET_CALLS.filter((s) => ip.seccomp.notify.includes(s)), NET_CALLS);
  assert.deepEqual(OPEN_CALLS.filter((s) => ip.seccomp.notify.includes(s)), []);
  assert.equal(ip.supervision.net?.hostsFile, undefined);
  const host = features({ netAllow: ["tcp://localhost:443"] });
  assert.deepEqual(OPEN_CALLS.filter((s) => host.seccomp.notify.includes(s)), OPEN_CALLS);
  assert.match(host.supervision.net?.hostsFile ?? "", /^127\.0\.0\.1\tlocalhost$/m);
});

test("UDP and ping sockets open only with a rule for them, or in deny mode", () => {
  const cases: [object, boolean, boolean][] = [
    [{ netAllow: ["tcp://10.0.0.1:443"] }, false, false],
    [{ netAllow: ["udp://1.1.1.1:53"] }, true, false],
    [{ netAllow: ["1.1.1.1:53"] }, true, false],
    [{ netAllow: ["icmp://"] }, false, true],
    [{ netDeny: ["10.0.0.0/8"] }, true, true],
  ];
  for (const [input, udp, ping] of cases) {
    const f = features(input);
    assert.equal(f.seccomp.allowUdp, udp, JSON.stringify(input));
    assert.equal(f.seccomp.allowPing, ping, JSON.stringify(input));
    assert.equal(f.seccomp.denySourceRouting, true);
  }
});

test("with supervised rules, Landlock still refuses TCP the child would connect itself", () => {
  const f = features({ netAllow: ["tcp://10.0.0.1:443", "tcp://:8443"] });
  const plan = planLandlock(f.active, f.grants, f.net);
  assert.equal(plan.handledNet & NET.CONNECT_TCP, NET.CONNECT_TCP);
  assert.deepEqual(plan.ports.filter((p) => p.access & NET.CONNECT_TCP).map((p) => p.port), [8443]);
});

const sys = (name: string): number => SYSCALLS[name]!;

test("the filter: sendto reaches the supervisor only with a destination", () => {
  const prog = buildSeccompProgram(features({ netAllow: ["udp://1.1.1.1:53"] }).seccomp);
  const sendto = (dest: number | bigint): number => runFilter(prog, { nr: sys("sendto"), args: [3, 0x1000, 10, 0, dest, 16] });
  assert.equal(sendto(0), ALLOW, "send() on a connected socket");
  assert.equal(sendto(0x7ffc0000), NOTIFY);
  assert.equal(sendto(1n << 32n), NOTIFY, "a pointer in the high half only");
  for (const name of ["connect", "sendmsg", "sendmmsg"]) assert.equal(runFilter(prog, { nr: sys(name), args: [3, 0, 0] }), NOTIFY, name);
  assert.equal(runFilter(prog, { nr: sys("recvfrom"), args: [3, 0, 0, 0, 1, 1] }), ALLOW);
});

test("the filter: source-routing socket options get EPERM, others pass", () => {
  const prog = buildSeccompProgram(features({ netDeny: ["10.0.0.0/8"] }).seccomp);
  const setsockopt = (level: number, name: number): number => runFilter(prog, { nr: sys("setsockopt"), args: [3, level, name, 0, 0] });
  assert.equal(setsockopt(0, 4), EPERM, "IP_OPTIONS");
  assert.equal(setsockopt(41, 57), EPERM, "IPV6_RTHDR");
  assert.equal(setsockopt(41, 5), EPERM, "IPV6_2292RTHDR");
  assert.equal(setsockopt(41, 6), EPERM, "IPV6_2292PKTOPTIONS");
  assert.equal(setsockopt(0, 2), ALLOW, "IP_TTL");
  assert.equal(setsockopt(1, 4), ALLOW, "SO_ERROR-numbered option at SOL_SOCKET");
  assert.equal(setsockopt(41, 26), ALLOW, "IPV6_V6ONLY");
  assert.equal(setsockopt(6, 1), ALLOW, "TCP_NODELAY");
  const plain = buildSeccompProgram(features({ netAllow: ["tcp://:443"] }).seccomp);
  assert.equal(runFilter(plain, { nr: sys("setsockopt"), args: [3, 0, 4, 0, 0] }), ALLOW, "without network supervision");
});
