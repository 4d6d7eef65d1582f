// The network rule grammar (SPEC 2.1.1) and bind port entries: every accepted form and
// every rejected one, each with its own message.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyError } from "../../src/errors.js";
import { parseBindSpec, parseNetRule, formatBindSpec, type NetRule } from "../../src/policy/index.js";

function rejects(fn: () => unknown, field: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.equal(e.code, "POLICY_INVALID");
    assert.equal(e.field, field);
    assert.equal(e.message, message);
    return true;
  });
}

function rule(raw: string): NetRule {
  return parseNetRule("netAllow", raw);
}

test("SPEC 2.1.1 examples parse to the right rules", () => {
  assert.deepEqual(rule("api.example.com:443"), {
    raw: "api.example.com:443", protocols: ["tcp", "udp"],
    target: { kind: "host", host: "api.example.com" }, ports: [443],
  });
  assert.deepEqual(rule(":8080"), { raw: ":8080", protocols: ["tcp", "udp"], target: { kind: "any" }, ports: [8080] });
  assert.deepEqual(rule("udp://1.1.1.1:53"), {
    raw: "udp://1.1.1.1:53", protocols: ["udp"], target: { kind: "ip", address: "1.1.1.1", family: 4 }, ports: [53],
  });
  assert.deepEqual(rule("10.0.0.0/8:443"), {
    raw: "10.0.0.0/8:443", protocols: ["tcp", "udp"],
    target: { kind: "cidr", address: "10.0.0.0", prefix: 8, family: 4 }, ports: [443],
  });
  assert.deepEqual(rule("[::1]:9000"), {
    raw: "[::1]:9000", protocols: ["tcp", "udp"], target: { kind: "ip", address: "::1", family: 6 }, ports: [9000],
  });
  assert.deepEqual(rule("*"), { raw: "*", protocols: ["tcp", "udp"], target: { kind: "any" }, ports: "any" });
});

test("schemes pin one protocol, case-insensitively", () => {
  assert.deepEqual(rule("tcp://:443").protocols, ["tcp"]);
  assert.deepEqual(rule("TCP://:443").protocols, ["tcp"]);
  assert.deepEqual(rule("udp://*").protocols, ["udp"]);
  const ping = rule("icmp://8.8.8.8");
  assert.deepEqual(ping.protocols, ["icmp"]);
  assert.equal(ping.ports, "any");
  assert.deepEqual(rule("icmp://").target, { kind: "any" });
  assert.deepEqual(rule("tcp://"), { raw: "tcp://", protocols: ["tcp"], target: { kind: "any" }, ports: "any" });
});

test("ports: lists are sorted and de-duplicated; * or nothing means every port", () => {
  assert.deepEqual(rule("tcp://*:8443,8080,8443").ports, [8080, 8443]);
  assert.equal(rule("host.example").ports, "any");
  assert.equal(rule("host.example:*").ports, "any");
  assert.equal(rule(":*,*").ports, "any");
  assert.deepEqual(rule(":1,65535").ports, [1, 65535]);
  assert.deepEqual(rule(":080").ports, [80]);
});

test("targets: IPv6 and CIDR forms, hostnames lower-cased", () => {
  assert.deepEqual(rule("::1").target, { kind: "ip", address: "::1", family: 6 });
  assert.equal(rule("::1").ports, "any");
  // Bare IPv6 never carries a port: the last group is part of the address.
  assert.deepEqual(rule("::1:80").target, { kind: "ip", address: "::1:80", family: 6 });
  assert.deepEqual(rule("fd00::/8").target, { kind: "cidr", address: "fd00::", prefix: 8, family: 6 });
  assert.deepEqual(rule("[fd00::/8]:443").target, { kind: "cidr", address: "fd00::", prefix: 8, family: 6 });
  assert.deepEqual(rule("[::1]").target, { kind: "ip", address: "::1", family: 6 });
  assert.deepEqual(rule("0.0.0.0/0").target, { kind: "cidr", address: "0.0.0.0", prefix: 0, family: 4 });
  assert.deepEqual(rule("::/128").target, { kind: "cidr", address: "::", prefix: 128, family: 6 });
  assert.deepEqual(rule("10.1.2.3/8").target, { kind: "cidr", address: "10.1.2.3", prefix: 8, family: 4 });
  assert.deepEqual(rule("API.Example.COM:443").target, { kind: "host", host: "api.example.com" });
  assert.deepEqual(rule("localhost").target, { kind: "host", host: "localhost" });
  assert.deepEqual(rule("1.2.3.4a.example").target, { kind: "host", host: "1.2.3.4a.example" });
});

test("parsed rules are frozen", () => {
  const r = rule("tcp://:80,443");
  assert.ok(Object.isFrozen(r) && Object.isFrozen(r.protocols) && Object.isFrozen(r.target) && Object.isFrozen(r.ports));
});

const BAD_RULES: readonly [unknown, string][] = [
  ["", `netAllow: "" is an empty rule (write "*" for every address and port)`],
  ["   ", `netAllow: "   " is an empty rule (write "*" for every address and port)`],
  [443, `netAllow: 443 is not a string (a rule looks like "host:443")`],
  ["host :80", `netAllow: "host :80" contains whitespace`],
  ["host:0", `netAllow: "host:0" has port 0 (ports are 1-65535)`],
  ["host:65536", `netAllow: "host:65536" has port 65536, above 65535`],
  ["host:", `netAllow: "host:" has an empty port list`],
  ["host:80,", `netAllow: "host:80," has an empty entry in its port list`],
  ["host:80,,90", `netAllow: "host:80,,90" has an empty entry in its port list`],
  ["*:80,*", `netAllow: "*:80,*" mixes "*" with port numbers ("*" alone means every port)`],
  [":*,80", `netAllow: ":*,80" mixes "*" with port numbers ("*" alone means every port)`],
  ["host:http", `netAllow: "host:http" has a port "http" that is not a number`],
  ["host:-1", `netAllow: "host:-1" has a port "-1" that is not a number`],
  ["host:8000-8100", `netAllow: "host:8000-8100" has a port range "8000-8100"; rules list single ports separated by ","`],
  ["host:80:90", `netAllow: "host:80:90" has more than one ":" (separate ports with ",")`],
  [":80:90", `netAllow: ":80:90" has more than one ":" (separate ports with ",")`],
  ["ftp://host:80", `netAllow: "ftp://host:80" has an unknown scheme "ftp" (use tcp://, udp://, icmp://, https:// or http://, or none for TCP and UDP)`],
  ["://host", `netAllow: "://host" has "://" without a scheme before it`],
  ["icmp://8.8.8.8:7", `netAllow: "icmp://8.8.8.8:7" gives a port, but icmp:// rules take none`],
  ["icmp://host:*", `netAllow: "icmp://host:*" gives a port, but icmp:// rules take none`],
  ["10.0.0.0/33", `netAllow: "10.0.0.0/33" has prefix /33, out of range for IPv4 (0-32)`],
  ["[fd00::/129]:443", `netAllow: "[fd00::/129]:443" has prefix /129, out of range for IPv6 (0-128)`],
  ["10.0.0.0/:443", `netAllow: "10.0.0.0/:443" has a CIDR prefix "" that is not a number`],
  ["10.0.0.0/x", `netAllow: "10.0.0.0/x" has a CIDR prefix "x" that is not a number`],
  ["10.0.0.0/8/8", `netAllow: "10.0.0.0/8/8" has more than one "/" in "10.0.0.0/8/8"`],
  ["example.com/8", `netAllow: "example.com/8" has "example.com" before "/", which is not an IP address`],
  ["300.1.1.1", `netAllow: "300.1.1.1" has an invalid IPv4 address "300.1.1.1"`],
  ["1.2.3:80", `netAllow: "1.2.3:80" has an invalid IPv4 address "1.2.3"`],
  ["010.0.0.1", `netAllow: "010.0.0.1" has an invalid IPv4 address "010.0.0.1"`],
  ["::zz", `netAllow: "::zz" is not a valid IPv6 address (put an IPv6 address in brackets when a port follows, e.g. "[::1]:9000")`],
  ["fe80::1%eth0", `netAllow: "fe80::1%eth0" has an IPv6 zone index (%...), which rules do not take`],
  ["1::2::3", `netAllow: "1::2::3" is not a valid IPv6 address (put an IPv6 address in brackets when a port follows, e.g. "[::1]:9000")`],
  ["[fe80::1%eth0]:80", `netAllow: "[fe80::1%eth0]:80" has "fe80::1%eth0" in brackets, which only hold an IPv6 address or CIDR`],
  ["[::1:80", `netAllow: "[::1:80" has "[" without a closing "]"`],
  ["[]:80", `netAllow: "[]:80" has empty brackets "[]"`],
  ["[::1]80", `netAllow: "[::1]80" has unexpected text "80" after "]"`],
  ["[example.com]:80", `netAllow: "[example.com]:80" has "example.com" in brackets, which only hold an IPv6 address or CIDR`],
  ["[1.2.3.4]:80", `netAllow: "[1.2.3.4]:80" has "1.2.3.4" in brackets, which only hold an IPv6 address or CIDR`],
  ["a.*.example.com:443", `netAllow: "a.*.example.com:443" uses "*" inside a target; "*" only stands alone, for every address, or as the first label of a domain ("*.example.com:443")`],
  ["host]:80", `netAllow: "host]:80" has a misplaced bracket; write an IPv6 target as "[addr]:port"`],
  ["-bad.example:80", `netAllow: "-bad.example:80" has an invalid hostname "-bad.example"`],
  ["under_score.example", `netAllow: "under_score.example" has an invalid hostname "under_score.example"`],
  ["trailing.dot.:80", `netAllow: "trailing.dot.:80" has an invalid hostname "trailing.dot."`],
  [`${"a".repeat(64)}.example`, `netAllow: "${"a".repeat(64)}.example" has an invalid hostname "${"a".repeat(64)}.example"`],
];

for (const [raw, message] of BAD_RULES) {
  test(`rejects rule ${JSON.stringify(raw)}`, () => {
    rejects(() => parseNetRule("netAllow", raw), "netAllow", message);
  });
}

test("the field name given is the one reported", () => {
  rejects(() => parseNetRule("netDeny", "host:"), "netDeny", `netDeny: "host:" has an empty port list`);
});

test("bind specs: port, range, string digits and *", () => {
  assert.deepEqual(parseBindSpec("netAllowBind", 8080), { lo: 8080, hi: 8080 });
  assert.deepEqual(parseBindSpec("netAllowBind", "8080"), { lo: 8080, hi: 8080 });
  assert.deepEqual(parseBindSpec("netAllowBind", "8000-8100"), { lo: 8000, hi: 8100 });
  assert.deepEqual(parseBindSpec("netAllowBind", "1-65535"), { lo: 1, hi: 65535 });
  assert.deepEqual(parseBindSpec("netAllowBind", "9-9"), { lo: 9, hi: 9 });
  assert.equal(parseBindSpec("netAllowBind", "*"), "any");
  assert.equal(formatBindSpec({ lo: 80, hi: 80 }), 80);
  assert.equal(formatBindSpec({ lo: 80, hi: 90 }), "80-90");
  assert.equal(formatBindSpec("any"), "*");
});

const BAD_BINDS: readonly [unknown, string][] = [
  [0, `netAllowBind: 0 uses port 0 (ports are 1-65535)`],
  [-5, `netAllowBind: -5 is negative (ports are 1-65535)`],
  [65536, `netAllowBind: 65536 is above 65535`],
  [80.5, `netAllowBind: 80.5 is not a whole port number`],
  ["0-10", `netAllowBind: "0-10" uses port 0 (ports are 1-65535)`],
  ["10-70000", `netAllowBind: "10-70000" is above 65535`],
  ["90-80", `netAllowBind: "90-80" is a reversed range (write "80-90")`],
  ["http", `netAllowBind: "http" is not a port, a "lo-hi" range or "*"`],
  ["80,90", `netAllowBind: "80,90" is not a port, a "lo-hi" range or "*"`],
  ["", `netAllowBind: "" is not a port, a "lo-hi" range or "*"`],
  [null, `netAllowBind: null is not a port: give a number, "lo-hi" or "*"`],
];

for (const [value, message] of BAD_BINDS) {
  test(`rejects bind spec ${JSON.stringify(value)}`, () => {
    rejects(() => parseBindSpec("netAllowBind", value), "netAllowBind", message);
  });
}
