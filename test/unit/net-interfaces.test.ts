// The interface view and the emulated NETLINK_ROUTE answers, without a kernel: default
// routes read from /proc/net text, the visibility rule, dumps filtered by index and
// readdressed, single lookups, refusals, acknowledgements and datagram packing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultRouteInterfaces } from "../../src/plan/interface-view.js";
import { baseName, selectInterfaces } from "../../src/supervise/interface-view.js";
import { DATAGRAM_MAX, MAX_REQUESTS, NLMSG, NLM_F, RTM, answerRequests, messages } from "../../src/supervise/handlers/netlink-route.js";

const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
wg0\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0
`;
const ROUTE6 = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth1
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

test("default routes: IPv4 0.0.0.0/0 routes that are up; IPv6 ::/0 routes that are up and not the unreachable entry", () => {
  assert.deepEqual(defaultRouteInterfaces(ROUTE, ""), ["eth0"]);
  assert.deepEqual(defaultRouteInterfaces("", ROUTE6), ["eth1"]);
  assert.deepEqual(defaultRouteInterfaces("", ""), []);
});

const HOST = [
  { name: "lo", index: 1, loopback: true },
  { name: "ifb0", index: 2, loopback: false },
  { name: "eth0", index: 4, loopback: false },
  { name: "eth1", index: 5, loopback: false },
];

test("the view: loopback always; with egress also the default-route interfaces, under their indexes", () => {
  const routes = new Set(["eth0", "eth1"]);
  assert.deepEqual([...selectInterfaces("loopback", HOST, routes).byIndex], [[1, "lo"]]);
  const egress = selectInterfaces("egress", HOST, routes);
  assert.deepEqual([...egress.byIndex], [[1, "lo"], [4, "eth0"], [5, "eth1"]]);
  assert.ok(!egress.names.has("ifb0"));
  assert.equal(baseName("eth0:1"), "eth0");
  assert.equal(baseName("lo"), "lo");
});

const VIEW = selectInterfaces("egress", HOST, new Set(["eth0"]));
const PORT = 4242;

/** A host message: header, a 16-byte ifinfomsg (or 8-byte ifaddrmsg) with the index, and
 * for links an IFLA_IFNAME attribute. */
function hostMessage(type: number, index: number, name?: string): Buffer {
  const body = Buffer.alloc(type === 16 ? 16 : 8);
  body.writeInt32LE(index, 4);
  const attr = name === undefined ? Buffer.alloc(0) : (() => {
    const v = Buffer.from(name + "\0");
    const a = Buffer.alloc(4 + ((v.length + 3) & ~3));
    a.writeUInt16LE(4 + v.length, 0);
    a.writeUInt16LE(3, 2);
    v.copy(a, 4);
    return a;
  })();
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length + attr.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(NLM_F.MULTI, 6);
  h.writeUInt32LE(1, 8);
  h.writeUInt32LE(999, 12);
  return Buffer.concat([h, body, attr]);
}

const LINKS = Buffer.concat(HOST.map((i) => hostMessage(16, i.index, i.name)));
const ADDRS = Buffer.concat([hostMessage(20, 1), hostMessage(20, 2), hostMessage(20, 4), hostMessage(20, 4)]);
const dumps: { type: number; family: number; ext: number }[] = [];
const source = (type: number, family: number, ext: number): Buffer | number => {
  dumps.push({ type, family, ext });
  return type === RTM.GETLINK ? LINKS : ADDRS;
};

/** A request: header, an ifinfomsg (family), and optional attributes. */
function request(type: number, flags: number, seq: number, opts: { index?: number; name?: string; ext?: number } = {}): Buffer {
  const body = Buffer.alloc(16);
  body[0] = 17; // AF_PACKET, as glibc's getifaddrs asks
  body.writeInt32LE(opts.index ?? 0, 4);
  const attrs: Buffer[] = [];
  if (opts.name !== undefined) {
    const v = Buffer.from(opts.name + "\0");
    const a = Buffer.alloc(4 + ((v.length + 3) & ~3));
    a.writeUInt16LE(4 + v.length, 0);
    a.writeUInt16LE(3, 2);
    v.copy(a, 4);
    attrs.push(a);
  }
  if (opts.ext !== undefined) {
    const a = Buffer.alloc(8);
    a.writeUInt16LE(8, 0);
    a.writeUInt16LE(29, 2);
    a.writeUInt32LE(opts.ext, 4);
    attrs.push(a);
  }
  const h = Buffer.alloc(16);
  h.writeUInt32LE(32 + attrs.reduce((n, a) => n + a.length, 0), 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body, ...attrs]);
}

const all = (datagrams: Buffer[]) => datagrams.flatMap((d) => messages(d));
const errnoOf = (m: { bytes: Buffer }): number => 0 - m.bytes.readInt32LE(16) || 0;

test("a link dump gives the visible links only, readdressed to the requester, then NLMSG_DONE", () => {
  dumps.length = 0;
  const out = all(answerRequests(request(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP, 7, { ext: 1 }), PORT, VIEW, source));
  assert.deepEqual(out.map((m) => m.type), [16, 16, NLMSG.DONE]);
  assert.deepEqual(out.slice(0, 2).map((m) => m.bytes.readInt32LE(20)), [1, 4]);
  for (const m of out) {
    assert.equal(m.seq, 7);
    assert.equal(m.bytes.readUInt32LE(12), PORT);
    assert.equal(m.flags & NLM_F.MULTI, NLM_F.MULTI);
  }
  assert.deepEqual(dumps, [{ type: RTM.GETLINK, family: 17, ext: 1 }], "family and IFLA_EXT_MASK passed on, nothing else");
});

test("an address dump gives the visible interfaces' addresses only", () => {
  const out = all(answerRequests(request(RTM.GETADDR, NLM_F.REQUEST | NLM_F.DUMP, 8), PORT, VIEW, source));
  assert.deepEqual(out.map((m) => (m.type === NLMSG.DONE ? "done" : m.bytes.readInt32LE(20))), [1, 4, 4, "done"]);
});

test("a single link lookup by index or by name: visible ones answered (then acked when asked), hidden ones ENODEV", () => {
  const byIndex = all(answerRequests(request(RTM.GETLINK, NLM_F.REQUEST | NLM_F.ACK, 9, { index: 4 }), PORT, VIEW, source));
  assert.deepEqual(byIndex.map((m) => m.type), [16, NLMSG.ERROR]);
  assert.equal(byIndex[0]!.flags & NLM_F.MULTI, 0);
  assert.equal(errnoOf(byIndex[1]!), 0, "the acknowledgement");
  const byName = all(answerRequests(request(RTM.GETLINK, NLM_F.REQUEST, 10, { name: "lo" }), PORT, VIEW, source));
  assert.deepEqual(byName.map((m) => [m.type, m.bytes.readInt32LE(20)]), [[16, 1]]);
  for (const opts of [{ index: 2 }, { name: "ifb0" }, { index: 77 }]) {
    const hidden = all(answerRequests(request(RTM.GETLINK, NLM_F.REQUEST, 11, opts), PORT, VIEW, source));
    assert.deepEqual(hidden.map((m) => [m.type, errnoOf(m)]), [[NLMSG.ERROR, 19]], JSON.stringify(opts));
  }
  const neither = all(answerRequests(request(RTM.GETLINK, NLM_F.REQUEST, 12), PORT, VIEW, source));
  assert.equal(errnoOf(neither[0]!), 22);
});

test("changes get EPERM, other lists EOPNOTSUPP, each error echoing the request's header", () => {
  const cases: [number, number, number][] = [
    [16 /* NEWLINK */, NLM_F.REQUEST | NLM_F.ACK, 1],
    [17 /* DELLINK */, NLM_F.REQUEST, 1],
    [20 /* NEWADDR */, NLM_F.REQUEST, 1],
    [24 /* NEWROUTE */, NLM_F.REQUEST, 1],
    [26 /* GETROUTE */, NLM_F.REQUEST | NLM_F.DUMP, 95],
    [30 /* GETNEIGH */, NLM_F.REQUEST | NLM_F.DUMP, 95],
    [22 /* GETADDR, single */, NLM_F.REQUEST, 95],
  ];
  for (const [type, flags, errno] of cases) {
    const req = request(type, flags, 13);
    const out = all(answerRequests(req, PORT, VIEW, source));
    assert.equal(out.length, 1, `type ${type}`);
    assert.equal(out[0]!.type, NLMSG.ERROR);
    assert.equal(errnoOf(out[0]!), errno, `type ${type}`);
    assert.deepEqual(out[0]!.bytes.subarray(20, 36), req.subarray(0, 16));
  }
});

test("control messages and non-requests are acknowledged only when asked; a bad length stops the walk", () => {
  const noop = request(NLMSG.NOOP, NLM_F.REQUEST | NLM_F.ACK, 14);
  assert.deepEqual(all(answerRequests(noop, PORT, VIEW, source)).map((m) => [m.type, errnoOf(m)]), [[NLMSG.ERROR, 0]]);
  assert.deepEqual(answerRequests(request(RTM.GETLINK, NLM_F.DUMP, 15), PORT, VIEW, source), []);
  const two = Buffer.concat([request(NLMSG.NOOP, NLM_F.REQUEST | NLM_F.ACK, 16), request(NLMSG.NOOP, NLM_F.REQUEST | NLM_F.ACK, 17)]);
  assert.equal(all(answerRequests(two, PORT, VIEW, source)).length, 2);
  const bad = Buffer.from(two);
  bad.writeUInt32LE(4096, 0);
  assert.deepEqual(answerRequests(bad, PORT, VIEW, source), []);
});

test("a failing host dump answers NLMSG_ERROR with its errno", () => {
  const out = all(answerRequests(request(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP, 18), PORT, VIEW, () => -105));
  assert.deepEqual(out.map((m) => [m.type, errnoOf(m)]), [[NLMSG.ERROR, 105]]);
});

test("replies are packed into datagrams a page-sized reader takes whole", () => {
  const many = selectInterfaces("egress", Array.from({ length: 200 }, (_, i) => ({ name: `if${i}`, index: i + 1, loopback: true })), new Set());
  const big = Buffer.concat(Array.from({ length: 200 }, (_, i) => hostMessage(16, i + 1, `if${i}`)));
  const datagrams = answerRequests(request(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP, 19), PORT, many, () => big);
  assert.ok(datagrams.length > 1);
  for (const d of datagrams) assert.ok(d.length <= DATAGRAM_MAX, `${d.length}`);
  const out = all(datagrams);
  assert.equal(out.length, 201);
  assert.equal(out.at(-1)!.type, NLMSG.DONE);
});

test("one datagram buys at most MAX_REQUESTS answers", () => {
  const many = Buffer.concat(Array.from({ length: MAX_REQUESTS + 36 }, (_, i) => request(NLMSG.NOOP, NLM_F.REQUEST | NLM_F.ACK, i)));
  assert.equal(all(answerRequests(many, PORT, VIEW, source)).length, MAX_REQUESTS);
});
