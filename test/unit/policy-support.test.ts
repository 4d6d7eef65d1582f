// Fields that validate but are not enforced yet: each is refused with POLICY_UNSUPPORTED
// and its own reason; every network rule form is accepted.

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

const CASES: readonly [PolicyInput, string, unknown, string][] = [
  [{ gpuDevices: "all" }, "gpuDevices", "all", "GPU device rules are not built yet"],
  [{ gpuDevices: [0] }, "gpuDevices", [0], "GPU device rules are not built yet"],
  [{ netDenyBind: [22] }, "netDenyBind", [{ lo: 22, hi: 22 }], "the supervisor does not check bind yet, and Landlock can only allow bind ports, not deny them"],
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

// The copy-on-write workdir (docs/cow.md) and chroot with fsMount (docs/chroot.md) are built:
// their fields are accepted.
test("the workdir fields, chroot and fsMount are accepted", () => {
  for (const field of ["workdir", "fsStorage", "maxDisk", "onExit", "onError", "chroot", "fsMount"]) assert.equal(NOT_YET_ENFORCED.find((e) => e.field === field), undefined, field);
  assert.equal(new Policy({ workdir: "/w", fsStorage: "/s", maxDisk: "1G", onExit: "keep", onError: "commit" }).maxDisk, 1n << 30n);
  const p = new Policy({ chroot: "/r", fsMount: { "/d": "/h", "/e": "/h2:ro" } });
  assert.deepEqual(p.fsMount, { "/d": "/h", "/e": "/h2:ro" });
});

test("defaults and explicit defaults of the unsupported fields are accepted", () => {
  const p = new Policy({
    fsDenied: [], deterministicDirs: false, portRemap: false, netDeny: [], netDenyBind: [], gpuDevices: [],
    noRandomizeMemory: true, noHugePages: true, noCoredump: true, cleanEnv: true, env: { A: "b" },
  });
  assert.equal(p.maxProcesses, 64);
  assert.equal(p.maxProcessesExplicit, false);
});

// Every form of the rule grammar (SPEC 2.1.1) is enforced now, by Landlock or the supervisor.
test("every netAllow rule form is supported", () => {
  const rules = [":443", "*", ":8080,8443", "api.example.com:443", "tcp://api.example.com:443", "tcp://1.1.1.1:443",
    "tcp://10.0.0.0/8:443", "tcp://[::1]:9000", "udp://:53", "udp://1.1.1.1:53", "icmp://", "icmp://8.8.8.8", "[fd00::/8]"];
  assert.equal(new Policy({ netAllow: rules }).netAllow.length, rules.length);
});

test("netDeny is supported", () => {
  const p = new Policy({ netDeny: ["10.0.0.0/8", "udp://192.168.0.0/16", "[fd00::/8]:443", "icmp://8.8.8.8"] });
  assert.equal(p.netDeny.length, 4);
});

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
  assert.throws(() => assertSupported(validatePolicy({ gpuDevices: "all" })), PolicyUnsupportedError);
});

test("the builder reports unsupported fields the same way", () => {
  assert.throws(() => Policy.builder().gpuDevices("all").build(), {
    code: "POLICY_UNSUPPORTED",
    field: "gpuDevices",
    message: "gpuDevices: not supported yet (GPU device rules are not built yet)",
  });
});

test("no refusal says it needs the seccomp supervisor, which has shipped", () => {
  const base = validatePolicy({ workdir: "/w", fsStorage: "/s", maxDisk: "1G", onExit: "keep", onError: "commit", chroot: "/r", fsMount: { "/d": "/h" } });
  for (const entry of NOT_YET_ENFORCED) {
    const why = entry.find(base)?.why ?? "";
    assert.doesNotMatch(why, /needs the seccomp supervisor/, entry.field);
  }
  for (const [, , , why] of CASES) assert.doesNotMatch(why, /needs the seccomp supervisor/);
});
