// Domain rules of netAllow (issue 13): the accepted forms, what each covers, and every
// rejected form with its message naming the rule.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyError } from "../../src/errors.js";
import { parseNetRule, Policy } from "../../src/policy/index.js";
import { domainCovers } from "../../src/policy/net-domain.js";
import type { DomainTarget } from "../../src/policy/types.js";

const rule = (raw: string) => parseNetRule("netAllow", raw);

test("domain rules: scheme, wildcard label, ports (a scheme gives the default port)", () => {
  assert.deepEqual(rule("https://*.github.com"), {
    raw: "https://*.github.com", protocols: ["tcp"], target: { kind: "domain", domain: "github.com", wildcard: true, scheme: "https" }, ports: [443],
  });
  assert.deepEqual(rule("http://Mirror.Example.com:8080"), {
    raw: "http://Mirror.Example.com:8080", protocols: ["tcp"], target: { kind: "domain", domain: "mirror.example.com", wildcard: false, scheme: "http" }, ports: [8080],
  });
  assert.deepEqual(rule("http://example.org").ports, [80]);
  assert.deepEqual(rule("*.example.com:443,8443"), {
    raw: "*.example.com:443,8443", protocols: ["tcp"], target: { kind: "domain", domain: "example.com", wildcard: true, scheme: "any" }, ports: [443, 8443],
  });
  assert.equal(rule("tcp://*.example.com:22").target.kind, "domain");
  // Without a scheme or wildcard a name stays a host rule, resolved once at start.
  assert.equal(rule("example.com:443").target.kind, "host");
});

test("a wildcard covers names below the domain at any depth, not the domain itself", () => {
  const w = rule("https://*.github.com").target as DomainTarget;
  assert.ok(domainCovers(w, "api.github.com"));
  assert.ok(domainCovers(w, "a.b.github.com"));
  assert.ok(!domainCovers(w, "github.com"));
  assert.ok(!domainCovers(w, "evilgithub.com"));
  assert.ok(!domainCovers(w, "github.com.evil.org"));
  const exact = rule("https://github.com").target as DomainTarget;
  assert.ok(domainCovers(exact, "github.com"));
  assert.ok(!domainCovers(exact, "api.github.com"));
});

const BAD: readonly [string, string][] = [
  ["*.example.com", `netAllow: "*.example.com" names a wildcard domain without a port; add one ("*.example.com:443") or a scheme ("https://*.example.com")`],
  ["https://*.com", `netAllow: "https://*.com" would cover every name under the top-level domain "com"; name a domain below it ("*.example.com")`],
  ["https://a.*.example.com", `netAllow: "https://a.*.example.com" uses "*" inside a domain; "*" only stands as the whole first label ("*.example.com")`],
  ["https://**.example.com", `netAllow: "https://**.example.com" uses "*" inside a domain; "*" only stands as the whole first label ("*.example.com")`],
  ["https://example.com/path", `netAllow: "https://example.com/path" has a path, query or user part; a domain rule names a host and ports only ("https://api.example.com:8443")`],
  ["https://user@example.com", `netAllow: "https://user@example.com" has a path, query or user part; a domain rule names a host and ports only ("https://api.example.com:8443")`],
  ["https://1.2.3.4", `netAllow: "https://1.2.3.4" names an IP address; https:// rules name a domain (write "tcp://ADDRESS:PORT" for an address)`],
  ["http://[::1]:80", `netAllow: "http://[::1]:80" names an IP address; http:// rules name a domain (write "tcp://ADDRESS:PORT" for an address)`],
  ["https://", `netAllow: "https://" has no domain`],
  ["https://bad_name.example", `netAllow: "https://bad_name.example" has an invalid domain "bad_name.example"`],
  ["https://*.example.com:*", `netAllow: "https://*.example.com:*" gives every port ("*"); a domain rule lists its ports`],
  ["https://*.example.com:0", `netAllow: "https://*.example.com:0" has port 0 (ports are 1-65535)`],
  ["https://*.example.com:99999", `netAllow: "https://*.example.com:99999" has port 99999, above 65535`],
  ["udp://*.example.com:53", `netAllow: "udp://*.example.com:53" names a wildcard domain under udp://; domain rules are TCP only (https://, http://, tcp:// or no scheme)`],
  // Names the host's resolver reads as IPv4 addresses (inet_aton): a wildcard over "0.1"
  // covered the literal 10.0.0.1 as SNI or Host, and "127.1" is 127.0.0.1.
  ["https://*.0.1", `netAllow: "https://*.0.1" names "0.1", which ends in a number: resolvers read it as an IPv4 address ("127.1" is 127.0.0.1), and no domain ends so; write "tcp://ADDRESS:PORT" for an address`],
  ["https://127.1", `netAllow: "https://127.1" names "127.1", which ends in a number: resolvers read it as an IPv4 address ("127.1" is 127.0.0.1), and no domain ends so; write "tcp://ADDRESS:PORT" for an address`],
  ["https://0x7f.1", `netAllow: "https://0x7f.1" names "0x7f.1", which ends in a number: resolvers read it as an IPv4 address ("127.1" is 127.0.0.1), and no domain ends so; write "tcp://ADDRESS:PORT" for an address`],
  ["https://*.example.0x1f", `netAllow: "https://*.example.0x1f" names "example.0x1f", which ends in a number: resolvers read it as an IPv4 address ("127.1" is 127.0.0.1), and no domain ends so; write "tcp://ADDRESS:PORT" for an address`],
];

for (const [raw, message] of BAD) {
  test(`rejects domain rule ${JSON.stringify(raw)}`, () => {
    assert.throws(() => rule(raw), (e: unknown) => e instanceof PolicyError && e.field === "netAllow" && e.message === message);
  });
}

test("netDeny refuses domain rules by name", () => {
  assert.throws(() => new Policy({ netDeny: ["https://*.example.com"] }), (e: unknown) =>
    e instanceof PolicyError && e.message === `netDeny: "https://*.example.com" names a domain; netDeny takes only IP addresses and CIDRs`);
});

test("supervisor: false refuses domain rules by name", () => {
  assert.throws(() => new Policy({ supervisor: false, netAllow: ["https://*.github.com"] }), (e: unknown) =>
    e instanceof PolicyError && e.field === "netAllow" && e.message.startsWith(`netAllow: "https://*.github.com" needs the seccomp supervisor (the rule names a domain,`));
});

test("names that end in a letter label, digits before, stay domains; a host rule that the resolver would read as an address is refused", () => {
  assert.equal((rule("https://1.example.com").target as DomainTarget).domain, "1.example.com");
  assert.equal((rule("https://*.example.123abc").target as DomainTarget).domain, "example.123abc");
  for (const raw of ["0x7f.1:22", "10.0.0.0x1:80"]) {
    const host = raw.slice(0, raw.indexOf(":"));
    assert.throws(() => rule(raw), (e: unknown) => e instanceof PolicyError && e.field === "netAllow" &&
      e.message === `netAllow: "${raw}" has "${host}", which ends in a number: resolvers read it as an IPv4 address (inet_aton's shorthand), not a host name; write the address as a dotted quad`);
  }
  // Control: a dotted quad is an address rule, a name a host rule.
  assert.equal(rule("127.0.0.1:22").target.kind, "ip");
  assert.equal(rule("db.internal:5432").target.kind, "host");
});
