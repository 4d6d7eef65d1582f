// netAllow / netDeny compiled for the supervisor: which policies need it at all (Landlock
// alone for TCP ports to any address), hosts replaced by their addresses, deny rules
// covering ICMP, IPv4-mapped rules folded, and the synthetic /etc/hosts text.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Policy } from "../../src/policy/index.js";
import { formatIp } from "../../src/plan/net-address.js";
import { compileNet, hostsFileText, netNeedsSupervisor, ruleHosts, type MatchRule } from "../../src/plan/net-rules.js";

const RESOLVED = new Map([
  ["api.example.com", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]],
  ["localhost", ["127.0.0.1", "::1"]],
]);

function compile(input: object) {
  return compileNet(new Policy(input), RESOLVED);
}

function show(r: MatchRule): string {
  const target = r.target === "any" ? "*" : `${formatIp(r.target.net)}/${r.target.prefix}`;
  const ports = r.ports === "any" ? "*" : [...r.ports].join(",");
  return `${[...r.protocols].join("+")} ${target} ${ports}`;
}

test("TCP ports to any address need no supervisor: Landlock enforces them alone", () => {
  for (const rules of [[], ["tcp://:443"], ["tcp://*:80,443", "tcp://*"], ["TCP://:1"]]) {
    assert.equal(netNeedsSupervisor(new Policy({ netAllow: rules })), false, JSON.stringify(rules));
    assert.equal(compile({ netAllow: rules }), undefined);
  }
});

test("hosts, IPs, CIDRs, UDP, ICMP and denylists need the supervisor", () => {
  for (const rules of [[":443"], ["*"], ["udp://:53"], ["icmp://"], ["tcp://1.1.1.1:443"], ["tcp://10.0.0.0/8"], ["tcp://[::1]:80"], ["tcp://localhost:80"]]) {
    assert.equal(netNeedsSupervisor(new Policy({ netAllow: rules })), true, JSON.stringify(rules));
  }
  assert.equal(netNeedsSupervisor(new Policy({ netDeny: ["10.0.0.0/8"] })), true);
});

test("allow rules compile per protocol, target and ports; hosts become their addresses", () => {
  const net = compile({ netAllow: ["api.example.com:443", "udp://1.1.1.1:53", "10.0.0.0/8", "icmp://", "tcp://[fd00::]:80,81", "tcp://:22"] })!;
  assert.equal(net.mode, "allow");
  assert.deepEqual(net.rules.map(show), [
    "tcp+udp 93.184.216.34/32 443",
    "tcp+udp 2606:2800:220:1:248:1893:25c8:1946/128 443",
    "udp 1.1.1.1/32 53",
    "tcp+udp 10.0.0.0/8 *",
    "icmp * *",
    "tcp fd00:0:0:0:0:0:0:0/128 80,81",
    "tcp * 22",
  ]);
});

test("rules inside ::ffff:0:0/96 are folded to IPv4; wider IPv6 prefixes are not", () => {
  const net = compile({ netDeny: ["::ffff:10.0.0.1", "[::ffff:10.0.0.0/104]:443", "::/0", "::ffff:0:0/80"] })!;
  assert.deepEqual(net.rules.map(show), [
    "tcp+udp+icmp 10.0.0.1/32 *",
    "tcp+udp 10.0.0.0/8 443",
    "tcp+udp+icmp 0:0:0:0:0:0:0:0/0 *",
    "tcp+udp+icmp 0:0:0:0:0:ffff:0:0/80 *",
  ]);
});

test("deny rules without a scheme or port cover ICMP too; a scheme pins the protocol", () => {
  const net = compile({ netDeny: ["10.0.0.0/8", "udp://192.168.0.0/16", "172.16.0.0/12:22", "icmp://8.8.8.8"] })!;
  assert.equal(net.mode, "deny");
  assert.equal(net.hostsFile, undefined);
  assert.deepEqual(net.rules.map(show), [
    "tcp+udp+icmp 10.0.0.0/8 *",
    "udp 192.168.0.0/16 *",
    "tcp+udp 172.16.0.0/12 22",
    "icmp 8.8.8.8/32 *",
  ]);
});

test("a host rule without its resolution is a planning bug, not a silent empty rule", () => {
  assert.throws(() => compileNet(new Policy({ netAllow: ["other.example:1"] }), RESOLVED), /other\.example was not resolved/);
});

test("ruleHosts lists each host of netAllow once, in order", () => {
  const p = new Policy({ netAllow: ["b.example:1", "1.1.1.1", "a.example", "udp://b.example:53", "*"] });
  assert.deepEqual(ruleHosts(p), ["b.example", "a.example"]);
});

const HEAD = "# /etc/hosts of a sandlock sandbox: the names of its network rules, resolved once at start\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

test("the synthetic /etc/hosts: localhost lines always, then every pinned address", () => {
  assert.equal(hostsFileText([], RESOLVED), HEAD);
  assert.equal(
    hostsFileText(["api.example.com", "localhost"], RESOLVED),
    HEAD + "93.184.216.34\tapi.example.com\n2606:2800:220:1:248:1893:25c8:1946\tapi.example.com\n",
  );
  assert.equal(hostsFileText(["db"], new Map([["db", ["fe80::1%eth0", "10.0.0.5", "10.0.0.5"]]])), HEAD + "fe80::1\tdb\n10.0.0.5\tdb\n");
});

test("the hosts file is served only when an allow rule names a host", () => {
  assert.equal(compile({ netAllow: ["1.1.1.1:443"] })!.hostsFile, undefined);
  assert.equal(compile({ netAllow: ["localhost:80"] })!.hostsFile, HEAD);
});
