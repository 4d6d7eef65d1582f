// What network supervision adds to the plan: connect/send* routed to the supervisor in
// every policy (sendto only with a destination), Landlock's port rules applied by it too,
// open* for a pinned /etc/hosts, UDP and ping sockets per rule, the socket options that
// source-route refused, the interface view and the grants bounding named unix sockets.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Policy } from "../../src/policy/index.js";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { computeFeatures, notifiedSyscalls, type Features } from "../../src/plan/features.js";
import { NET, planLandlock } from "../../src/plan/landlock.js";
import { IN_FLIGHT_MAX, portRanges } from "../../src/plan/net-supervision.js";
import { buildSeccompProgram } from "../../src/plan/seccomp.js";
import { runFilter } from "../helpers/bpf-interpreter.js";

const HOST = { landlockAbi: 7, cpuCount: 2 };
const RESOLVED = new Map([["localhost", ["127.0.0.1"]]]);
const NET_CALLS = ["connect", "sendto", "sendmsg", "sendmmsg", "socket", "bind", "getsockname", "setsockopt", "ioctl"];
const OPEN_CALLS = ["open", "openat", "openat2", "creat"];
const ALLOW = 0x7fff0000;
const NOTIFY = 0x7fc00000;
const EPERM = 0x00050001;

function features(input: object): Features {
  return computeFeatures(new Policy(input), HOST, RESOLVED);
}

test("every policy traps connect and send*; only host rules also trap open*", () => {
  assert.deepEqual(notifiedSyscalls({}), [], "nothing to supervise: no listener at all");
  for (const netAllow of [[], ["tcp://:443"], ["tcp://*:80,443"], ["tcp://*"], ["tcp://10.0.0.1:443"]]) {
    const f = features({ netAllow, netAllowBind: [8080] });
    assert.deepEqual(NET_CALLS.filter((s) => f.seccomp.notify.includes(s)), NET_CALLS, JSON.stringify(netAllow));
    assert.deepEqual(OPEN_CALLS.filter((s) => f.seccomp.notify.includes(s)), [], JSON.stringify(netAllow));
    assert.equal(f.supervision.net?.hostsFile, undefined);
  }
  const host = features({ netAllow: ["tcp://localhost:443"] });
  assert.deepEqual(OPEN_CALLS.filter((s) => host.seccomp.notify.includes(s)), OPEN_CALLS);
  assert.match(host.supervision.net?.hostsFile ?? "", /^127\.0\.0\.1\tlocalhost$/m);
});

test("port rules: the supervisor applies Landlock's own rules and refuses as Landlock does", () => {
  for (const netAllow of [[], ["tcp://:443"], ["tcp://*:80,443"], ["tcp://*"]]) {
    const f = features({ netAllow });
    const net = f.supervision.net!;
    assert.equal(net.portRulesOnly, true, JSON.stringify(netAllow));
    assert.equal(net.mode, "allow");
    assert.ok(net.rules.every((r) => r.target === "any" && [...r.protocols].join() === "tcp"));
    assert.equal(f.seccomp.allowUdp, false);
    assert.equal(f.seccomp.allowPing, false);
    assert.ok(!f.seccomp.denySourceRouting);
  }
  assert.deepEqual(features({ netAllow: ["tcp://*:80,443"] }).supervision.net!.rules.map((r) => (r.ports === "any" ? "*" : [...r.ports].join())), ["80,443"]);
  assert.equal(features({ netAllow: ["tcp://10.0.0.1:443"] }).supervision.net!.portRulesOnly, false);
  // Without Landlock's TCP protection nothing restricted TCP ports: neither does the supervisor.
  const off = computeFeatures(new Policy({ netAllow: ["tcp://:443"], protection: { disable: ["net-tcp"] } }), HOST, RESOLVED).supervision.net!;
  assert.deepEqual(off.rules.map((r) => [r.target, r.ports]), [["any", "any"]]);
});

test("the interface view: loopback alone unless a rule reaches beyond loopback", () => {
  const scope = (input: object): string => features(input).supervision.net!.interfaces;
  for (const input of [{}, { netAllow: ["127.0.0.1:80"] }, { netAllow: ["tcp://127.0.0.0/8:80", "udp://[::1]:53"] }, { netAllow: ["localhost:80"] }, { netAllow: ["[::ffff:127.0.0.1]:80"] }, { netAllow: ["[::]:80"] }]) {
    // A connect to the unspecified address (:: or 0.0.0.0) reaches this host's loopback.
    assert.equal(scope(input), "loopback", JSON.stringify(input));
  }
  for (const input of [{ netAllow: ["tcp://:443"] }, { netAllow: ["10.0.0.1:80"] }, { netAllow: ["127.0.0.0/7:80"] }, { netAllow: ["icmp://"] }, { netDeny: ["127.0.0.0/8"] }]) {
    assert.equal(scope(input), "egress", JSON.stringify(input));
  }
});

test("named unix sockets are bounded by the writable grants, unless the filesystem protection is off", () => {
  const dir = process.cwd();
  const f = features({ fsWritable: [dir], fsReadable: ["/usr"] });
  assert.deepEqual((f.supervision.net!.unixGrants as readonly { path: string }[]).map((g) => g.path), [dir]);
  const off = computeFeatures(new Policy({ fsWritable: [dir], protection: { disable: ["fs"] } }), HOST, RESOLVED);
  assert.equal(off.supervision.net!.unixGrants, "any");
  assert.equal(f.supervision.net!.abstractScoped, true, "abstract names refused while the scope protection is in force");
  const unscoped = computeFeatures(new Policy({ protection: { disable: ["scopes"] } }), HOST, RESOLVED);
  assert.equal(unscoped.supervision.net!.abstractScoped, false);
});

test("UDP and ping sockets open only with a rule for them, or in deny mode", () => {
  const cases: [object, boolean, boolean][] = [
    [{ netAllow: ["tcp://10.0.0.1:443"] }, false, false],
    [{ netAllow: ["udp://1.1.1.1:53"] }, true, false],
    [{ netAllow: ["1.1.1.1:53"] }, true, false],
    [{ netAllow: ["icmp://"] }, false, true],
    [{ netDeny: ["10.0.0.0/8"] }, true, true],
  ];
  for (const [input, udp, ping] of cases) {
    const f = features(input);
    assert.equal(f.seccomp.allowUdp, udp, JSON.stringify(input));
    assert.equal(f.seccomp.allowPing, ping, JSON.stringify(input));
    assert.equal(f.seccomp.denySourceRouting, true);
  }
});

test("Landlock still refuses TCP the child would connect itself", () => {
  const f = features({ netAllow: ["tcp://10.0.0.1:443", "tcp://:8443"] });
  const plan = planLandlock(f.active, f.grants, f.net);
  assert.equal(plan.handledNet & NET.CONNECT_TCP, NET.CONNECT_TCP);
  assert.deepEqual(plan.ports.filter((p) => p.access & NET.CONNECT_TCP).map((p) => p.port), [8443]);
});

const sys = (name: string): number => SYSCALLS[name]!;

test("the filter: sendto reaches the supervisor only with a destination", () => {
  const prog = buildSeccompProgram(features({ netAllow: ["udp://1.1.1.1:53"] }).seccomp);
  const sendto = (dest: number | bigint): number => runFilter(prog, { nr: sys("sendto"), args: [3, 0x1000, 10, 0, dest, 16] });
  assert.equal(sendto(0), ALLOW, "send() on a connected socket");
  assert.equal(sendto(0x7ffc0000), NOTIFY);
  assert.equal(sendto(1n << 32n), NOTIFY, "a pointer in the high half only");
  for (const name of ["connect", "sendmsg", "sendmmsg"]) assert.equal(runFilter(prog, { nr: sys(name), args: [3, 0, 0] }), NOTIFY, name);
  assert.equal(runFilter(prog, { nr: sys("recvfrom"), args: [3, 0, 0, 0, 1, 1] }), ALLOW);
});

test("the filter: source-routing socket options get EPERM, others pass", () => {
  const prog = buildSeccompProgram(features({ netDeny: ["10.0.0.0/8"] }).seccomp);
  const setsockopt = (level: number, name: number): number => runFilter(prog, { nr: sys("setsockopt"), args: [3, level, name, 0, 0] });
  assert.equal(setsockopt(0, 4), EPERM, "IP_OPTIONS");
  assert.equal(setsockopt(41, 57), EPERM, "IPV6_RTHDR");
  assert.equal(setsockopt(41, 5), EPERM, "IPV6_2292RTHDR");
  assert.equal(setsockopt(41, 6), EPERM, "IPV6_2292PKTOPTIONS");
  assert.equal(setsockopt(0, 2), ALLOW, "IP_TTL");
  assert.equal(setsockopt(1, 4), ALLOW, "SO_ERROR-numbered option at SOL_SOCKET");
  assert.equal(setsockopt(41, 26), ALLOW, "IPV6_V6ONLY");
  assert.equal(setsockopt(6, 1), ALLOW, "TCP_NODELAY");
  const plain = buildSeccompProgram(features({ netAllow: ["tcp://:443"] }).seccomp);
  assert.equal(runFilter(plain, { nr: sys("setsockopt"), args: [3, 0, 4, 0, 0] }), ALLOW, "port rules reach every address anyway");
});

const EOPNOTSUPP = 0x0005005f;
const ENOPROTOOPT = 0x0005005c;
const MSG_FASTOPEN = 0x20000000;

test("the filter: MSG_FASTOPEN is refused with EOPNOTSUPP in every policy, with or without a supervisor", () => {
  const policies = [features({}).seccomp, features({ netAllow: ["tcp://:443"] }).seccomp, features({ netAllow: ["udp://1.1.1.1:53"] }).seccomp];
  const unsupervised = { ...features({}).seccomp, notify: [] };
  for (const spec of [...policies, unsupervised]) {
    const prog = buildSeccompProgram(spec);
    assert.equal(runFilter(prog, { nr: sys("sendto"), args: [3, 0x1000, 5, MSG_FASTOPEN, 0x2000, 16] }), EOPNOTSUPP, "sendto");
    assert.equal(runFilter(prog, { nr: sys("sendto"), args: [3, 0x1000, 5, MSG_FASTOPEN | 0x4000, 0, 0] }), EOPNOTSUPP, "send() with MSG_FASTOPEN");
    assert.equal(runFilter(prog, { nr: sys("sendmsg"), args: [3, 0x1000, MSG_FASTOPEN] }), EOPNOTSUPP, "sendmsg");
    assert.equal(runFilter(prog, { nr: sys("sendmmsg"), args: [3, 0x1000, 1, MSG_FASTOPEN] }), EOPNOTSUPP, "sendmmsg");
    // The flag in the high half of the register is not one the kernel reads (flags is an int).
    assert.notEqual(runFilter(prog, { nr: sys("sendmsg"), args: [3, 0x1000, 1n << 61n] }), EOPNOTSUPP);
    assert.equal(runFilter(prog, { nr: sys("sendto"), args: [3, 0x1000, 5, 0x4000, 0, 0] }), ALLOW, "send()");
  }
  assert.equal(runFilter(buildSeccompProgram(unsupervised), { nr: sys("sendmsg"), args: [3, 0x1000, 0] }), ALLOW, "nothing supervises");
});

test("the filter: TCP_FASTOPEN_CONNECT and SO_ZEROCOPY get ENOPROTOOPT in every policy", () => {
  for (const spec of [features({}).seccomp, features({ netDeny: ["10.0.0.0/8"] }).seccomp]) {
    const prog = buildSeccompProgram(spec);
    const setsockopt = (level: number, name: number): number => runFilter(prog, { nr: sys("setsockopt"), args: [3, level, name, 0, 4] });
    assert.equal(setsockopt(6, 30), ENOPROTOOPT, "TCP_FASTOPEN_CONNECT");
    assert.equal(setsockopt(1, 60), ENOPROTOOPT, "SO_ZEROCOPY");
    assert.equal(setsockopt(6, 23), ALLOW, "TCP_FASTOPEN (a listener's)");
    assert.equal(setsockopt(6, 1), ALLOW, "TCP_NODELAY");
    assert.equal(setsockopt(1, 2), ALLOW, "SO_REUSEADDR");
    assert.equal(setsockopt(270, 11), NOTIFY, "SOL_NETLINK: answered for emulated netlink sockets");
  }
});

test("the filter: netlink sockets, netlink-sized binds and getsockname reach the supervisor", () => {
  const prog = buildSeccompProgram(features({}).seccomp);
  assert.equal(runFilter(prog, { nr: sys("socket"), args: [16, 3, 0] }), NOTIFY, "NETLINK_ROUTE");
  assert.equal(runFilter(prog, { nr: sys("socket"), args: [16, 3, 9] }), 0x00050061, "NETLINK_AUDIT");
  assert.equal(runFilter(prog, { nr: sys("socket"), args: [1, 1, 0] }), ALLOW, "AF_UNIX");
  assert.equal(runFilter(prog, { nr: sys("socket"), args: [2, 1, 0] }), ALLOW, "TCP");
  assert.equal(runFilter(prog, { nr: sys("bind"), args: [3, 0x1000, 12] }), NOTIFY);
  for (const len of [16, 28, 110, 0]) assert.equal(runFilter(prog, { nr: sys("bind"), args: [3, 0x1000, len] }), ALLOW, `bind ${len}`);
  assert.equal(runFilter(prog, { nr: sys("getsockname"), args: [3, 0, 0] }), NOTIFY);
  assert.equal(runFilter(prog, { nr: sys("getpeername"), args: [3, 0, 0] }), ALLOW);
  const unsupervised = buildSeccompProgram({ ...features({}).seccomp, notify: [] });
  assert.equal(runFilter(unsupervised, { nr: sys("socket"), args: [16, 3, 0] }), ALLOW, "no supervisor: a real one");
  assert.equal(runFilter(unsupervised, { nr: sys("bind"), args: [3, 0x1000, 12] }), ALLOW);
});

test("abstract unix names where the sandbox shares the host's network namespace: every bind longer than an autobind reaches the supervisor (which refuses an abstract name); not in the kernel view, nor without the scope protection", () => {
  const f = features({ procView: "supervised" });
  assert.equal(f.supervision.net?.refuseAbstractBind, true);
  assert.equal(f.seccomp.unixBinds, true);
  const prog = buildSeccompProgram(f.seccomp);
  for (const len of [3, 12, 15, 16, 28, 110, 0xffffffff]) assert.equal(runFilter(prog, { nr: sys("bind"), args: [3, 0x1000, len] }), NOTIFY, `bind ${len}`);
  for (const len of [0, 2]) assert.equal(runFilter(prog, { nr: sys("bind"), args: [3, 0x1000, len] }), ALLOW, `bind ${len}: an autobind (the family alone) or EINVAL`);
  // The kernel view: its own network namespace, the kernel's binds but netlink-sized ones.
  const kernel = features({ procView: "kernel" });
  assert.equal(kernel.supervision.net?.refuseAbstractBind, false);
  assert.equal(kernel.seccomp.unixBinds, undefined);
  assert.equal(runFilter(buildSeccompProgram(kernel.seccomp), { nr: sys("bind"), args: [3, 0x1000, 15] }), ALLOW);
  // Without the scope protection the sandbox reaches the host's abstract sockets anyway.
  const degraded = computeFeatures(new Policy({ procView: "supervised", protection: { allowDegraded: ["scopes"] } }), { ...HOST, landlockAbi: 5 }, RESOLVED);
  assert.equal(degraded.supervision.net?.refuseAbstractBind, false);
  assert.equal(degraded.seccomp.unixBinds, undefined);
  // Nor without a supervisor (no bind reaches one).
  const unsupervised = features({ procView: "supervised", supervisor: false });
  assert.equal(unsupervised.seccomp.unixBinds, undefined);
});

test("UDP where binds are restricted: socket() of UDP and binds of IP-sized addresses reach the supervisor, which makes the sockets (handlers/net-udp.ts)", () => {
  const udp = features({ netAllow: ["udp://1.1.1.1:53"], netAllowBind: [5353, 8080, 8081] });
  assert.deepEqual(udp.supervision.net?.udpBind, [5353, 8080, 8081]);
  assert.equal(udp.seccomp.udpOnBehalf, true);
  const prog = buildSeccompProgram(udp.seccomp);
  for (const family of [2, 10]) {
    for (const proto of [0, 17]) assert.equal(runFilter(prog, { nr: sys("socket"), args: [family, 2 | 0o2000000, proto] }), NOTIFY, `UDP ${family} ${proto}`);
    assert.equal(runFilter(prog, { nr: sys("socket"), args: [family, 1, 0] }), ALLOW, "TCP: the kernel's");
  }
  for (const len of [12, 16, 28, 110, 0xffffffff]) assert.equal(runFilter(prog, { nr: sys("bind"), args: [3, 0x1000, len] }), NOTIFY, `bind ${len}`);
  for (const len of [0, 2]) assert.equal(runFilter(prog, { nr: sys("bind"), args: [3, 0x1000, len] }), ALLOW, `bind ${len}: too short for an IP address or a unix name`);
  // (15 bytes, too short for an IP address, may be a unix socket's abstract name: below.)
  assert.equal(runFilter(prog, { nr: sys("bind"), args: [3, 0x1000, 15] }), NOTIFY, "bind 15");
  // A denylist allows UDP too; every port ("*") leaves UDP sockets the kernel's.
  assert.deepEqual(features({ netDeny: ["10.0.0.0/8"] }).supervision.net?.udpBind, []);
  for (const input of [{ netAllow: ["udp://1.1.1.1:53"], netAllowBind: ["*"] }, { netAllow: ["tcp://:443"] }]) {
    const f = features(input);
    assert.equal(f.supervision.net?.udpBind, undefined, JSON.stringify(input));
    assert.equal(f.seccomp.udpOnBehalf, undefined, JSON.stringify(input));
    // The kernel makes the sandbox's UDP sockets (a bind still reaches the supervisor in
    // this view, for abstract unix names: above).
    assert.equal(runFilter(buildSeccompProgram(f.seccomp), { nr: sys("socket"), args: [2, 2, 17] }), input.netAllow[0]!.startsWith("udp") ? ALLOW : EPERM, JSON.stringify(input));
  }
  // The socket filter takes 1,023 runs of ports besides the ephemeral range.
  const many = Array.from({ length: 1024 }, (_, i) => 2000 + 2 * i);
  assert.throws(() => features({ netAllow: ["udp://1.1.1.1:53"], netAllowBind: many }), (e: unknown) => {
    assert.equal((e as Error).message, `netAllowBind: 1024 separate runs of ports; where UDP is allowed a UDP socket's filter takes at most 1023 (list ranges such as "9000-9100" rather than single ports)`);
    return true;
  });
  features({ netAllow: ["udp://1.1.1.1:53"], netAllowBind: many.slice(1) });
});

test("portRanges merges ports and a range into sorted runs", () => {
  assert.deepEqual(portRanges([5, 3, 4, 10, 20], [12, 19]), [[3, 5], [10, 10], [12, 20]]);
  assert.deepEqual(portRanges([], [32768, 60999]), [[32768, 60999]]);
  assert.deepEqual(portRanges([40000], [32768, 60999]), [[32768, 60999]]);
});

test("the filter: interface queries go to the supervisor, interface changes get EPERM, device queries EOPNOTSUPP", () => {
  const prog = buildSeccompProgram(features({}).seccomp);
  const ioctl = (req: number): number => runFilter(prog, { nr: sys("ioctl"), args: [3, req, 0x1000] });
  for (const req of [0x8910, 0x8912, 0x8913, 0x8915, 0x8921, 0x8927, 0x8933, 0x8942]) assert.equal(ioctl(req), NOTIFY, `0x${req.toString(16)}`);
  // SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFMTU, SIOCSIFNAME, SIOCSIFHWADDR, SIOCADDRT, SIOCDELRT, SIOCSARP, SIOCBRADDBR, SIOCBONDENSLAVE
  for (const req of [0x8914, 0x8916, 0x8922, 0x8923, 0x8924, 0x890b, 0x890c, 0x8955, 0x89a0, 0x8990, 0x89f0]) assert.equal(ioctl(req), EPERM, `0x${req.toString(16)}`);
  for (const req of [0x8946 /* SIOCETHTOOL */, 0x8947, 0x8b01 /* SIOCGIWNAME */, 0x8b1b]) assert.equal(ioctl(req), EOPNOTSUPP, `0x${req.toString(16)}`);
  // Socket and terminal requests outside the interface range pass: FIONREAD, SIOCATMARK,
  // SIOCGSTAMP, SIOCOUTQNSD, TCGETS; TIOCSTI stays refused.
  for (const req of [0x541b, 0x8905, 0x8906, 0x894b, 0x5401, 0x8c00, 0x8a00]) assert.equal(ioctl(req), ALLOW, `0x${req.toString(16)}`);
  assert.equal(ioctl(0x5412), EPERM, "TIOCSTI");
  assert.equal(ioctl(0x100008913), NOTIFY, "the kernel reads 32 bits of the request");
  const unsupervised = buildSeccompProgram({ ...features({}).seccomp, notify: [] });
  assert.equal(runFilter(unsupervised, { nr: sys("ioctl"), args: [3, 0x8912, 0] }), ALLOW, "no supervisor: SIOCGIFCONF");
  assert.equal(runFilter(unsupervised, { nr: sys("ioctl"), args: [3, 0x8914, 0] }), EPERM, "no supervisor: SIOCSIFFLAGS");
});

test("the filter: under maxMemory SO_SNDBUF and SO_RCVBUF go to the supervisor, F_SETPIPE_SZ past 64 KiB gets EPERM", () => {
  const capped = buildSeccompProgram(features({ maxMemory: "64M" }).seccomp);
  const free = buildSeccompProgram(features({}).seccomp);
  const setsockopt = (prog: ReturnType<typeof buildSeccompProgram>, level: number, name: number): number => runFilter(prog, { nr: sys("setsockopt"), args: [3, level, name, 0x1000, 4] });
  assert.equal(setsockopt(capped, 1, 7), NOTIFY, "SO_SNDBUF");
  assert.equal(setsockopt(capped, 1, 8), NOTIFY, "SO_RCVBUF");
  assert.equal(setsockopt(capped, 1, 32), ALLOW, "SO_SNDBUFFORCE: the kernel refuses it without CAP_NET_ADMIN");
  assert.equal(setsockopt(capped, 1, 60), ENOPROTOOPT, "SO_ZEROCOPY");
  assert.equal(setsockopt(capped, 1, 2), ALLOW, "SO_REUSEADDR");
  assert.equal(setsockopt(capped, 6, 7), ALLOW, "level TCP, option number 7");
  assert.equal(setsockopt(free, 1, 7), ALLOW, "SO_SNDBUF without maxMemory");
  const fcntl = (prog: ReturnType<typeof buildSeccompProgram>, cmd: number, arg: number | bigint): number => runFilter(prog, { nr: sys("fcntl"), args: [3, cmd, arg] });
  const F_SETPIPE_SZ = 1031;
  assert.equal(fcntl(capped, F_SETPIPE_SZ, 1 << 20), EPERM);
  assert.equal(fcntl(capped, F_SETPIPE_SZ, 65537), EPERM);
  assert.equal(fcntl(capped, F_SETPIPE_SZ, 0xffffffff), EPERM, "the kernel reads an unsigned int");
  assert.equal(fcntl(capped, F_SETPIPE_SZ, 65536), ALLOW);
  assert.equal(fcntl(capped, F_SETPIPE_SZ, 4096), ALLOW, "a pipe made smaller");
  assert.equal(fcntl(capped, F_SETPIPE_SZ, (1n << 32n) | 4096n), ALLOW, "high bits the kernel drops");
  assert.equal(fcntl(capped, 1032, 0), ALLOW, "F_GETPIPE_SZ");
  assert.equal(fcntl(capped, 4, 1 << 20), ALLOW, "F_SETFL");
  assert.equal(fcntl(free, F_SETPIPE_SZ, 1 << 20), ALLOW, "without maxMemory");
});

test("the filter: under maxMemory F_OFD_SETLK and F_OFD_SETLKW get EINVAL (an OFD lock outlives every descriptor through a mapping); POSIX locks and F_OFD_GETLK pass", () => {
  const capped = buildSeccompProgram(features({ maxMemory: "64M" }).seccomp);
  const free = buildSeccompProgram(features({}).seccomp);
  const fcntl = (prog: ReturnType<typeof buildSeccompProgram>, cmd: number | bigint): number => runFilter(prog, { nr: sys("fcntl"), args: [3, cmd, 0x1000] });
  const EINVAL = 0x00050016;
  assert.equal(fcntl(capped, 37), EINVAL, "F_OFD_SETLK");
  assert.equal(fcntl(capped, 38), EINVAL, "F_OFD_SETLKW");
  assert.equal(fcntl(capped, (1n << 32n) | 37n), EINVAL, "the kernel reads an int: high bits change nothing");
  assert.equal(fcntl(capped, 36), ALLOW, "F_OFD_GETLK");
  assert.equal(fcntl(capped, 6), ALLOW, "F_SETLK");
  assert.equal(fcntl(capped, 7), ALLOW, "F_SETLKW");
  assert.equal(fcntl(free, 37), ALLOW, "without maxMemory");
});

test("sends passing descriptors: made under maxOpenFiles, at most IN_FLIGHT_MAX (the uid's count of files in flight)", () => {
  assert.equal(IN_FLIGHT_MAX, 256);
  assert.equal(features({}).supervision.net?.inFlight, IN_FLIGHT_MAX);
  assert.equal(features({ maxOpenFiles: 64 }).supervision.net?.inFlight, 64);
  assert.equal(features({ maxOpenFiles: 5000 }).supervision.net?.inFlight, IN_FLIGHT_MAX);
  assert.equal(features({ maxOpenFiles: 1 }).supervision.net?.inFlight, 1);
});
