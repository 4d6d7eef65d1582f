// The Policy class: construction from objects, the builder and JSON, immutability, the
// JSON round trip, and with().

import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyError } from "../../src/errors.js";
import {
  POLICY_FIELDS, PROTECTIONS, PROTECTION_ABI, PROTECTION_LABEL, Policy, PolicyBuilder, policyToJSON, validatePolicy,
  type PolicyInput,
} from "../../src/policy/index.js";

/** A policy using every field that is enforced today. */
const FULL: PolicyInput = {
  fsReadable: ["/usr", "/lib", "/etc/ssl/certs/ca.pem"],
  fsWritable: ["/tmp/work"],
  extraDenySyscalls: ["ptrace", "io_uring"],
  extraAllowSyscalls: ["sysv_ipc"],
  netAllow: ["tcp://:443", "tcp://*:8080,8443", "tcp://*"],
  netAllowBind: [8080, "9000-9010", "*"],
  maxOpenFiles: 256,
  cpuCores: [1, 0],
  noRandomizeMemory: true,
  noHugePages: true,
  noCoredump: true,
  cwd: "/tmp/work",
  cleanEnv: true,
  env: { PATH: "/usr/bin", LANG: "C.UTF-8" },
  protection: { allowDegraded: ["scopes", "ioctl-dev"], disable: ["fs-truncate"] },
};

function buildFull(): Policy {
  return Policy.builder()
    .fsRead("/usr", "/lib")
    .fsRead("/etc/ssl/certs/ca.pem")
    .fsWrite("/tmp/work")
    .denySyscalls("ptrace")
    .denySyscalls("io_uring")
    .allowSyscalls("sysv_ipc")
    .netAllow("tcp://:443", "tcp://*:8080,8443")
    .netAllow("tcp://*")
    .netAllowBind(8080, "9000-9010")
    .netAllowBind("*")
    .maxOpenFiles(256)
    .cpuCores(1, 0)
    .noRandomizeMemory()
    .noHugePages()
    .noCoredump()
    .cwd("/tmp/work")
    .cleanEnv()
    .env("PATH", "/usr/bin")
    .env({ LANG: "C.UTF-8" })
    .allowDegraded("scopes")
    .allowDegraded("ioctl-dev")
    .disable("fs-truncate")
    .build();
}

test("the empty policy has the defaults", () => {
  for (const p of [new Policy(), new Policy({}), Policy.from({}), Policy.builder().build()]) {
    assert.deepEqual(p.fsReadable, []);
    assert.deepEqual(p.netAllow, []);
    assert.equal(p.maxProcesses, 64);
    assert.equal(p.maxProcessesExplicit, false);
    assert.equal(p.onExit, "commit");
    assert.equal(p.onError, "abort");
    assert.equal(p.cleanEnv, false);
    assert.equal(p.timeStart, undefined);
    assert.deepEqual(p.protection, { allowDegraded: [], disable: [] });
    assert.deepEqual(p.toJSON(), {});
  }
});

test("object form exposes normalised fields", () => {
  const p = new Policy(FULL);
  assert.deepEqual(p.fsReadable, ["/usr", "/lib", "/etc/ssl/certs/ca.pem"]);
  assert.deepEqual(p.netAllow[1], {
    raw: "tcp://*:8080,8443", protocols: ["tcp"], target: { kind: "any" }, ports: [8080, 8443],
  });
  assert.deepEqual(p.netAllowBind, [{ lo: 8080, hi: 8080 }, { lo: 9000, hi: 9010 }, "any"]);
  assert.equal(p.maxOpenFiles, 256);
  assert.deepEqual(p.cpuCores, [1, 0]);
  assert.deepEqual(p.env, { PATH: "/usr/bin", LANG: "C.UTF-8" });
  assert.deepEqual(p.protection, { allowDegraded: ["scopes", "ioctl-dev"], disable: ["fs-truncate"] });
});

test("builder and object forms give equal policies", () => {
  const a = new Policy(FULL);
  const b = buildFull();
  assert.deepEqual(b, a);
  assert.deepEqual(b.toJSON(), a.toJSON());
  assert.ok(Policy.builder() instanceof PolicyBuilder);
});

test("builder validates at build with the object form's errors", () => {
  const builder = Policy.builder().fsRead("/usr").fsRead("relative");
  assert.throws(() => builder.build(), {
    name: "PolicyError", code: "POLICY_INVALID", field: "fsReadable",
    message: `fsReadable: "relative" is a relative path (an absolute path is needed)`,
  });
  assert.throws(() => Policy.builder().netAllow("host:").build(), { field: "netAllow", message: `netAllow: "host:" has an empty port list` });
  assert.throws(() => Policy.builder().maxCpu(0).build(), { field: "maxCpu" });
  assert.throws(() => Policy.builder().cpuCores().build(), { field: "cpuCores", message: "cpuCores: [] is empty (give at least one core)" });
  assert.throws(() => Policy.builder().allowDegraded("fs").disable("fs").build(), { field: "protection.disable" });
  assert.throws(() => Policy.builder().onExit("keep").build(), { field: "onExit", message: `onExit: "keep" requires workdir` });
  assert.throws(() => Policy.builder().env("A=B", "x").build(), { field: "env" });
});

test("every builder method maps to its field", () => {
  const fn = (): "deny" => "deny";
  const start = new Date("2024-01-01T00:00:00Z");
  const b = Policy.builder()
    .fsDeny("/etc/shadow").netDeny("10.0.0.0/8").netDenyBind(22).maxMemory("1G").maxProcesses(8)
    .maxCpu(50).numCpus(2).randomSeed(7n).timeStart(start).deterministicDirs()
    .name("box").workdir("/w").fsStorage("/s").maxDisk("2G").onExit("keep").onError("commit")
    .chroot("/r").fsMount("/data", "/srv/data").fsMount("/etc", "/srv/etc").user(1000, 100)
    .gpuDevices([0, 1]).portRemap().privateTmp().policyFn(fn).deterministicDirs(false);
  assert.deepEqual(b.toInput(), {
    fsDenied: ["/etc/shadow"], netDeny: ["10.0.0.0/8"], netDenyBind: [22], maxMemory: "1G", maxProcesses: 8,
    maxCpu: 50, numCpus: 2, randomSeed: 7n, timeStart: start, deterministicDirs: false,
    name: "box", workdir: "/w", fsStorage: "/s", maxDisk: "2G", onExit: "keep", onError: "commit",
    chroot: "/r", fsMount: { "/data": "/srv/data", "/etc": "/srv/etc" }, user: { uid: 1000, gid: 100 },
    gpuDevices: [0, 1], portRemap: true, privateTmp: true, policyFn: fn,
  });
  // Unsupported fields are refused at build, like in the object form, first in table order.
  assert.throws(() => b.build(), { code: "POLICY_UNSUPPORTED", field: "gpuDevices" });
  assert.deepEqual(Policy.builder().gpuDevices("all").toInput(), { gpuDevices: "all" });
});

test("a policy is immutable", () => {
  const p = new Policy(FULL);
  assert.ok(Object.isFrozen(p));
  assert.ok(Object.isFrozen(p.fsReadable));
  assert.ok(Object.isFrozen(p.netAllow) && Object.isFrozen(p.netAllow[0]));
  assert.ok(Object.isFrozen(p.netAllowBind[0]));
  assert.ok(Object.isFrozen(p.env) && Object.isFrozen(p.protection) && Object.isFrozen(p.protection.disable));
  assert.throws(() => { (p as { maxOpenFiles: number }).maxOpenFiles = 1; }, TypeError);
  assert.throws(() => { (p.fsReadable as string[]).push("/"); }, TypeError);
  assert.throws(() => { (p.env as Record<string, string>).X = "y"; }, TypeError);
});

test("the input is copied, not kept", () => {
  const input = { fsReadable: ["/usr"], env: { A: "1" } };
  const p = new Policy(input);
  input.fsReadable.push("/etc");
  input.env.A = "2";
  assert.deepEqual(p.fsReadable, ["/usr"]);
  assert.deepEqual(p.env, { A: "1" });
});

test("a reused builder is not affected by later calls", () => {
  const b = Policy.builder().fsRead("/usr");
  const first = b.build();
  b.fsRead("/etc");
  assert.deepEqual(first.fsReadable, ["/usr"]);
  assert.deepEqual(b.build().fsReadable, ["/usr", "/etc"]);
});

test("Policy.from returns an existing Policy; new Policy(policy) copies it", () => {
  const p = new Policy(FULL);
  assert.equal(Policy.from(p), p);
  const copy = new Policy(p);
  assert.notEqual(copy, p);
  assert.deepEqual(copy, p);
});

test("JSON round trip of every supported field", () => {
  const p = new Policy(FULL);
  const json = p.toJSON();
  assert.deepEqual(json, {
    fsReadable: ["/usr", "/lib", "/etc/ssl/certs/ca.pem"],
    fsWritable: ["/tmp/work"],
    extraDenySyscalls: ["ptrace", "io_uring"],
    extraAllowSyscalls: ["sysv_ipc"],
    netAllow: ["tcp://:443", "tcp://*:8080,8443", "tcp://*"],
    netAllowBind: [8080, "9000-9010", "*"],
    maxOpenFiles: 256,
    cpuCores: [1, 0],
    noRandomizeMemory: true,
    noHugePages: true,
    noCoredump: true,
    cwd: "/tmp/work",
    cleanEnv: true,
    env: { PATH: "/usr/bin", LANG: "C.UTF-8" },
    protection: { allowDegraded: ["scopes", "ioctl-dev"], disable: ["fs-truncate"] },
  });
  const text = JSON.stringify(p);
  const back = Policy.fromJSON(text);
  assert.deepEqual(back.toJSON(), json);
  assert.deepEqual(back, p);
  assert.deepEqual(Policy.fromJSON(JSON.parse(text) as object), p);
});

test("JSON round trip of every field, the not yet enforced ones included", () => {
  // Policy refuses the unsupported fields today, so this goes through the layers below it.
  const fields = validatePolicy({
    fsReadable: ["/usr"], fsWritable: ["/tmp"], fsDenied: ["/etc/shadow"],
    extraDenySyscalls: ["ptrace"], extraAllowSyscalls: ["sysv_ipc"],
    netDeny: ["10.0.0.0/8", "[fd00::/8]:443", "udp://1.1.1.1:53"], netAllowBind: [80, "1000-2000", "*"],
    maxMemory: "512M", maxProcesses: 64, maxOpenFiles: 10, maxCpu: 25, cpuCores: [0], numCpus: 4,
    randomSeed: (1n << 64n) - 1n, timeStart: "2030-06-01T12:00:00.5+02:00", deterministicDirs: true,
    noRandomizeMemory: true, noHugePages: true, noCoredump: true, name: "büro", workdir: "/w", cwd: "/w",
    fsStorage: "/var/cow", maxDisk: 3n << 30n, onExit: "keep", onError: "commit", chroot: "/r",
    fsMount: { "/data": "/srv/data" }, cleanEnv: true, env: { A: "1" }, user: { uid: 1, gid: 2 },
    gpuDevices: [1, 0], portRemap: true, policyFn: () => "audit", protection: { disable: ["scopes"] },
  });
  const json = policyToJSON(fields);
  assert.deepEqual(json, {
    fsReadable: ["/usr"], fsWritable: ["/tmp"], fsDenied: ["/etc/shadow"],
    extraDenySyscalls: ["ptrace"], extraAllowSyscalls: ["sysv_ipc"],
    netDeny: ["10.0.0.0/8", "[fd00::/8]:443", "udp://1.1.1.1:53"], netAllowBind: [80, "1000-2000", "*"],
    maxMemory: "536870912", maxProcesses: 64, maxOpenFiles: 10, maxCpu: 25, cpuCores: [0], numCpus: 4,
    randomSeed: "18446744073709551615", timeStart: "2030-06-01T10:00:00.500Z", deterministicDirs: true,
    noRandomizeMemory: true, noHugePages: true, noCoredump: true, name: "büro", workdir: "/w", cwd: "/w",
    fsStorage: "/var/cow", maxDisk: "3221225472", onExit: "keep", onError: "commit", chroot: "/r",
    fsMount: { "/data": "/srv/data" }, cleanEnv: true, env: { A: "1" }, user: { uid: 1, gid: 2 },
    gpuDevices: [1, 0], portRemap: true, protection: { disable: ["scopes"] },
  });
  const again = validatePolicy(JSON.parse(JSON.stringify(json)));
  assert.deepEqual(policyToJSON(again), json);
  assert.equal(again.maxProcessesExplicit, true);
  assert.equal(again.policyFn, undefined, "policyFn is not serialised");
  assert.deepEqual(policyToJSON(validatePolicy({ netDenyBind: ["*"], gpuDevices: "all", protection: { allowDegraded: ["fs"] } })), {
    netDenyBind: ["*"], gpuDevices: "all", protection: { allowDegraded: ["fs"] },
  });
});

test("toJSON leaves out defaults", () => {
  const p = new Policy({ fsReadable: [], noCoredump: false, cleanEnv: false, env: {}, protection: {}, gpuDevices: [] });
  assert.deepEqual(p.toJSON(), {});
});

test("fromJSON reports bad JSON and bad content as PolicyError", () => {
  assert.throws(() => Policy.fromJSON("{nope"), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.field, "json");
    assert.match(e.message, /^json: "\{nope" is not valid JSON \(.+\)$/);
    return true;
  });
  assert.throws(() => Policy.fromJSON(`{"maxCpu": 0}`), { field: "maxCpu", code: "POLICY_INVALID" });
  assert.throws(() => Policy.fromJSON("[]"), { field: "policy" });
  assert.throws(() => Policy.fromJSON(`{"policyFn": "x"}`), { field: "policyFn" });
});

test("with() replaces whole fields and revalidates", () => {
  const p = new Policy(FULL);
  const q = p.with({ fsReadable: ["/opt"], maxOpenFiles: undefined });
  assert.deepEqual(q.fsReadable, ["/opt"]);
  assert.equal(q.maxOpenFiles, undefined);
  assert.deepEqual(q.fsWritable, p.fsWritable);
  assert.deepEqual(p.fsReadable, ["/usr", "/lib", "/etc/ssl/certs/ca.pem"], "the original is unchanged");
  assert.throws(() => p.with({ netDeny: ["10.0.0.0/8"] }), { field: "netDeny", code: "POLICY_INVALID" });
  assert.throws(() => p.with({ maxCpu: 200 }), { field: "maxCpu" });
});

test("POLICY_FIELDS lists the fields of SPEC 2.1 in order", () => {
  // policyFnFiles is not in SPEC 2.1: the opt-in for policyFn's file events (SPEC 6's
  // openat events cost a round trip per open, so a callback asks for them), beside policyFn.
  // procView is not either: the choice between the kernel view and the supervised one
  // (docs/kernel-view.md), added with the kernel view, last. maxEpollWatches is not either:
  // the sandbox's share of the uid's epoll watches (docs/security.md), beside the other limits.
  assert.deepEqual(POLICY_FIELDS, [
    "fsReadable", "fsWritable", "fsDenied", "extraDenySyscalls", "extraAllowSyscalls", "netAllow", "netDeny",
    "netAllowBind", "netDenyBind", "maxMemory", "maxProcesses", "maxOpenFiles", "maxEpollWatches", "maxCpu", "cpuCores",
    "numCpus", "randomSeed", "timeStart", "deterministicDirs", "noRandomizeMemory", "noHugePages", "noCoredump", "name",
    "workdir", "cwd", "fsStorage", "maxDisk", "onExit", "onError", "chroot", "fsMount", "cleanEnv", "env", "user",
    "gpuDevices", "portRemap", "privateTmp", "protectedFiles", "policyFn", "policyFnFiles", "protection", "supervisor", "procView",
  ]);
});

test("protections follow section 7", () => {
  assert.deepEqual(PROTECTIONS, ["fs", "fs-refer", "fs-truncate", "net-tcp", "ioctl-dev", "scopes"]);
  assert.deepEqual(PROTECTIONS.map((p) => PROTECTION_ABI[p]), [1, 2, 3, 4, 5, 6]);
  for (const p of PROTECTIONS) assert.ok(PROTECTION_LABEL[p].length > 0);
});
