// Network destinations checked by the supervisor, against real echo servers the runner
// starts on loopback (TCP on 127.0.0.1 and ::1, UDP on 127.0.0.1): hosts, IPs, CIDRs,
// protocols, netDeny, the synthetic /etc/hosts, ping sockets, and a racing child.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ConfinementError, Sandbox } from "../../src/index.js";
import { answer, securityCase } from "../helpers/harness.js";
import type { CaseOutcome } from "../helpers/case-types.js";
import { stagePackage } from "../helpers/stage.js";
import { SYSTEM_RO } from "../helpers/system.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const base = { fsReadable: ["${PROBE}"] };
/** For cases that run a shell: the system trees, but never /etc. */
const shell = { fsReadable: ["${PROBE}", ...SYSTEM_RO.filter((p) => p !== "/etc")] };
const allow = (...netAllow: string[]): object => ({ ...base, netAllow });
const out = (o: CaseOutcome): string => {
  if (o.error) throw new Error(`case failed before running: ${o.error.name}: ${o.error.message}`);
  return o.result?.stdout ?? "";
};

securityCase(
  "an allowed host:port connects and exchanges data",
  { fixtures: ["tcp"], policy: allow("127.0.0.1:${TCP_OK}"), cmd: probe("connect-tcp", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "ok ping");
    assert.equal(o.observed.TCP_OK_accepted, 1);
  },
);

securityCase(
  "another port of the allowed address is refused, though a server listens there",
  { fixtures: ["tcp"], policy: allow("127.0.0.1:${TCP_OK}"), cmd: probe("connect-tcp", "127.0.0.1", "${TCP_DENIED}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.TCP_DENIED_accepted, 0);
  },
);

securityCase(
  "the allowed port at another address is refused (loopback is not special)",
  { fixtures: ["tcp"], policy: allow("127.0.0.2:${TCP_OK}"), cmd: probe("connect-tcp", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.TCP_OK_accepted, 0);
  },
);

securityCase(
  "a CIDR rule allows the addresses inside it",
  { fixtures: ["tcp"], policy: allow("tcp://127.0.0.0/8:${TCP_OK}"), cmd: probe("connect-tcp", "127.0.0.1", "${TCP_OK}") },
  (o) => assert.equal(answer(o), "ok ping"),
);

securityCase(
  "a non-blocking connect gets EINPROGRESS from the supervisor's connect, then completes",
  { fixtures: ["tcp"], policy: allow("127.0.0.1:${TCP_OK}"), cmd: probe("connect-nb", "127.0.0.1", "${TCP_OK}") },
  (o) => assert.match(answer(o), /^(EINPROGRESS|0) ok ping$/),
);

securityCase(
  "0.0.0.0 means this host: checked and reached as 127.0.0.1",
  { fixtures: ["tcp"], policy: allow("127.0.0.1:${TCP_OK}"), cmd: probe("connect-tcp", "0.0.0.0", "${TCP_OK}") },
  (o) => assert.equal(answer(o), "ok ping"),
);

securityCase(
  "IPv6: [::1]:port is allowed",
  { fixtures: ["tcp6"], policy: allow("[::1]:${TCP6_OK}"), cmd: probe("connect-tcp6", "::1", "${TCP6_OK}") },
  (o) => assert.equal(answer(o), "ok ping"),
);

securityCase(
  "IPv6: a rule for 127.0.0.1 does not allow ::1",
  { fixtures: ["tcp6"], policy: allow("127.0.0.1:${TCP6_OK}"), cmd: probe("connect-tcp6", "::1", "${TCP6_OK}") },
  (o) => assert.equal(answer(o), "ECONNREFUSED"),
);

securityCase(
  "UDP sockets cannot be created without a UDP rule",
  { policy: allow("tcp://127.0.0.1:80"), cmd: probe("socket", "2", "2", "0") },
  (o) => assert.equal(answer(o), "EPERM"),
);

securityCase(
  "UDP: sendto an allowed destination gets the echo",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-echo", "127.0.0.1", "${UDP_OK}") },
  (o) => {
    assert.equal(answer(o), "ok ping");
    assert.equal(o.observed.UDP_OK_received, 1);
  },
);

securityCase(
  "UDP: sendto a denied destination is ECONNREFUSED and nothing arrives",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-send", "127.0.0.1", "${UDP_DENIED}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.UDP_DENIED_received, 0);
  },
);

securityCase(
  "UDP: a tcp:// rule does not allow UDP to the same address and port",
  { fixtures: ["udp"], policy: allow("tcp://127.0.0.1:${UDP_OK}", "udp://127.0.0.1:1"), cmd: probe("udp-send", "127.0.0.1", "${UDP_OK}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.UDP_OK_received, 0);
  },
);

securityCase(
  "UDP: connect checks the peer, then send() on the connected socket goes straight out",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-connect", "127.0.0.1", "${UDP_OK}") },
  (o) => assert.equal(answer(o), "ok ping"),
);

securityCase(
  "UDP: connect to a denied peer is ECONNREFUSED",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-connect", "127.0.0.1", "${UDP_DENIED}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.UDP_DENIED_received, 0);
  },
);

securityCase(
  "UDP: sendmsg with two iovecs is performed as one datagram",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-sendmsg", "127.0.0.1", "${UDP_OK}") },
  (o) => assert.equal(answer(o), "ok ping"),
);

securityCase(
  "UDP: sendmsg to a denied destination is ECONNREFUSED",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-sendmsg", "127.0.0.1", "${UDP_DENIED}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.UDP_DENIED_received, 0);
  },
);

securityCase(
  "UDP: sendmmsg sends both messages and reports each length",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-sendmmsg", "127.0.0.1", "${UDP_OK}") },
  (o) => {
    assert.equal(out(o), "sent 2 3 5\nok one\nok three\n");
    assert.equal(o.observed.UDP_OK_received, 2);
  },
);

securityCase(
  "UDP: sendmmsg to a denied destination is ECONNREFUSED",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-sendmmsg", "127.0.0.1", "${UDP_DENIED}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.UDP_DENIED_received, 0);
  },
);

securityCase(
  "UDP: descriptors passed as ancillary data on an IP socket are refused (EPERM)",
  { fixtures: ["udp"], policy: allow("udp://127.0.0.1:${UDP_OK}"), cmd: probe("udp-rights", "127.0.0.1", "${UDP_OK}") },
  (o) => {
    assert.equal(answer(o), "EPERM");
    assert.equal(o.observed.UDP_OK_received, 0);
  },
);

securityCase(
  "a thread flipping the address during sendto never reaches the denied port",
  {
    fixtures: ["udp"],
    policy: allow("udp://127.0.0.1:${UDP_OK}"),
    cmd: probe("udp-race", "127.0.0.1", "${UDP_OK}", "${UDP_DENIED}", "400"),
  },
  (o) => {
    const m = /^sent (\d+) refused (\d+)$/.exec(answer(o));
    assert.ok(m, answer(o));
    assert.equal(Number(m[1]) + Number(m[2]), 400);
    assert.equal(o.observed.UDP_DENIED_received, 0);
    assert.equal(o.observed.UDP_OK_received, Number(m[1]));
  },
);

securityCase(
  "source routing (IP_OPTIONS) is refused under network supervision",
  { policy: allow("udp://127.0.0.1:53"), cmd: probe("source-route") },
  (o) => assert.equal(answer(o), "EPERM"),
);

securityCase(
  "TCP Fast Open (a connect inside sendto) is refused, even to an allowed destination",
  { fixtures: ["tcp"], policy: allow("127.0.0.1:${TCP_OK}"), cmd: probe("tcp-fastopen", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "EOPNOTSUPP");
    assert.equal(o.observed.TCP_OK_accepted, 0);
  },
);

securityCase(
  "netDeny blocks its CIDR",
  { fixtures: ["tcp"], policy: { ...base, netDeny: ["127.0.0.0/8"] }, cmd: probe("connect-tcp", "127.0.0.1", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "ECONNREFUSED");
    assert.equal(o.observed.TCP_OK_accepted, 0);
  },
);

securityCase(
  "netDeny blocks its CIDR through IPv4-mapped IPv6 and through 0.0.0.0",
  { fixtures: ["tcp"], policy: { ...shell, netDeny: ["127.0.0.0/8"] }, cmd: ["/bin/sh", "-c", '"$0" connect-tcp6 ::ffff:127.0.0.1 "$1"; "$0" connect-tcp 0.0.0.0 "$1"', "${PROBE}", "${TCP_OK}"] },
  (o) => {
    assert.equal(out(o), "ECONNREFUSED\nECONNREFUSED\n");
    assert.equal(o.observed.TCP_OK_accepted, 0);
  },
);

securityCase(
  "netDeny allows the rest: TCP and UDP to other addresses",
  { fixtures: ["tcp", "udp"], policy: { ...shell, netDeny: ["10.0.0.0/8", "192.168.0.0/16"] }, cmd: ["/bin/sh", "-c", '"$0" connect-tcp 127.0.0.1 "$1"; "$0" udp-echo 127.0.0.1 "$2"', "${PROBE}", "${TCP_OK}", "${UDP_OK}"] },
  (o) => assert.equal(out(o), "ok ping\nok ping\n"),
);

securityCase(
  "a hostname rule: the name resolves through the pinned /etc/hosts and connects",
  { fixtures: ["tcp"], policy: allow("localhost:${TCP_OK}"), cmd: probe("connect-host", "localhost", "${TCP_OK}") },
  (o) => {
    assert.equal(answer(o), "ok ping");
    assert.equal(o.observed.TCP_OK_accepted, 1);
  },
);

securityCase(
  "a hostname rule allows only the ports it names",
  { fixtures: ["tcp"], policy: allow("localhost:${TCP_OK}"), cmd: probe("connect-host", "localhost", "${TCP_DENIED}") },
  (o) => assert.equal(answer(o), "ECONNREFUSED"),
);

const HOSTS_HEAD = "# /etc/hosts of a sandlock sandbox: the names of its network rules, resolved once at start\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

securityCase(
  "the synthetic /etc/hosts is served without /etc granted, however the path is spelled",
  {
    policy: { ...shell, netAllow: ["localhost:80"], cwd: "/etc" },
    cmd: ["/bin/sh", "-c", 'for p in /etc/hosts //etc/./hosts ../etc/hosts hosts /tmp/../etc/hosts; do "$0" cat "$p"; done', "${PROBE}"],
  },
  (o) => assert.equal(out(o), HOSTS_HEAD.repeat(5)),
);

securityCase(
  "the synthetic /etc/hosts cannot be opened for writing, and other files pass through",
  { policy: { ...shell, netAllow: ["localhost:80"], cwd: "/etc" }, cmd: ["/bin/sh", "-c", '"$0" append /etc/hosts; "$0" read /etc/hostname; "$0" hosts localhost', "${PROBE}"] },
  (o) => assert.equal(out(o), "EACCES\nEACCES\n127.0.0.1\n::1\n"),
);

securityCase(
  "without a hostname rule /etc/hosts is not virtualised (and /etc is not granted)",
  { policy: allow("127.0.0.1:80"), cmd: probe("read", "/etc/hosts") },
  (o) => assert.equal(answer(o), "EACCES"),
);

securityCase(
  "ping sockets cannot be created without an icmp:// rule",
  { policy: allow("udp://127.0.0.1:53"), cmd: probe("socket", "2", "2", "1") },
  (o) => assert.equal(answer(o), "EPERM"),
);

/** Whether the kernel lets this test's users open ping sockets (net.ipv4.ping_group_range). */
function pingAllowed(): boolean {
  const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ping_group_range", "utf8").trim().split(/\s+/).map(Number);
  return lo! <= hi!;
}

securityCase(
  "with an icmp:// rule, ping sockets pass the filter (the kernel's ping_group_range still applies)",
  { policy: allow("icmp://127.0.0.1"), cmd: probe("socket", "2", "2", "1") },
  (o) => assert.match(answer(o), pingAllowed() ? /^(ok|EACCES)$/ : /^EACCES$/),
);

const pingSkip = pingAllowed() ? false : "net.ipv4.ping_group_range allows no group to open ping sockets here";
test("ping to an allowed address works and another is refused", { skip: pingSkip }, async () => {
  const { probe: path } = stagePackage();
  const policy = { fsReadable: [path], netAllow: ["icmp://127.0.0.1"] };
  const ok = await Sandbox.run(policy, [path, "ping", "127.0.0.1"]);
  assert.match(ok.stdoutText, /^(ok|EACCES)$/);
  const refused = await Sandbox.run(policy, [path, "ping", "127.0.0.2"]);
  if (ok.stdoutText === "ok") assert.equal(refused.stdoutText, "ECONNREFUSED");
});

test("a host name that does not resolve fails the spawn with a ConfinementError naming it", async () => {
  await assert.rejects(Sandbox.run({ netAllow: ["no-such-host.invalid:443"] }, ["/bin/true"]), (e: unknown) => {
    assert.ok(e instanceof ConfinementError);
    assert.equal(e.code, "CONFINEMENT_STEP_FAILED");
    assert.equal(e.step, "getaddrinfo(no-such-host.invalid)");
    assert.match(e.message, /^netAllow: host "no-such-host\.invalid" does not resolve \(getaddrinfo: (ENOTFOUND|EAI_AGAIN|EAI_FAIL)\)/);
    return true;
  });
});
