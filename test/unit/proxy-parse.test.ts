// What the filtering proxy reads from the first bytes of a connection (TLS ClientHello,
// HTTP request head), the DNS messages it answers, the rules it checks, and the test-only
// resolver table's messages. Pure.

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseClientHello } from "../../src/proxy/tls-hello.js";
import { parseRequestHead, splitHostPort, upstreamHead } from "../../src/proxy/http-head.js";
import { RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, addressAnswer, errorAnswer, readQuestion } from "../../src/proxy/dns-message.js";
import { DomainRules, validName } from "../../src/proxy/rules.js";
import { LOOKUPS_MAX, TEST_HOSTS_ENV, newLookupSlots, proxyResolver } from "../../src/proxy/resolver.js";
import { ANSWERED_ADDRESSES_MAX, rememberAnswer } from "../../src/proxy/dns-server.js";
import { RESOLVED_ADDRESSES_MAX, cached } from "../../src/proxy/proxy.js";
import { parseNetRule } from "../../src/policy/index.js";

function ext(type: number, data: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(data.length, 2);
  return Buffer.concat([h, data]);
}
function sni(name: string): Buffer {
  const n = Buffer.from(name);
  const b = Buffer.alloc(5);
  b.writeUInt16BE(n.length + 3, 0);
  b[2] = 0;
  b.writeUInt16BE(n.length, 3);
  return ext(0, Buffer.concat([b, n]));
}
/** A ClientHello with these extensions, in records of at most `recordMax` bytes. */
function hello(exts: Buffer[], recordMax = 16384): Buffer {
  const all = Buffer.concat(exts);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(all.length);
  const body = Buffer.concat([Buffer.from([3, 3]), Buffer.alloc(32, 1), Buffer.from([0, 0, 2, 0xc0, 0x2f, 1, 0]), len, all]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  const records: Buffer[] = [];
  for (let i = 0; i < hs.length; i += recordMax) {
    const part = hs.subarray(i, i + recordMax);
    records.push(Buffer.from([0x16, 3, 1, part.length >> 8, part.length & 0xff]), part);
  }
  return Buffer.concat(records);
}

test("ClientHello: SNI read, across records and in pieces; ECH and ESNI flagged", () => {
  assert.deepEqual(parseClientHello(hello([sni("api.example.com")])), { kind: "hello", sni: "api.example.com", ech: false });
  const split = hello([ext(10, Buffer.from([0, 2, 0, 0x1d])), sni("a.example.com")], 20);
  assert.deepEqual(parseClientHello(split), { kind: "hello", sni: "a.example.com", ech: false });
  for (let cut = 0; cut < split.length; cut += 7) assert.deepEqual(parseClientHello(split.subarray(0, cut)), { kind: "more" });
  assert.deepEqual(parseClientHello(hello([])), { kind: "hello", sni: null, ech: false });
  assert.deepEqual(parseClientHello(hello([sni("x.example.com"), ext(0xfe0d, Buffer.alloc(8))])), { kind: "hello", sni: "x.example.com", ech: true });
  assert.deepEqual(parseClientHello(hello([ext(0xffce, Buffer.alloc(8))])), { kind: "hello", sni: null, ech: true });
});

test("ClientHello: malformed or ambiguous ones are refused", () => {
  assert.deepEqual(parseClientHello(Buffer.from("GET / HTTP/1.1\r\n")), { kind: "bad", why: "not a TLS handshake" });
  assert.deepEqual(parseClientHello(hello([sni("a.example.com"), sni("b.example.com")])), { kind: "bad", why: "extension 0 appears twice" });
  const two = Buffer.concat([Buffer.from([0, 0x1e, 0, 0, 12]), Buffer.from("a.example.com".slice(0, 12)), Buffer.from([0, 0, 12]), Buffer.from("b.example.com".slice(0, 12))]);
  assert.deepEqual(parseClientHello(hello([ext(0, two)])), { kind: "bad", why: "more than one host_name in the server_name extension" });
  const h = hello([sni("a.example.com")]);
  h[5] = 2; // a ServerHello
  assert.deepEqual(parseClientHello(h), { kind: "bad", why: "the first handshake message is not a ClientHello" });
  const truncated = hello([sni("a.example.com")]);
  truncated.writeUInt16BE(truncated.readUInt16BE(9 + 35 + 4 + 2) + 50, 9 + 35 + 4 + 2); // extensions length past the end
  assert.equal(parseClientHello(truncated).kind, "bad");
});

test("HTTP heads: Host, absolute form, CONNECT; duplicates and folding refused", () => {
  const r = parseRequestHead(Buffer.from("GET /x HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nAccept: */*\r\n\r\nbody"));
  assert.equal(r.kind, "head");
  if (r.kind !== "head") return;
  assert.equal(r.head.host, "WWW.Example.com:8080");
  assert.equal(r.head.length, "GET /x HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nAccept: */*\r\n\r\n".length);
  assert.deepEqual(splitHostPort(r.head.host!), { name: "www.example.com", port: 8080 });
  assert.deepEqual(splitHostPort("example.com."), { name: "example.com", port: undefined });
  assert.equal(splitHostPort("example.com:0"), null);
  assert.deepEqual(parseRequestHead(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n")), { kind: "more" });
  assert.deepEqual(parseRequestHead(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")), { kind: "bad", why: "more than one Host header" });
  assert.deepEqual(parseRequestHead(Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n")), { kind: "bad", why: "a malformed header line" });
  assert.deepEqual(parseRequestHead(Buffer.from("\x16\x03\x01 nonsense\r\n\r\n")), { kind: "bad", why: "not an HTTP/1.x request line" });
  // A bare LF or CR ends a line for lenient servers (a Host hidden in a value), NUL likewise.
  const bare = { kind: "bad", why: "a bare CR, LF or NUL in the request head" };
  for (const h of ["GET / HTTP/1.1\r\nHost: a\r\nX: 1\nHost: b\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\rHost: b\r\n\r\n", "GET / HTTP/1.1\nHost: b\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"]) {
    assert.deepEqual(parseRequestHead(Buffer.from(h, "latin1")), bare, JSON.stringify(h));
  }
  const c = parseRequestHead(Buffer.from("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"));
  assert.ok(c.kind === "head" && c.head.method === "CONNECT" && c.head.target === "api.example.com:443");
  if (r.kind === "head") {
    assert.equal(upstreamHead(r.head, "/x").toString(), "GET /x HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    // An absolute URI's authority replaces the Host header (none, or an empty one, would
    // leave the server's default site to answer).
    assert.equal(upstreamHead(r.head, "/x", "www.example.com:8080").toString(), "GET /x HTTP/1.1\r\nHost: www.example.com:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  }
});

test("DNS: the question read back, answers of the asked type, NXDOMAIN", () => {
  const q = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([3, ...Buffer.from("Api"), 7, ...Buffer.from("example"), 3, ...Buffer.from("com"), 0]), Buffer.from([0, 1, 0, 1])]);
  const question = readQuestion(q)!;
  assert.deepEqual({ id: question.id, name: question.name, type: question.type }, { id: 0x1234, name: "api.example.com", type: TYPE_A });
  const a = addressAnswer(question, [Uint8Array.of(127, 0, 0, 1), new Uint8Array(16)]);
  assert.equal(a.readUInt16BE(0), 0x1234);
  assert.equal(a.readUInt16BE(2) & 0xf, 0);
  assert.equal(a.readUInt16BE(6), 1); // the IPv6 address is not an A record
  assert.deepEqual([...a.subarray(a.length - 4)], [127, 0, 0, 1]);
  assert.equal(addressAnswer({ ...question, type: TYPE_AAAA }, [Uint8Array.of(127, 0, 0, 1)]).readUInt16BE(6), 0);
  assert.equal(errorAnswer(question, RCODE_NXDOMAIN).readUInt16BE(2) & 0xf, RCODE_NXDOMAIN);
  const response = Buffer.from(q);
  response[2] = 0x81;
  assert.equal(readQuestion(response), undefined);
  assert.equal(readQuestion(q.subarray(0, 20)), undefined);
});

test("rules: name, port and carrier; DNS knows every name a rule covers", () => {
  const rules = new DomainRules(["https://*.github.com", "http://mirror.example.com:8080", "*.example.org:443", "tcp://:22"].map((r) => parseNetRule("netAllow", r)));
  assert.equal(rules.allows("api.github.com", 443, "tls"), "https://*.github.com");
  assert.equal(rules.allows("api.github.com", 443, "http"), undefined);
  assert.equal(rules.allows("api.github.com", 80, "tls"), undefined);
  assert.equal(rules.allows("mirror.example.com", 8080, "http"), "http://mirror.example.com:8080");
  assert.equal(rules.allows("a.example.org", 443, "http"), "*.example.org:443");
  assert.equal(rules.allows("a.example.org", 443, "tls"), "*.example.org:443");
  assert.ok(rules.coversPort(443) && rules.coversPort(8080) && !rules.coversPort(22));
  assert.ok(rules.knowsName("x.github.com") && !rules.knowsName("github.com") && !rules.knowsName("example.com"));
  assert.ok(validName("a-b.example.com") && !validName("a..b") && !validName("-a.com") && !validName("a b"));
  // An SNI or Host that is an address in any form the resolver reads (inet_aton) is no name:
  // a domain rule never covers it, whatever its labels match.
  for (const n of ["10.0.0.1", "127.1", "0x7f.1", "a.0x1f", "1.0x"]) assert.ok(!validName(n), n);
  for (const n of ["1.example.com", "x.123abc", "0x7f.example"]) assert.ok(validName(n), n);
});

test("the host's resolver: at most LOOKUPS_MAX lookups at once, the rest wait their turn; only host names are asked", async () => {
  let running = 0;
  let most = 0;
  const asked: string[] = [];
  const lookup = async (name: string): Promise<readonly { address: string }[]> => {
    asked.push(name);
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    return [{ address: "127.0.0.1" }];
  };
  const resolve = proxyResolver({}, lookup, newLookupSlots());
  const names = Array.from({ length: 12 }, (_, i) => `n${i}.example.test`);
  const all = await Promise.all(names.map((n) => resolve(n)));
  assert.equal(most, LOOKUPS_MAX);
  assert.deepEqual(asked.sort(), [...names].sort());
  assert.ok(all.every((a) => a[0] === "127.0.0.1"));
  // A failing lookup gives its slot back.
  const failing = proxyResolver({}, async () => { throw Object.assign(new Error("x"), { code: "EAI_AGAIN" }); }, newLookupSlots());
  for (let i = 0; i < LOOKUPS_MAX + 2; i++) await assert.rejects(failing("a.example.test"), { code: "EAI_AGAIN" });
  // Not a host name: never asked (getaddrinfo would stop at the NUL).
  await assert.rejects(resolve("localhost\0.example.test"), { code: "ENOTFOUND" });
  assert.equal(asked.length, names.length);
});

test("the test-only resolver table: answers from it alone; a bad value names the variable", async () => {
  const resolve = proxyResolver({ [TEST_HOSTS_ENV]: `{"Api.Example.test":["127.0.0.1"]}` });
  assert.deepEqual(await resolve("api.example.test"), ["127.0.0.1"]);
  await assert.rejects(resolve("other.example.test"), { code: "ENOTFOUND" });
  assert.throws(() => proxyResolver({ [TEST_HOSTS_ENV]: "{" }), { message: `${TEST_HOSTS_ENV}: "{" is not JSON (a test-only table {"name": ["address"]})` });
  assert.throws(() => proxyResolver({ [TEST_HOSTS_ENV]: `{"a":"127.0.0.1"}` }), { message: `${TEST_HOSTS_ENV}: "{\\"a\\":\\"127.0.0.1\\"}" is not a table {"name": ["address", ...]}` });
});

/** n distinct IPv4 addresses starting at the index `from`. */
function addresses(from: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
  });
}

test("the DNS answers remembered for the address check are bounded: a zone answering each question with new addresses cannot grow the supervisor (eighth review, noticed)", () => {
  const held = (m: Map<string, Set<string>>): number => [...m.values()].reduce((n, s) => n + s.size, 0);
  // Control: below the bound a name keeps the union of its answers, and other names stay.
  const m = new Map<string, Set<string>>();
  rememberAnswer(m, "stable.example.test", addresses(0, 8));
  rememberAnswer(m, "hostile.example.test", addresses(100, 3));
  rememberAnswer(m, "hostile.example.test", addresses(200, 3));
  assert.equal(m.get("hostile.example.test")!.size, 6);
  // The same addresses again count once: a name asked 10,000 times holds its 8.
  for (let i = 0; i < 10_000; i++) rememberAnswer(m, "stable.example.test", addresses(0, 8));
  assert.equal(m.get("stable.example.test")!.size, 8);
  assert.equal(held(m), 14);
  // The attack: one name, 4,000 new addresses per question (about what one answer holds),
  // 100 questions. Before, the name's set grew to 400,000 addresses.
  let max = 0;
  for (let q = 0; q < 100; q++) {
    const answer = addresses(1_000 + q * 4_000, 4_000);
    rememberAnswer(m, "hostile.example.test", answer);
    max = Math.max(max, held(m));
    // What the sandbox was just told always passes the address check.
    const seen = m.get("hostile.example.test")!;
    assert.ok(answer.every((a) => seen.has(a)), `question ${q}: the latest answer is remembered`);
  }
  assert.ok(max <= ANSWERED_ADDRESSES_MAX, `held at most ${max} addresses`);
  assert.ok(max > ANSWERED_ADDRESSES_MAX / 2, `the bound is reached before anything is forgotten (${max})`);
});

test("the resolver's short memory is bounded in addresses too: names with thousands of addresses each are forgotten past the bound", async () => {
  let lookups = 0;
  const resolve = cached(async (name) => {
    lookups++;
    return addresses(Number(/^n(\d+)\./.exec(name)![1]) * 4_000, 4_000);
  });
  // Control: a name asked again within the memory's time is not looked up again.
  await resolve("n0.example.test");
  await resolve("n0.example.test");
  assert.equal(lookups, 1);
  // 40 names of 4,000 addresses each (160,000 in all): the memory forgets past the bound,
  // so the first name is looked up again; before, all 40 answers stayed (1,024 names).
  for (let i = 1; i <= 40; i++) await resolve(`n${i}.example.test`);
  await resolve("n0.example.test");
  assert.equal(lookups, 42, "n0 was forgotten and asked again");
  assert.ok(40 * 4_000 > RESOLVED_ADDRESSES_MAX);
});
