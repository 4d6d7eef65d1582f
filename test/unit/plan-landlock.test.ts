// The Landlock plan per host ABI (handled rights, path and port rules, scopes), and the
// reconciliation of a policy's protections with the host: strict by default, degradable
// or disabled per protection, and PolicyErrors for paths and CPUs that do not exist.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfinementError, PolicyError } from "../../src/errors.js";
import { PROTECTIONS, Policy, type PolicyInput, type Protection } from "../../src/policy/index.js";
import { hardOpenFiles } from "../../src/kernel/probe.js";
import { computeFeatures, reconcileProtections, type HostFacts } from "../../src/plan/features.js";
import { FS, NET, SCOPE, handledFsRights, landlockNeeded, planLandlock, type ActiveSet } from "../../src/plan/landlock.js";

// Rights written out from the kernel's uapi, not taken from src/ (checked against it below).
const R = {
  EXECUTE: 0x1n, WRITE_FILE: 0x2n, READ_FILE: 0x4n, READ_DIR: 0x8n, MAKE_CHAR: 0x40n, MAKE_BLOCK: 0x800n, REFER: 0x2000n, TRUNCATE: 0x4000n, IOCTL_DEV: 0x8000n,
} as const;
const ABI1 = 0x1fffn; // the 13 rights of ABI 1
const BIND = 0x1n;
const CONNECT = 0x2n;
const SCOPES = 0x3n; // abstract unix socket | signal
const READ = R.EXECUTE | R.READ_FILE | R.READ_DIR;
const FILE = R.EXECUTE | R.WRITE_FILE | R.READ_FILE | R.TRUNCATE | R.IOCTL_DEV;

/** Handled filesystem rights per ABI. */
const HANDLED_FS: Record<number, bigint> = {
  1: ABI1,
  2: ABI1 | R.REFER,
  3: ABI1 | R.REFER | R.TRUNCATE,
  4: ABI1 | R.REFER | R.TRUNCATE,
  5: ABI1 | R.REFER | R.TRUNCATE | R.IOCTL_DEV,
  6: ABI1 | R.REFER | R.TRUNCATE | R.IOCTL_DEV,
  7: ABI1 | R.REFER | R.TRUNCATE | R.IOCTL_DEV,
};

const TMP = mkdtempSync(join(tmpdir(), "sandlock-plan-landlock-"));
const TMP_FILE = join(TMP, "data.txt");
writeFileSync(TMP_FILE, "x");
after(() => rmSync(TMP, { recursive: true, force: true }));

const host = (landlockAbi: number, cpuCount = 2): HostFacts => ({ landlockAbi, cpuCount });
const DEGRADE_ALL = { allowDegraded: [...PROTECTIONS] };

function activeAt(abi: number): ActiveSet {
  return computeFeatures(new Policy({ protection: DEGRADE_ALL }), host(abi)).active;
}

test("the right constants have the kernel's values", () => {
  assert.equal(FS.EXECUTE, R.EXECUTE);
  assert.equal(FS.WRITE_FILE, R.WRITE_FILE);
  assert.equal(FS.READ_FILE, R.READ_FILE);
  assert.equal(FS.READ_DIR, R.READ_DIR);
  assert.equal(FS.MAKE_SYM, 0x1000n);
  assert.equal(FS.REFER, R.REFER);
  assert.equal(FS.TRUNCATE, R.TRUNCATE);
  assert.equal(FS.IOCTL_DEV, R.IOCTL_DEV);
  assert.equal(Object.values(FS).reduce((a, b) => a | b, 0n), 0xffffn);
  assert.deepEqual({ ...NET }, { BIND_TCP: BIND, CONNECT_TCP: CONNECT });
  assert.deepEqual({ ...SCOPE }, { ABSTRACT_UNIX_SOCKET: 1n, SIGNAL: 2n });
});

test("handled filesystem rights per ABI 1..7", () => {
  for (let abi = 1; abi <= 7; abi++) {
    const handled = handledFsRights(activeAt(abi));
    assert.equal(handled.toString(16), HANDLED_FS[abi]!.toString(16), `ABI ${abi}`);
  }
  assert.equal(ABI1.toString(2), "1".repeat(13), "13 rights");
  assert.equal(handledFsRights(activeAt(0)), 0n, "no Landlock");
  assert.equal(handledFsRights(new Set<Protection>(["fs-refer", "fs-truncate", "ioctl-dev"])), 0n, "nothing without fs");
  assert.equal(handledFsRights(new Set<Protection>(["fs", "ioctl-dev"])), ABI1 | R.IOCTL_DEV);
});

test("the enforcement per ABI: active up to the host's ABI, degraded above it", () => {
  const need: Record<Protection, number> = { "fs": 1, "fs-refer": 2, "fs-truncate": 3, "net-tcp": 4, "ioctl-dev": 5, "scopes": 6 };
  for (let abi = 0; abi <= 7; abi++) {
    const e = reconcileProtections(new Policy({ protection: DEGRADE_ALL }), host(abi));
    for (const p of PROTECTIONS) assert.equal(e[p], abi >= need[p] ? "active" : "degraded", `${p} at ABI ${abi}`);
    assert.ok(Object.isFrozen(e));
  }
});

/** A policy with every kind of grant; the tests below read its plan at each ABI. */
const FULL: PolicyInput = {
  fsReadable: ["/usr", "/etc/hostname"],
  fsWritable: [TMP, TMP_FILE],
  netAllow: ["tcp://:443", "tcp://:80,443"],
  netAllowBind: [8080, 443, "9000-9001"],
  protection: DEGRADE_ALL,
};

function planAt(abi: number, input: PolicyInput = FULL): ReturnType<typeof planLandlock> {
  const f = computeFeatures(new Policy(input), host(abi));
  return planLandlock(f.active, f.grants, f.net);
}

test("path rules per ABI: read grants, write grants, single files", () => {
  for (let abi = 1; abi <= 7; abi++) {
    const plan = planAt(abi);
    const handled = HANDLED_FS[abi]!;
    assert.equal(plan.handledFs, handled, `ABI ${abi}`);
    assert.deepEqual(
      plan.paths.map((p) => [p.path, p.access.toString(16)]),
      [
        ["/usr", READ.toString(16)],
        ["/etc/hostname", (R.EXECUTE | R.READ_FILE).toString(16)],
        // Writable trees get every handled right but making device nodes.
        [TMP, (handled & ~(R.MAKE_CHAR | R.MAKE_BLOCK)).toString(16)],
        [TMP_FILE, (handled & FILE).toString(16)],
      ],
      `ABI ${abi}`,
    );
    // Device nodes stay handled, so Landlock refuses them everywhere.
    assert.equal(handled & (R.MAKE_CHAR | R.MAKE_BLOCK), R.MAKE_CHAR | R.MAKE_BLOCK, `ABI ${abi}`);
    for (const p of plan.paths) assert.equal(p.access & (R.MAKE_CHAR | R.MAKE_BLOCK), 0n, `${p.path} at ABI ${abi}: no device nodes`);
    // Every rule stays inside the handled rights (otherwise landlock_add_rule is EINVAL).
    for (const p of plan.paths) assert.equal(p.access & ~handled, 0n, `${p.path} at ABI ${abi}`);
    assert.ok(landlockNeeded(plan));
  }
  // The file rights present at each ABI.
  assert.equal(planAt(1).paths[3]!.access, R.EXECUTE | R.WRITE_FILE | R.READ_FILE);
  assert.equal(planAt(3).paths[3]!.access, R.EXECUTE | R.WRITE_FILE | R.READ_FILE | R.TRUNCATE);
  assert.equal(planAt(5).paths[3]!.access, FILE);
  // Refer only in writable directories.
  assert.equal(planAt(7).paths.filter((p) => (p.access & R.REFER) !== 0n).map((p) => p.path).join(), TMP);
});

test("net rules: handled only with net-tcp (ABI 4+), ports merged and sorted", () => {
  for (let abi = 1; abi <= 7; abi++) {
    const plan = planAt(abi);
    if (abi < 4) {
      assert.equal(plan.handledNet, 0n, `ABI ${abi}`);
      assert.deepEqual(plan.ports, [], `ABI ${abi}`);
      continue;
    }
    assert.equal(plan.handledNet, BIND | CONNECT, `ABI ${abi}`);
    assert.deepEqual(plan.ports, [
      { port: 80, access: CONNECT },
      { port: 443, access: CONNECT | BIND },
      { port: 8080, access: BIND },
      { port: 9000, access: BIND },
      { port: 9001, access: BIND },
    ]);
  }
});

test("net rules: a list that is \"any\" is not handled", () => {
  const bindOnly = planAt(7, { netAllow: ["tcp://*"], netAllowBind: [22, 22] });
  assert.equal(bindOnly.handledNet, BIND);
  assert.deepEqual(bindOnly.ports, [{ port: 22, access: BIND }]);
  const connectOnly = planAt(7, { netAllow: ["tcp://:5432"], netAllowBind: ["*", 80] });
  assert.equal(connectOnly.handledNet, CONNECT);
  assert.deepEqual(connectOnly.ports, [{ port: 5432, access: CONNECT }]);
  const neither = planAt(7, { netAllow: ["tcp://:443", "tcp://*"], netAllowBind: ["*"] });
  assert.equal(neither.handledNet, 0n);
  assert.deepEqual(neither.ports, []);
  // No rules at all: both handled and nothing granted, so no TCP at all.
  const none = planAt(7, {});
  assert.equal(none.handledNet, BIND | CONNECT);
  assert.deepEqual(none.ports, []);
  // Disabled net-tcp: nothing handled even on ABI 7.
  const off = planAt(7, { netAllow: ["tcp://:443"], protection: { disable: ["net-tcp"] } });
  assert.equal(off.handledNet, 0n);
  assert.deepEqual(off.ports, []);
});

test("planLandlock merges ports given in any order and sorts them", () => {
  const plan = planLandlock(new Set<Protection>(["net-tcp"]), [], { connect: [443, 80, 443], bind: [80, 22] });
  assert.deepEqual(plan.ports, [
    { port: 22, access: BIND },
    { port: 80, access: CONNECT | BIND },
    { port: 443, access: CONNECT },
  ]);
  assert.equal(plan.handledFs, 0n);
  assert.deepEqual(plan.paths, []);
  assert.ok(landlockNeeded(plan));
});

test("scopes only at ABI 6 and later", () => {
  for (let abi = 1; abi <= 7; abi++) assert.equal(planAt(abi).scoped, abi >= 6 ? SCOPES : 0n, `ABI ${abi}`);
  assert.equal(planAt(7, { protection: { disable: ["scopes"] } }).scoped, 0n);
});

test("nothing to restrict without Landlock (degraded everything on ABI 0)", () => {
  const plan = planAt(0);
  assert.deepEqual(plan, { handledFs: 0n, handledNet: 0n, scoped: 0n, paths: [], ports: [] });
  assert.equal(landlockNeeded(plan), false);
});

function confinement(abi: number, input: PolicyInput, protection: Protection, required: number): void {
  for (const fn of [() => reconcileProtections(new Policy(input), host(abi)), () => computeFeatures(new Policy(input), host(abi))]) {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ConfinementError, `expected ConfinementError, got ${String(e)}`);
      assert.equal(e.code, "CONFINEMENT_UNAVAILABLE");
      assert.equal(e.protection, protection);
      assert.equal(e.requiredAbi, required);
      assert.equal(e.hostAbi, abi);
      assert.equal(e.step, undefined);
      assert.match(e.message, new RegExp(`protection "${protection}"`));
      assert.match(e.message, new RegExp(`needs Landlock ABI ${required}`));
      assert.match(e.message, abi === 0 ? /this kernel has no Landlock/ : new RegExp(`this kernel has ABI ${abi}\\b`));
      assert.match(e.message, new RegExp(`allowDegraded.*${protection}`));
      return true;
    }, `ABI ${abi}: ${protection}`);
  }
}

test("strict by default: the first protection the host lacks throws ConfinementError", () => {
  confinement(0, {}, "fs", 1);
  confinement(1, {}, "fs-refer", 2);
  confinement(2, {}, "fs-truncate", 3);
  confinement(3, { fsReadable: ["/usr"] }, "net-tcp", 4);
  confinement(4, {}, "ioctl-dev", 5);
  confinement(5, {}, "scopes", 6);
  // Degrading one protection does not relax the others.
  confinement(3, { protection: { allowDegraded: ["net-tcp"] } }, "ioctl-dev", 5);
  confinement(3, { protection: { allowDegraded: ["scopes", "ioctl-dev"] } }, "net-tcp", 4);
  confinement(5, { protection: { disable: ["ioctl-dev"] } }, "scopes", 6);
  for (const abi of [6, 7, 8]) assert.equal(Object.values(reconcileProtections(new Policy(), host(abi))).every((s) => s === "active"), true);
});

test("allowDegraded makes a missing protection \"degraded\", disable makes it \"disabled\"", () => {
  const e = reconcileProtections(new Policy({ protection: { allowDegraded: ["net-tcp", "ioctl-dev"], disable: ["scopes"] } }), host(3));
  assert.deepEqual({ ...e }, {
    "fs": "active", "fs-refer": "active", "fs-truncate": "active", "net-tcp": "degraded", "ioctl-dev": "degraded", "scopes": "disabled",
  });
  // allowDegraded on a supported protection leaves it active; disable turns it off anyway.
  const on7 = reconcileProtections(new Policy({ protection: { allowDegraded: ["net-tcp"], disable: ["fs-refer", "fs"] } }), host(7));
  assert.deepEqual({ ...on7 }, {
    "fs": "disabled", "fs-refer": "disabled", "fs-truncate": "active", "net-tcp": "active", "ioctl-dev": "active", "scopes": "active",
  });
  const f = computeFeatures(new Policy({ fsReadable: ["/usr"], protection: { disable: ["fs"] } }), host(7));
  assert.equal(f.enforcement.fs, "disabled");
  assert.ok(!f.active.has("fs"));
  assert.ok(f.active.has("scopes"));
  const plan = planLandlock(f.active, f.grants, f.net);
  assert.equal(plan.handledFs, 0n);
  assert.deepEqual(plan.paths, []);
  // Disabling every protection on a host without Landlock is allowed.
  const none = reconcileProtections(new Policy({ protection: { disable: [...PROTECTIONS] } }), host(0));
  assert.ok(Object.values(none).every((s) => s === "disabled"));
});

function policyError(input: PolicyInput, hostFacts: HostFacts, field: string, message: RegExp): void {
  assert.throws(() => computeFeatures(new Policy(input), hostFacts), (e: unknown) => {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    assert.equal(e.code, "POLICY_INVALID");
    assert.equal(e.field, field);
    assert.match(e.message, message);
    return true;
  });
}

test("a missing fsReadable or fsWritable path is a PolicyError naming it", () => {
  const missing = join(TMP, "no-such-dir");
  policyError({ fsReadable: ["/usr", missing] }, host(7), "fsReadable", new RegExp(`fsReadable: "${missing}" does not exist`));
  policyError({ fsWritable: [missing] }, host(7), "fsWritable", new RegExp(`fsWritable: "${missing}" does not exist`));
  // Below a regular file: ENOTDIR, reported the same way.
  policyError({ fsReadable: ["/etc/hostname/x"] }, host(7), "fsReadable", /"\/etc\/hostname\/x" does not exist/);
  assert.throws(() => computeFeatures(new Policy({ fsReadable: [missing] }), host(7)), (e: unknown) => e instanceof PolicyError && e.value === missing);
});

test("cpuCores beyond the host's CPUs is a PolicyError", () => {
  policyError({ cpuCores: [0, 2] }, host(7, 2), "cpuCores", /cpuCores: CPU 2 does not exist on this host \(CPUs 0-1\)/);
  policyError({ cpuCores: [5] }, host(7, 4), "cpuCores", /CPU 5 does not exist.*CPUs 0-3/);
  const f = computeFeatures(new Policy({ cpuCores: [1, 0] }), host(7, 2));
  assert.deepEqual([...f.cpuCores!].sort(), [0, 1]);
});

test("features carry the grants, the seccomp spec and the rlimits of the policy", () => {
  const f = computeFeatures(new Policy({
    fsReadable: ["/usr", "/etc/hostname"], extraDenySyscalls: ["getpid"], extraAllowSyscalls: ["sysv_ipc"],
    maxOpenFiles: 64, noCoredump: true,
  }), host(7));
  assert.deepEqual(f.grants, [
    { path: "/usr", isDir: true, writable: false },
    { path: "/etc/hostname", isDir: false, writable: false },
  ]);
  assert.ok(f.seccomp.blocked.includes("getpid"));
  assert.ok(f.seccomp.blocked.includes("mount"));
  assert.ok(!f.seccomp.blocked.includes("shmget"));
  assert.equal(f.seccomp.allowUdp, false);
  assert.equal(f.seccomp.allowPing, false);
  assert.deepEqual(f.rlimits.map((r) => [r.name, r.cur, r.max]), [["RLIMIT_NOFILE", 64n, 64n], ["RLIMIT_CORE", 0n, 0n]]);
  assert.deepEqual(f.adjustments, []);
});

test("maxOpenFiles above the caller's hard limit is applied at the hard limit and reported", () => {
  const f = computeFeatures(new Policy({ maxOpenFiles: 5000 }), { ...host(7), openFilesHardLimit: 4096n });
  assert.deepEqual(f.rlimits.map((r) => [r.name, r.cur, r.max]), [["RLIMIT_NOFILE", 4096n, 4096n]]);
  assert.deepEqual(f.adjustments, [{ field: "maxOpenFiles", requested: 5000, applied: 4096, reason: "above this process's hard RLIMIT_NOFILE (4096)" }]);
  const within = computeFeatures(new Policy({ maxOpenFiles: 4096 }), { ...host(7), openFilesHardLimit: 4096n });
  assert.deepEqual(within.rlimits.map((r) => r.cur), [4096n]);
  assert.deepEqual(within.adjustments, []);
});

test("the hard RLIMIT_NOFILE is read from /proc/self/limits", () => {
  const text = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
  assert.equal(hardOpenFiles(text), 524288n);
  assert.equal(hardOpenFiles(text.replace("524288", "unlimited")), null);
  assert.equal(hardOpenFiles("garbage"), null);
  assert.equal(typeof hardOpenFiles(), "bigint");
});
