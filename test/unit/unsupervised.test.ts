// supervisor: false: the policy fields that need the supervisor are refused by name, the
// plan has no listener, /proc is refused or left out, and the filter refuses what only
// the supervisor could check (checked with the BPF interpreter).

import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyError, ConfinementError } from "../../src/errors.js";
import { Policy } from "../../src/policy/index.js";
import { SYSCALLS } from "../../src/kernel/syscalls.js";
import { computeFeatures, supervised, type Features } from "../../src/plan/features.js";
import { makePlan } from "../../src/plan/plan.js";
import { Step } from "../../src/plan/protocol.js";
import { buildSeccompProgram } from "../../src/plan/seccomp.js";
import { META_SYSCALLS } from "../../src/plan/seccomp-meta.js";
import { parseRunArgs } from "../../src/cli/run-options.js";
import { runFilter } from "../helpers/bpf-interpreter.js";

const HOST = { landlockAbi: 7, cpuCount: 2 };
const ALLOW = 0x7fff0000;
const errno = (n: number): number => 0x00050000 | n;
const [EPERM, EAFNOSUPPORT, EOPNOTSUPP] = [errno(1), errno(97), errno(95)];

function features(input: object, host = HOST): Features {
  return computeFeatures(new Policy({ supervisor: false, ...input }), host);
}

const OFF = "supervisor: false (--no-supervisor) runs without one";

for (const [input, field, message] of [
  [{ maxMemory: "64M" }, "maxMemory", `maxMemory: "64M" needs the seccomp supervisor (memory is charged on every mmap, brk and clone); ${OFF}`],
  [{ maxProcesses: 10 }, "maxProcesses", `maxProcesses: 10 needs the seccomp supervisor (processes are counted on every fork and clone); ${OFF}`],
  [{ maxEpollWatches: 1000 }, "maxEpollWatches", `maxEpollWatches: 1000 needs the seccomp supervisor (watches are counted on every epoll_ctl add); ${OFF}`],
  [{ numCpus: 1 }, "numCpus", `numCpus: 1 needs the seccomp supervisor (sched_getaffinity and /proc/cpuinfo are answered by it); ${OFF}`],
  [{ name: "box" }, "name", `name: "box" needs the seccomp supervisor (the hostname the sandbox sees is answered by it); ${OFF}`],
  [{ portRemap: true }, "portRemap", `portRemap: true needs the seccomp supervisor (binds are made by it); ${OFF}`],
  [{ randomSeed: 42 }, "randomSeed", `randomSeed: 42 needs the seccomp supervisor (getrandom and the random devices are answered by it); ${OFF}`],
  [{ netDeny: ["10.0.0.0/8"] }, "netDeny", `netDeny: ["10.0.0.0/8"] needs the seccomp supervisor (destinations are checked on every connect and send); ${OFF}`],
  [{ netAllow: ["example.com:443"] }, "netAllow", `netAllow: "example.com:443" needs the seccomp supervisor (the rule names an address, checked on every connect and send; Landlock alone enforces TCP ports to any address, e.g. "tcp://*:443"); ${OFF}`],
  [{ netAllow: ["udp://*:53"] }, "netAllow", `netAllow: "udp://*:53" needs the seccomp supervisor (the rule names a UDP port, checked on every connect and send; Landlock alone enforces TCP ports to any address, e.g. "tcp://*:443"); ${OFF}`],
  [{ netAllow: [":53"] }, "netAllow", /^netAllow: ":53" needs the seccomp supervisor \(the rule names a UDP port/],
  [{ netAllowBind: [8080] }, "netAllowBind", `netAllowBind: [8080] needs the seccomp supervisor (a listen before any bind takes a port no bind rule sees, and only the supervisor tells a bound socket from an unbound one); ${OFF}`],
] as const) {
  test(`supervisor: false refuses ${field} by name: ${JSON.stringify(input)}`, () => {
    assert.throws(() => new Policy({ supervisor: false, ...input }), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.field, field);
      if (typeof message === "string") assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    });
    assert.doesNotThrow(() => new Policy(input), "control: with the supervisor the same field is accepted");
  });
}

test("supervisor: false accepts TCP port rules to any address, any-address UDP/ping, every bind port, maxCpu, maxOpenFiles", () => {
  const p = new Policy({ supervisor: false, netAllow: ["tcp://:443", "tcp://*:80,8080", "udp://*", "icmp://*", "*"], netAllowBind: ["*"], maxCpu: 50, maxOpenFiles: 100 });
  assert.equal(p.supervisor, false);
  assert.deepEqual(p.toJSON().supervisor, false);
  assert.equal(Policy.fromJSON(JSON.stringify(p)).supervisor, false, "round trip");
  assert.equal(new Policy({}).supervisor, true);
  assert.equal("supervisor" in new Policy({}).toJSON(), false, "the default is not written");
  assert.equal(Policy.builder().supervisor(false).build().supervisor, false);
  assert.throws(() => new Policy({ supervisor: "no" as unknown as boolean }), /^PolicyError: supervisor: "no" is not a boolean/);
});

test("supervisor: false: no listener, nothing routed, the default maxProcesses unenforced", () => {
  const f = features({ fsReadable: ["/usr"] });
  assert.deepEqual(f.seccomp.notify, []);
  assert.equal(supervised(f), false);
  assert.deepEqual(f.supervision, {});
  const plan = makePlan(f, { path: "/usr/bin/true", argv: ["true"], env: {}, cwd: "/", ownProcessGroup: true });
  assert.equal(plan.steps.some((s) => s.op === Step.LISTENER), false);
  assert.equal(plan.steps.find((s) => s.op === Step.SECCOMP)?.describe, "seccomp(SET_MODE_FILTER)");
});

test("supervisor: false refuses a grant in procfs by name, leaves /proc out of a grant of /, and needs the fs protection and the signal scope", () => {
  assert.throws(() => features({ fsReadable: ["/usr", "/proc"] }), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.field, "fsReadable");
    assert.match(e.message, /^fsReadable: "\/proc" is in procfs \(\/proc\), whose view \(only the sandbox's own processes\) needs the seccomp supervisor; supervisor: false/);
    return true;
  });
  assert.throws(() => features({ fsReadable: ["/proc/cpuinfo"] }), /^PolicyError: fsReadable: "\/proc\/cpuinfo" is in procfs/);
  const f = features({ fsReadable: ["/"] });
  assert.equal(f.grants.some((g) => g.path === "/" || g.path.startsWith("/proc")), false, "neither /proc nor the list-only rule on / (which reaches /proc)");
  assert.ok(f.grants.some((g) => g.path === "/usr" && !g.writable), "the rest of / is granted");
  assert.ok(computeFeatures(new Policy({ fsReadable: ["/"] }), HOST).grants.some((g) => g.path === "/" && g.dirOnly), "control: with the supervisor / stays listable");
  assert.throws(() => features({ fsReadable: ["/usr"], protection: { disable: ["fs"] } }), /^PolicyError: supervisor: false needs the filesystem protection/);
  assert.throws(() => features({ fsReadable: ["/usr"], protection: { allowDegraded: ["scopes"] } }, { landlockAbi: 5, cpuCount: 2 }), (e: unknown) => {
    assert.ok(e instanceof ConfinementError);
    assert.equal(e.protection, "scopes");
    assert.match(e.message, /^supervisor: false needs Landlock's signal scope \(ABI 6\).*this kernel has ABI 5/);
    return true;
  });
});

test("the unsupervised filter: unix sockets, datagram pairs, netlink, interface and inode ioctls refused; metadata EPERM but times set to now", () => {
  const nr = (name: string): number => SYSCALLS[name]!;
  const prog = buildSeccompProgram(features({ fsReadable: ["/usr"] }).seccomp);
  const control = buildSeccompProgram(computeFeatures(new Policy({ fsReadable: ["/usr"] }), HOST).seccomp);
  const run = (p: typeof prog, name: string, args: number[]): number => runFilter(p, { nr: nr(name), args });
  for (const type of [1, 2, 5, 1 | 0o2000000]) assert.equal(run(prog, "socket", [1, type, 0]), EPERM, `AF_UNIX type ${type}`);
  assert.equal(run(control, "socket", [1, 1, 0]), ALLOW, "control: with the supervisor unix sockets are made");
  assert.equal(run(prog, "socket", [2, 1, 0]), ALLOW, "TCP");
  assert.equal(run(prog, "socket", [16, 3, 0]), EAFNOSUPPORT, "NETLINK_ROUTE");
  assert.equal(run(prog, "socketpair", [1, 2, 0]), EPERM, "datagram pair");
  assert.equal(run(prog, "socketpair", [1, 2 | 0o4000, 0]), EPERM, "datagram pair, nonblocking");
  assert.equal(run(prog, "socketpair", [1, 1, 0]), ALLOW, "stream pair");
  assert.equal(run(prog, "socketpair", [1, 5, 0]), ALLOW, "seqpacket pair");
  assert.equal(run(prog, "ioctl", [3, 0x8912, 0x1000]), EOPNOTSUPP, "SIOCGIFCONF");
  assert.equal(run(prog, "ioctl", [3, 0x40086602, 0x1000]), EPERM, "FS_IOC_SETFLAGS");
  assert.equal(run(prog, "ioctl", [3, 0x541b, 0x1000]), ALLOW, "FIONREAD");
  for (const name of META_SYSCALLS) assert.equal(run(prog, name, [3, 0x1000, 0x1000, 0]), EPERM, name);
  assert.equal(run(prog, "utimensat", [3, 0x1000, 0, 0]), ALLOW, "utimensat(times NULL)");
  assert.equal(run(prog, "utime", [0x1000, 0, 0]), ALLOW, "utime(times NULL)");
  assert.equal(run(prog, "utimensat", [3, 0, 0x1000, 0]), EPERM);
  assert.equal(run(prog, "clone", [0x11, 0, 0]), ALLOW, "fork: not counted");
  assert.equal(run(prog, "connect", [3, 0x1000, 16]), ALLOW, "connect: Landlock's");
});

test("the unsupervised filter refuses listen where TCP binds are restricted (an unbound socket's listen binds past Landlock), not where every port may be bound", () => {
  const nr = SYSCALLS.listen!;
  const EACCES = errno(13);
  const restricted = buildSeccompProgram(features({ fsReadable: ["/usr"] }).seccomp);
  assert.equal(runFilter(restricted, { nr, args: [3, 4] }), EACCES);
  const every = buildSeccompProgram(features({ fsReadable: ["/usr"], netAllowBind: ["*"] }).seccomp);
  assert.equal(runFilter(every, { nr, args: [3, 4] }), ALLOW, "every port: the kernel's choice is one of them");
  const control = buildSeccompProgram(computeFeatures(new Policy({ fsReadable: ["/usr"] }), HOST).seccomp);
  assert.equal(runFilter(control, { nr, args: [3, 4] }), 0x7fc00000, "control: with the supervisor listen goes to it (SECCOMP_RET_USER_NOTIF)");
});

test("the unsupervised filter refuses inotify watches (only the supervisor proves a path beneath a grant)", () => {
  const prog = buildSeccompProgram(features({ fsReadable: ["/usr"] }).seccomp);
  assert.equal(runFilter(prog, { nr: SYSCALLS.inotify_add_watch!, args: [3, 0x1000, 0x100] }), errno(13));
  assert.equal(runFilter(prog, { nr: SYSCALLS.inotify_init1!, args: [0] }), ALLOW, "an instance may be made");
});

test("--no-supervisor sets supervisor: false", () => {
  assert.deepEqual(parseRunArgs(["--no-supervisor", "--", "true"]).policy, { supervisor: false });
});
