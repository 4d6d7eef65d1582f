// IP addresses as bytes: parsing (IPv4, IPv6 with "::" and embedded IPv4, zone indexes),
// IPv4-mapped folding, prefix containment at every bit boundary, the unspecified address.

import { test } from "node:test";
import assert from "node:assert/strict";
import { LOOPBACK, formatIp, inPrefix, isUnspecified, parseIp, unmapV4, type IpAddress } from "../../src/plan/net-address.js";

function ip(text: string): IpAddress {
  const a = parseIp(text);
  assert.ok(a, `${text} should parse`);
  return a;
}

test("IPv4 parses to four bytes", () => {
  assert.deepEqual(ip("10.1.2.255"), { family: 4, bytes: Uint8Array.of(10, 1, 2, 255) });
});

test("IPv6 parses with and without compression, with an embedded IPv4 tail and a zone", () => {
  const cases: [string, string][] = [
    ["::", "0:0:0:0:0:0:0:0"],
    ["::1", "0:0:0:0:0:0:0:1"],
    ["fd00::", "fd00:0:0:0:0:0:0:0"],
    ["2001:db8::8:800:200c:417a", "2001:db8:0:0:8:800:200c:417a"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["::ffff:1.2.3.4", "0:0:0:0:0:ffff:102:304"],
    ["64:ff9b::192.0.2.33", "64:ff9b:0:0:0:0:c000:221"],
    ["fe80::1%eth0", "fe80:0:0:0:0:0:0:1"],
  ];
  for (const [text, want] of cases) assert.equal(formatIp(ip(text)), want, text);
});

test("text that is not an address gives undefined", () => {
  for (const bad of ["", "1.2.3", "256.1.1.1", "01.2.3.4", "host", "1::2::3", ":::"]) assert.equal(parseIp(bad), undefined, bad);
});

test("IPv4-mapped IPv6 folds to IPv4; other IPv6 stays", () => {
  assert.deepEqual(unmapV4(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
  assert.deepEqual(unmapV4(ip("::ffff:a00:1")), ip("10.0.0.1"));
  assert.deepEqual(unmapV4(ip("::10.0.0.1")), ip("::10.0.0.1"), "IPv4-compatible is not mapped");
  assert.deepEqual(unmapV4(ip("64:ff9b::10.0.0.1")), ip("64:ff9b::10.0.0.1"));
  assert.deepEqual(unmapV4(ip("10.0.0.1")), ip("10.0.0.1"));
});

test("prefix containment at whole and partial bytes, never across families", () => {
  assert.ok(inPrefix(ip("10.200.3.4"), ip("10.0.0.0"), 8));
  assert.ok(!inPrefix(ip("11.0.0.1"), ip("10.0.0.0"), 8));
  assert.ok(inPrefix(ip("192.168.1.130"), ip("192.168.1.128"), 25));
  assert.ok(!inPrefix(ip("192.168.1.127"), ip("192.168.1.128"), 25));
  assert.ok(inPrefix(ip("172.31.255.255"), ip("172.16.0.0"), 12));
  assert.ok(!inPrefix(ip("172.32.0.0"), ip("172.16.0.0"), 12));
  assert.ok(inPrefix(ip("1.2.3.4"), ip("0.0.0.0"), 0));
  assert.ok(inPrefix(ip("1.2.3.4"), ip("1.2.3.4"), 32));
  assert.ok(!inPrefix(ip("1.2.3.5"), ip("1.2.3.4"), 32));
  assert.ok(inPrefix(ip("fd12::1"), ip("fd00::"), 8));
  assert.ok(!inPrefix(ip("fe00::1"), ip("fd00::"), 8));
  assert.ok(inPrefix(ip("2001:db8::1"), ip("2001:db8::"), 32));
  assert.ok(!inPrefix(ip("::1"), ip("0.0.0.0"), 0), "an IPv4 prefix never holds IPv6");
  assert.ok(!inPrefix(ip("1.2.3.4"), ip("::"), 0), "an IPv6 prefix never holds IPv4");
});

test("the unspecified addresses, and loopback", () => {
  assert.ok(isUnspecified(ip("0.0.0.0")));
  assert.ok(isUnspecified(ip("::")));
  assert.ok(!isUnspecified(ip("0.0.0.1")));
  assert.deepEqual(LOOPBACK[4], ip("127.0.0.1"));
  assert.deepEqual(LOOPBACK[6], ip("::1"));
});
