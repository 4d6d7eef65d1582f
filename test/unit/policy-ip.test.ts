// The IPv6 syntax check of the rule grammar, compared with Node's own parser on a corpus
// of valid and invalid spellings (zone indexes are refused on purpose).

import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import { test } from "node:test";
import { isIPv4, isIPv6Address } from "../../src/policy/ip.js";

const VALID = [
  "::", "::1", "1::", "fe80::1", "2001:db8::", "2001:db8:0:0:0:0:2:1", "2001:DB8::2:1",
  "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::8", "::ffff:1.2.3.4",
  "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1::6:1.2.3.4", "64:ff9b::192.0.2.33", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];
const INVALID = [
  "", ":", ":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1",
  "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::1.2.3.256", "1.2.3.4", ":1::", "1::2:", "::1:", "1:2:3:4:5:6::1.2.3.4:1",
  "fe80::1%eth0", "[::1]", "::ffff:01.2.3.4", " ::1",
];

test("valid IPv6 spellings are accepted, as Node's parser does", () => {
  for (const a of VALID) {
    assert.equal(isIPv6(a), true, `corpus check: node accepts ${a}`);
    assert.equal(isIPv6Address(a), true, a);
  }
});

test("invalid IPv6 spellings are refused, as Node's parser does (zone indexes too)", () => {
  for (const a of INVALID) {
    if (!a.includes("%")) assert.equal(isIPv6(a), false, `corpus check: node refuses ${JSON.stringify(a)}`);
    assert.equal(isIPv6Address(a), false, JSON.stringify(a));
  }
});

test("IPv4 is a strict dotted quad", () => {
  assert.equal(isIPv4("10.0.0.1"), true);
  assert.equal(isIPv4("010.0.0.1"), false);
  assert.equal(isIPv4("256.0.0.1"), false);
  assert.equal(isIPv4("1.2.3"), false);
});
