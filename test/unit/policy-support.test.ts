// Fields that validate but are not enforced yet: each is refused with POLICY_UNSUPPORTED
// and its own reason, and the TCP-to-any-address netAllow rules are accepted.

import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyError, PolicyUnsupportedError } from "../../src/errors.js";
import { NOT_YET_ENFORCED, Policy, assertSupported, validatePolicy, type PolicyInput } from "../../src/policy/index.js";

function unsupported(input: PolicyInput, field: string, message: string): void {
  assert.throws(() => new Policy(input), (e: unknown) => {
    assert.ok(e instanceof PolicyUnsupportedError, `expected PolicyUnsupportedError, got ${String(e)}`);
    assert.ok(e instanceof PolicyError);
    assert.equal(e.code, "POLICY_UNSUPPORTED");
    assert.equal(e.field, field);
    assert.equal(e.message, message);
    return true;
  });
}

const SUP = "needs the seccomp supervisor";
const COW = "needs the copy-on-write workdir";
const CASES: readonly [PolicyInput, string, unknown, string][] = [
  [{ fsDenied: ["/etc/shadow"] }, "fsDenied", ["/etc/shadow"], `${SUP} (path checks on open; Landlock cannot deny inside a granted tree)`],
  [{ numCpus: 1 }, "numCpus", 1, `${SUP} (/proc/cpuinfo and sched_getaffinity virtualisation)`],
  [{ randomSeed: 0 }, "randomSeed", 0n, `${SUP} (getrandom and /dev/urandom)`],
  [{ timeStart: "2000-01-01T00:00:00Z" }, "timeStart", new Date("2000-01-01T00:00:00Z"), `${SUP} (clock virtualisation)`],
  [{ deterministicDirs: true }, "deterministicDirs", true, `${SUP} (sorted getdents)`],
  [{ name: "box" }, "name", "box", `${SUP} (uname and /etc/hostname)`],
  [{ workdir: "/w" }, "workdir", "/w", COW],
  [{ chroot: "/r" }, "chroot", "/r", `${SUP} (path virtualisation)`],
  [{ user: { uid: 0, gid: 0 } }, "user", { uid: 0, gid: 0 }, "needs user namespace id mapping"],
  [{ gpuDevices: "all" }, "gpuDevices", "all", "needs GPU device rules"],
  [{ gpuDevices: [0] }, "gpuDevices", [0], "needs GPU device rules"],
  [{ portRemap: true }, "portRemap", true, `${SUP} (bind virtualisation)`],
  [{ netDeny: ["10.0.0.0/8"] }, "netDeny", undefined, `${SUP} (destination checks on connect and sendto)`],
  [{ netDenyBind: [22] }, "netDenyBind", [{ lo: 22, hi: 22 }], `${SUP} (Landlock can only allow bind ports, not deny them)`],
];

for (const [input, field, value, why] of CASES) {
  test(`unsupported: ${JSON.stringify(input)}`, () => {
    unsupported(input, field, `${field}: not supported yet (${why})`);
    try {
      new Policy(input);
    } catch (e) {
      if (value !== undefined) assert.deepEqual((e as PolicyError).value, value);
    }
  });
}

test("unsupported: policyFn", () => {
  unsupported({ policyFn: () => "allow" }, "policyFn", `policyFn: not supported yet (${SUP} (dynamic policy))`);
});

// The COW-only fields can only be given with workdir, which is refused first; the table
// still has an entry each, checked here directly on validated fields.
test("unsupported: the workdir-only fields each have their own entry", () => {
  const base = validatePolicy({ workdir: "/w", fsStorage: "/s", maxDisk: "1G", onExit: "keep", onError: "commit", chroot: "/r", fsMount: { "/d": "/h" } });
  const fields = ["fsStorage", "maxDisk", "onExit", "onError", "fsMount"] as const;
  for (const field of fields) {
    const entry = NOT_YET_ENFORCED.find((e) => e.field === field);
    assert.ok(entry, field);
    assert.ok(entry.find(base), `${field} in use`);
    assert.equal(entry.find(validatePolicy({})), undefined, `${field} at its default`);
  }
  assert.equal(NOT_YET_ENFORCED.find((e) => e.field === "fsMount")!.find(base)!.why, `${SUP} (path virtualisation under chroot)`);
  assert.equal(NOT_YET_ENFORCED.find((e) => e.field === "onExit")!.find(base)!.why, COW);
  unsupported({ workdir: "/w", onExit: "keep" }, "workdir", `workdir: not supported yet (${COW})`);
});

test("defaults and explicit defaults of the unsupported fields are accepted", () => {
  const p = new Policy({
    fsDenied: [], deterministicDirs: false, portRemap: false, netDeny: [], netDenyBind: [], gpuDevices: [],
    noRandomizeMemory: true, noHugePages: true, noCoredump: true, cleanEnv: true, env: { A: "b" },
  });
  assert.equal(p.maxProcesses, 64);
  assert.equal(p.maxProcessesExplicit, false);
});

const NET = "the seccomp supervisor; only TCP to any address (tcp://:PORT) is enforced now";
const NET_CASES: readonly [string, string][] = [
  [":443", `rule ":443": UDP needs ${NET}; for TCP only write "tcp://:443"`],
  ["*", `rule "*": UDP needs ${NET}; for TCP only write "tcp://*"`],
  [":8080,8443", `rule ":8080,8443": UDP needs ${NET}; for TCP only write "tcp://:8080,8443"`],
  ["api.example.com:443", `rule "api.example.com:443": a host target and UDP need ${NET}`],
  ["tcp://api.example.com:443", `rule "tcp://api.example.com:443": a host target needs ${NET}`],
  ["tcp://1.1.1.1:443", `rule "tcp://1.1.1.1:443": an IP target needs ${NET}`],
  ["tcp://10.0.0.0/8:443", `rule "tcp://10.0.0.0/8:443": a CIDR target needs ${NET}`],
  ["tcp://[::1]:9000", `rule "tcp://[::1]:9000": an IP target needs ${NET}`],
  ["udp://:53", `rule "udp://:53": UDP needs ${NET}`],
  ["udp://1.1.1.1:53", `rule "udp://1.1.1.1:53": an IP target and UDP need ${NET}`],
  ["icmp://", `rule "icmp://": ICMP needs ${NET}`],
  ["icmp://8.8.8.8", `rule "icmp://8.8.8.8": an IP target and ICMP need ${NET}`],
];

for (const [raw, why] of NET_CASES) {
  test(`unsupported netAllow rule ${JSON.stringify(raw)}`, () => {
    unsupported({ netAllow: ["tcp://:80", raw] }, "netAllow", `netAllow: not supported yet (${why})`);
  });
}

test("TCP rules to any address are supported", () => {
  const p = new Policy({ netAllow: ["tcp://:443", "tcp://*:8080,8443", "tcp://*", "TCP://:1"] });
  assert.deepEqual(p.netAllow.map((r) => r.ports), [[443], [8080, 8443], "any", [1]]);
  assert.ok(p.netAllow.every((r) => r.target.kind === "any" && r.protocols.join() === "tcp"));
});

test("bind allowlists are supported", () => {
  const p = new Policy({ netAllowBind: [8080, "9000-9100", "*"] });
  assert.equal(p.netAllowBind.length, 3);
});

test("assertSupported is exported and works on validated fields", () => {
  assert.doesNotThrow(() => assertSupported(validatePolicy({ fsReadable: ["/usr"] })));
  assert.throws(() => assertSupported(validatePolicy({ user: { uid: 0, gid: 0 } })), PolicyUnsupportedError);
});

test("the builder reports unsupported fields the same way", () => {
  assert.throws(() => Policy.builder().user(1000, 1000).build(), {
    code: "POLICY_UNSUPPORTED",
    field: "user",
    message: "user: not supported yet (needs user namespace id mapping)",
  });
});
