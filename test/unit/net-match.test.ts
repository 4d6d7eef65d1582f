// The rule matcher: protocol, address prefix and port must all match a rule (allow mode),
// or none may (deny mode); ICMP has no ports; IPv4 and IPv6 never match each other.

import { test } from "node:test";
import assert from "node:assert/strict";
import type { Protocol } from "../../src/policy/types.js";
import { Policy } from "../../src/policy/index.js";
import { parseIp, unmapV4 } from "../../src/plan/net-address.js";
import { netAllows } from "../../src/plan/net-match.js";
import { compileNet, type NetRules } from "../../src/plan/net-rules.js";

const RESOLVED = new Map([["api.example.com", ["93.184.216.34", "2606:2800:220:1::1"]]]);

function net(input: object): NetRules {
  const n = compileNet(new Policy(input), RESOLVED);
  assert.ok(n);
  return n;
}

function allows(n: NetRules, protocol: Protocol, address: string, port = 0): boolean {
  const a = parseIp(address);
  assert.ok(a, address);
  return netAllows(n, protocol, { address: unmapV4(a), port });
}

test("an address:port rule allows that address and port, for TCP and UDP", () => {
  const n = net({ netAllow: ["10.1.2.3:443"] });
  assert.ok(allows(n, "tcp", "10.1.2.3", 443));
  assert.ok(allows(n, "udp", "10.1.2.3", 443));
  assert.ok(!allows(n, "tcp", "10.1.2.3", 444), "another port");
  assert.ok(!allows(n, "tcp", "10.1.2.4", 443), "another address");
  assert.ok(!allows(n, "icmp", "10.1.2.3"), "no scheme is TCP and UDP, never ICMP");
});

test("schemes pin the protocol", () => {
  const n = net({ netAllow: ["udp://1.1.1.1:53", "tcp://1.1.1.1:853"] });
  assert.ok(allows(n, "udp", "1.1.1.1", 53));
  assert.ok(!allows(n, "tcp", "1.1.1.1", 53));
  assert.ok(allows(n, "tcp", "1.1.1.1", 853));
  assert.ok(!allows(n, "udp", "1.1.1.1", 853));
});

test("port lists, every port, and any address", () => {
  const n = net({ netAllow: ["10.0.0.0/8:80,443", "192.168.1.1", ":8080"] });
  assert.ok(allows(n, "tcp", "10.9.9.9", 80));
  assert.ok(allows(n, "tcp", "10.9.9.9", 443));
  assert.ok(!allows(n, "tcp", "10.9.9.9", 8443));
  assert.ok(allows(n, "udp", "192.168.1.1", 1));
  assert.ok(allows(n, "udp", "192.168.1.1", 65535));
  assert.ok(allows(n, "tcp", "8.8.8.8", 8080), "any address on the listed port");
  assert.ok(allows(n, "tcp", "::1", 8080), "any address is either family");
  assert.ok(!allows(n, "tcp", "8.8.8.8", 8081));
});

test("a host rule allows every address it resolved to, and no other", () => {
  const n = net({ netAllow: ["api.example.com:443"] });
  assert.ok(allows(n, "tcp", "93.184.216.34", 443));
  assert.ok(allows(n, "tcp", "2606:2800:220:1::1", 443));
  assert.ok(!allows(n, "tcp", "93.184.216.35", 443));
  assert.ok(!allows(n, "tcp", "93.184.216.34", 80));
});

test("IPv6 rules and IPv4-mapped destinations", () => {
  const n = net({ netAllow: ["[::1]:9000", "tcp://[fd00::/8]:443", "tcp://10.0.0.1:22"] });
  assert.ok(allows(n, "tcp", "::1", 9000));
  assert.ok(!allows(n, "tcp", "127.0.0.1", 9000), "::1 is not 127.0.0.1");
  assert.ok(allows(n, "tcp", "fd12:3456::1", 443));
  assert.ok(!allows(n, "tcp", "fe80::1", 443));
  assert.ok(allows(n, "tcp", "::ffff:10.0.0.1", 22), "an IPv4 host reached through an IPv6 socket");
});

test("icmp:// rules allow ping to their target only, whatever the port field says", () => {
  const n = net({ netAllow: ["icmp://8.8.8.8", "icmp://[2001:4860::/32]"] });
  assert.ok(allows(n, "icmp", "8.8.8.8", 0));
  assert.ok(allows(n, "icmp", "8.8.8.8", 1234));
  assert.ok(!allows(n, "icmp", "8.8.4.4"));
  assert.ok(allows(n, "icmp", "2001:4860::8888"));
  assert.ok(!allows(n, "udp", "8.8.8.8", 53));
});

test("deny mode: everything but what the rules name", () => {
  const n = net({ netDeny: ["10.0.0.0/8", "udp://1.1.1.1", "172.16.0.0/12:22", "[fd00::/8]"] });
  assert.ok(!allows(n, "tcp", "10.2.3.4", 443));
  assert.ok(!allows(n, "udp", "10.2.3.4", 53));
  assert.ok(!allows(n, "icmp", "10.2.3.4"), "a deny rule without scheme or port covers ping");
  assert.ok(!allows(n, "tcp", "::ffff:10.2.3.4", 443), "mapped IPv4 is the IPv4 host");
  assert.ok(allows(n, "tcp", "11.0.0.1", 443));
  assert.ok(!allows(n, "udp", "1.1.1.1", 53));
  assert.ok(allows(n, "tcp", "1.1.1.1", 443), "udp:// denies UDP only");
  assert.ok(!allows(n, "tcp", "172.20.0.1", 22));
  assert.ok(allows(n, "tcp", "172.20.0.1", 80), "a port-specific deny leaves other ports");
  assert.ok(allows(n, "icmp", "172.20.0.1"), "a port-specific deny cannot speak of ping");
  assert.ok(!allows(n, "tcp", "fd00::5", 80));
  assert.ok(allows(n, "tcp", "fe80::5", 80));
});
