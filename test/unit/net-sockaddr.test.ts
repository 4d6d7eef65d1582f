// The supervisor's pure readings of what a child passes: destination sockaddrs as the
// kernel reads them for IP sockets, and the ancillary data allowed on IP datagram sockets.

import { test } from "node:test";
import assert from "node:assert/strict";
import { formatIp } from "../../src/plan/net-address.js";
import { checkControl } from "../../src/supervise/handlers/net-msg.js";
import { decodeDestination, type Target } from "../../src/supervise/handlers/net-sockaddr.js";

const AF_INET = 2;
const AF_INET6 = 10;

function sin(ip: number[], port: number, family = AF_INET): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(family, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(ip).copy(b, 4);
  return b;
}

function sin6(words: number[], port: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  words.forEach((w, i) => b.writeUInt16BE(w, 8 + 2 * i));
  return b;
}

function dest(t: Target): string {
  if (t.kind !== "ip") return t.kind === "none" ? "none" : `errno ${t.errno}`;
  return `${formatIp(t.dest.address)} ${t.dest.port}`;
}

test("AF_INET and AF_INET6 destinations, on sockets of either family", () => {
  assert.equal(dest(decodeDestination(AF_INET, sin([10, 0, 0, 1], 443), "connect")), "10.0.0.1 443");
  assert.equal(dest(decodeDestination(AF_INET6, sin([10, 0, 0, 1], 443), "send")), "10.0.0.1 443");
  assert.equal(dest(decodeDestination(AF_INET6, sin6([0, 0, 0, 0, 0, 0, 0, 1], 9000), "connect")), "0:0:0:0:0:0:0:1 9000");
  assert.equal(dest(decodeDestination(AF_INET6, sin6([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001], 22), "connect")), "10.0.0.1 22");
});

test("short addresses are EINVAL and other families EAFNOSUPPORT, as the kernel says", () => {
  assert.equal(dest(decodeDestination(AF_INET, Buffer.alloc(0), "connect")), "errno 22");
  assert.equal(dest(decodeDestination(AF_INET, sin([1, 2, 3, 4], 1).subarray(0, 15), "connect")), "errno 22");
  assert.equal(dest(decodeDestination(AF_INET6, sin6([1], 1).subarray(0, 23), "send")), "errno 22");
  assert.equal(dest(decodeDestination(AF_INET, sin([1, 2, 3, 4], 1, 1 /* AF_UNIX */), "connect")), "errno 97");
});

test("AF_UNSPEC: a disconnect for connect, the peer for an IPv6 send, an IPv4 address for an IPv4 send", () => {
  const unspec = sin([10, 9, 8, 7], 53, 0);
  assert.equal(dest(decodeDestination(AF_INET, unspec, "connect")), "none");
  assert.equal(dest(decodeDestination(AF_INET6, unspec, "connect")), "none");
  assert.equal(dest(decodeDestination(AF_INET6, unspec, "send")), "none");
  // udp_sendmsg reads AF_UNSPEC as AF_INET: it must be checked as the address it carries.
  assert.equal(dest(decodeDestination(AF_INET, unspec, "send")), "10.9.8.7 53");
});

test("the unspecified address is checked and sent as loopback", () => {
  const t4 = decodeDestination(AF_INET, sin([0, 0, 0, 0], 80), "connect");
  assert.equal(dest(t4), "127.0.0.1 80");
  assert.deepEqual(t4.kind === "ip" && [...t4.name.subarray(4, 8)], [127, 0, 0, 1]);
  const t6 = decodeDestination(AF_INET6, sin6([], 80), "connect");
  assert.equal(dest(t6), "0:0:0:0:0:0:0:1 80");
  assert.equal(t6.kind === "ip" && t6.name.readUInt16BE(22), 1);
  const mapped = decodeDestination(AF_INET6, sin6([0, 0, 0, 0, 0, 0xffff, 0, 0], 80), "connect");
  assert.equal(dest(mapped), "127.0.0.1 80");
  assert.equal(mapped.kind === "ip" && mapped.name.subarray(8, 24).toString("hex"), "00000000000000000000ffff7f000001");
});

function cmsg(level: number, type: number, data: number[]): Buffer {
  const len = 16 + data.length;
  const b = Buffer.alloc((len + 7) & ~7);
  b.writeBigUInt64LE(BigInt(len), 0);
  b.writeInt32LE(level, 8);
  b.writeInt32LE(type, 12);
  Buffer.from(data).copy(b, 16);
  return b;
}

test("ancillary data: packet tuning passes, descriptors, credentials and source routes do not", () => {
  assert.equal(checkControl(Buffer.alloc(0)), 0);
  assert.equal(checkControl(Buffer.concat([cmsg(0, 8, new Array(12).fill(0)), cmsg(0, 2, [64, 0, 0, 0]), cmsg(17, 103, [0, 5])])), 0);
  assert.equal(checkControl(cmsg(41, 50, new Array(20).fill(0))), 0);
  assert.equal(checkControl(cmsg(1, 1, [0, 0, 0, 0])), 1, "SCM_RIGHTS");
  assert.equal(checkControl(cmsg(1, 2, new Array(12).fill(0))), 1, "SCM_CREDENTIALS");
  assert.equal(checkControl(cmsg(0, 7, [1, 3, 7, 4])), 1, "IP_RETOPTS");
  assert.equal(checkControl(cmsg(41, 57, [0, 0, 0, 0])), 1, "IPV6_RTHDR");
  assert.equal(checkControl(Buffer.concat([cmsg(0, 2, [1, 0, 0, 0]), cmsg(1, 1, [0, 0, 0, 0])])), 1, "a refused one after an allowed one");
  const short = cmsg(0, 2, [1, 0, 0, 0]);
  short.writeBigUInt64LE(8n, 0);
  assert.equal(checkControl(short), 22, "cmsg_len below the header");
  const long = cmsg(0, 2, [1, 0, 0, 0]);
  long.writeBigUInt64LE(64n, 0);
  assert.equal(checkControl(long), 22, "cmsg_len past the buffer");
});
