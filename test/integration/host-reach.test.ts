// What uid 0 without capabilities, and any user, still reached of the host (second review
// of issue 9), each attack run for real inside a sandbox as root and as the test user,
// with a positive control: device nodes under grants on /dev or /, sysfs and cgroup files
// under writable grants, pseudo-terminals held outside, /proc files naming host processes,
// and capget of any process.

import assert from "node:assert/strict";
import { closeSync, constants, existsSync, openSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { test } from "node:test";
import type { CaseOutcome } from "../helpers/case-types.js";
import { answer, byView, scriptCase, securityCase, type Who } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";
import { usernsUnavailable } from "../../src/plan/kernel-view.js";

const probe = (...args: string[]): string[] => ["${PROBE}", ...args];
const BASE = { fsReadable: ["${PROBE}"] };
const HOST_SCRIPT = "dist/test/scripts/host-case.js";

interface HostSpec {
  holder?: string[];
  policy: Record<string, unknown>;
  cmd: string[];
  bare?: boolean;
}
interface HostOut {
  held?: string;
  holderPid?: number;
  sandboxed?: { status: string; exitCode: number | null; stdout: string; stderr: string };
  bare?: { stdout: string };
  error?: string;
}
function hostCase(name: string, spec: HostSpec, check: (out: HostOut, who: Who) => void): void {
  scriptCase(name, HOST_SCRIPT, ["${PROBE}", JSON.stringify(spec)], (out: HostOut, who) => {
    assert.equal(out.error, undefined, out.error);
    check(out, who);
  });
}

const byWho = (root: string, user: string) => (o: CaseOutcome, who: Who): void => assert.equal(answer(o), who === "root" ? root : user);

// --- Device nodes. ---------------------------------------------------------------------
// Root inside holds no capability, but it owns root's device nodes, whose file modes are
// all the kernel checks on open: under a grant on / it read the host's disk.

/** A block device of root's that root can open outside any sandbox: the one holding "/"
 * (every file of the host) where the host lets it be opened, else another (loop, zram).
 * Not running as root, the disk of "/" (the test user's file mode forbids it anyway). */
function hostDisk(): string | undefined {
  const dev = BigInt(statSync("/").dev);
  const candidates: string[] = [];
  try {
    const name = readlinkSync(`/sys/dev/block/${(dev >> 8n) & 0xfffn}:${(dev & 0xffn) | ((dev >> 12n) & ~0xffn)}`).split("/").pop()!;
    candidates.push(`/dev/${name}`);
  } catch {
    // "/" is not on a block device (an overlay)
  }
  for (const n of readdirSync("/dev").sort()) candidates.push(`/dev/${n}`);
  return candidates.find((p) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined || !st.isBlockDevice() || st.uid !== 0 || (st.mode & 0o077) !== 0) return false;
    if (!isRoot) return true;
    try {
      closeSync(openSync(p, constants.O_RDONLY | constants.O_NONBLOCK));
      return true;
    } catch {
      return false; // the host refuses it even to root (a device cgroup, a mounted disk)
    }
  });
}
const DISK = hostDisk();

if (DISK !== undefined) {
  securityCase(`a read grant on / does not open a block device of the host (${DISK})`, { policy: { fsReadable: ["/"] }, cmd: probe("red-devopen", DISK) }, (o) => assert.equal(answer(o), "EACCES"));
  securityCase(`positive control: unsandboxed, root opens ${DISK} (the test user's file mode forbids it)`, { policy: BASE, cmd: probe("red-devopen", DISK), scenario: "bare" }, byWho("ok", "EACCES"));
  securityCase(`a device node named by a grant is the policy's choice: ${DISK} opens for root`, { policy: { fsReadable: ["${PROBE}", "/dev", DISK] }, cmd: probe("red-devopen", DISK) }, byWho("ok", "EACCES"));
}

const ALLOWED = new Set(["null", "zero", "full", "random", "urandom", "tty", "ptmx"].map((n) => `/dev/${n}`));
function onlyAllowlisted(o: CaseOutcome): void {
  const m = /^opened (.*)\nnodes (\d+) refused (\d+)$/m.exec(o.result?.stdout ?? "");
  assert.ok(m, `stdout: ${o.result?.stdout} stderr: ${o.result?.stderr}`);
  const opened = m[1] === "-" ? [] : m[1]!.split(" ");
  for (const p of opened) assert.ok(ALLOWED.has(p), `${p} opened`);
  assert.ok(opened.includes("/dev/null") && opened.includes("/dev/urandom"), `opened: ${m[1]}`);
  // The scan saw the host's other nodes and was refused them.
  assert.equal(Number(m[3]), Number(m[2]) - opened.length);
  assert.ok(Number(m[3]) > 0, "no other device node to try");
}
securityCase("under a read grant on / only the allowlisted device nodes of /dev open (every other node tried)", { policy: { fsReadable: ["/"] }, cmd: probe("dev-scan", "/dev"), timeout: 30_000 }, onlyAllowlisted);
securityCase("under a writable grant on / the same", { policy: { fsWritable: ["/"] }, cmd: probe("dev-scan", "/dev"), timeout: 30_000 }, onlyAllowlisted);

// /dev/kmsg is readable by everyone on hosts with dmesg_restrict 0: the kernel log.
const dmesgRestricted = readFileSync("/proc/sys/kernel/dmesg_restrict", "utf8").trim() !== "0";
if (!existsSync("/dev/kmsg")) test("/dev/kmsg cases", { skip: "no /dev/kmsg on this host" }, () => undefined);
// EACCES from Landlock, or ENOENT under the kernel view (a node off the allowlist is not bound).
else securityCase("/dev/kmsg is off the allowlist: a read grant on /dev does not open it", { policy: { fsReadable: ["${PROBE}", "/dev"] }, cmd: probe("red-devopen", "/dev/kmsg") }, (o) => assert.equal(answer(o), byView(o, "EACCES", "ENOENT")));
if (existsSync("/dev/kmsg")) securityCase(`positive control: a grant naming /dev/kmsg reaches it (the kernel answers: ${dmesgRestricted ? "EPERM, dmesg_restrict" : "ok"})`, { policy: { fsReadable: ["${PROBE}", "/dev/kmsg"] }, cmd: probe("red-devopen", "/dev/kmsg") }, (o) =>
  assert.equal(answer(o), dmesgRestricted ? "EPERM" : "ok"),
);

// Pseudo-terminals: every user owns its other terminals (a login's, another sandbox's), so
// no terminal of devpts gets a Landlock rule; the supervisor opens the sandbox's own.
hostCase(
  "a pseudo-terminal held outside the sandbox by the same user is not opened by its name (writable /dev)",
  { holder: ["hold-pty"], policy: { fsReadable: ["${PROBE}"], fsWritable: ["/dev"] }, cmd: ["${PROBE}", "red-devopen", "/dev/pts/${HELD}"], bare: true },
  (out) => {
    assert.match(out.held ?? "", /^\d+$/);
    assert.equal(out.sandboxed?.stdout, "EACCES\n", out.sandboxed?.stderr);
    assert.equal(out.bare?.stdout, "ok\n", "control: unsandboxed, the same user opens it");
  },
);
// A writable grant reaching /dev/ptmx keeps the supervised view, the declared fallback
// (plan/kernel-view.ts): the kernel view has no devpts instance of its own yet.
securityCase("positive control: the sandbox opens the terminal it made through /dev/ptmx by its name (writable /dev)", { policy: { fsReadable: ["${PROBE}"], fsWritable: ["/dev"] }, cmd: probe("pty-own") }, (o) => {
  assert.equal(answer(o), "ok");
  assert.equal(o.observed.procView, "supervised", "a writable /dev falls back to the supervised view");
});
securityCase("positive control: the same under a writable grant on /", { policy: { fsWritable: ["/"] }, cmd: probe("pty-own") }, (o) => assert.equal(answer(o), "ok"));

// --- sysfs and cgroup files under writable grants. ---------------------------------------

const PRINTK_TIME = "/sys/module/printk/parameters/time";
if (!existsSync(PRINTK_TIME)) test("sysfs attribute cases", { skip: `${PRINTK_TIME} does not exist on this host` }, () => undefined);
else securityCase("a writable / grant does not make sysfs attributes writable (printk's time parameter, its own value written back)", { policy: { fsWritable: ["/"] }, cmd: probe("red-sysctl", PRINTK_TIME) }, (o) =>
  assert.equal(answer(o), "open EACCES"),
);
if (existsSync(PRINTK_TIME)) securityCase("positive control: unsandboxed, root writes it (the test user's file mode forbids it)", { policy: BASE, cmd: probe("red-sysctl", PRINTK_TIME), scenario: "bare" }, byWho("ok", "open EACCES"));

/** The cgroup.procs of the cgroup this process is in (v1 pids hierarchy, else v2). */
function ownCgroupProcs(): string | undefined {
  const lines = readFileSync("/proc/self/cgroup", "utf8").trim().split("\n").map((l) => l.split(":"));
  const pids = lines.find((l) => l[1]!.split(",").includes("pids"));
  const candidates = pids ? [`/sys/fs/cgroup/pids${pids[2]}`] : [];
  const v2 = lines.find((l) => l[0] === "0" && l[1] === "");
  if (v2) candidates.push(`/sys/fs/cgroup${v2[2]}`, `/sys/fs/cgroup/unified${v2[2]}`);
  return candidates.map((d) => `${d.replace(/\/$/, "")}/cgroup.procs`).find((f) => existsSync(f));
}
const CGROUP_PROCS = ownCgroupProcs();
if (CGROUP_PROCS !== undefined) {
  // Writing "0" moves the writer into the cgroup it is in already: harmless, and it shows
  // whether any process could have been moved out of its limits.
  securityCase(`a writable / grant does not move processes between cgroups (${CGROUP_PROCS})`, { policy: { fsWritable: ["/"] }, cmd: probe("cg-move", CGROUP_PROCS) }, (o) => assert.equal(answer(o), "open EACCES"));
  securityCase("positive control: unsandboxed, root writes cgroup.procs (the test user's file mode forbids it)", { policy: BASE, cmd: probe("cg-move", CGROUP_PROCS), scenario: "bare" }, byWho("ok", "open EACCES"));
}
securityCase("a writable grant on a cgroup hierarchy is refused with a PolicyError naming the field and the path", { policy: { fsReadable: ["${PROBE}"], fsWritable: ["/sys/fs/cgroup"] }, cmd: probe("exit", "0") }, (o) => {
  assert.equal(o.error?.name, "PolicyError");
  assert.match(o.error?.message ?? "", /^fsWritable: "\/sys\/fs\/cgroup" is in \S+ \(\/sys(\/fs\/cgroup)?\), a kernel interface: never writable from a sandbox/);
});

// --- /proc files that name host processes. --------------------------------------------

const PROC = { fsReadable: ["${PROBE}", "/proc"] };
const lockPids = (text: string): number[] => text.split("\n").filter((l) => /^\d+:/.test(l)).map((l) => Number(l.replace(/^\d+:\s+(->\s+)?\S+\s+\S+\s+\S+\s+/, "").split(/\s+/)[0]));
const meOf = (text: string): number => Number(/^me (\d+)$/m.exec(text)?.[1]);

// In the kernel view /proc/locks is an empty file (plan/kernel-view.ts): the kernel lists
// every open-file-description lock of the host in each pid namespace (pid -1, no owner to
// translate), found 2026-12-07 when a CI run's other file held 50,000 of them. The
// supervised view serves the sandbox's own lines.
for (const view of ["kernel", "supervised"] as const) {
  hostCase(
    `/proc/locks in the ${view} view ${view === "kernel" ? "is empty" : "shows the sandbox's own lock"}: not a lock held outside`,
    { holder: ["hold-lock", "${DIR}/held"], policy: { ...PROC, fsWritable: ["${DIR}"], procView: view }, cmd: ["${PROBE}", "lock-cat", "${DIR}/mine", "/proc/locks"], bare: true },
    (out) => {
      const text = out.sandboxed?.stdout ?? "";
      const me = meOf(text);
      assert.ok(me > 0, text + (out.sandboxed?.stderr ?? ""));
      assert.deepEqual(lockPids(text), view === "kernel" ? [] : [me], text);
      assert.ok(lockPids(out.bare?.stdout ?? "").includes(out.holderPid!), `control: unsandboxed, the holder's lock is listed\n${out.bare?.stdout}`);
    },
  );
}
const ofdLocks = (text: string): string[] => text.split("\n").filter((l) => /^\d+:\s+(->\s+)?OFDLCK\s/.test(l));
// (Also by another spelling of the path: the same file of the same procfs.)
for (const [view, path] of [["kernel", "/proc/locks"], ["kernel", "/proc/self/../locks"], ["supervised", "/proc/locks"]] as const) {
  hostCase(
    `/proc/locks in the ${view} view does not show an open-file-description lock held outside (read as ${path})`,
    { holder: ["hold-ofd-lock", "${DIR}/held"], policy: { ...PROC, fsWritable: ["${DIR}"], procView: view }, cmd: ["${PROBE}", "lock-cat", "${DIR}/mine", path], bare: true },
    (out) => {
      const text = out.sandboxed?.stdout ?? "";
      assert.ok(meOf(text) > 0, text + (out.sandboxed?.stderr ?? ""));
      assert.ok(ofdLocks(out.bare?.stdout ?? "").length > 0, `control: unsandboxed, the holder's lock is listed\n${out.bare?.stdout}`);
      assert.deepEqual(ofdLocks(text), [], text);
    },
  );
}

const shmIds = (text: string): string[] => text.split("\n").slice(1).filter((l) => /^\s*\d+\s+\d+/.test(l)).map((l) => l.trim().split(/\s+/)[1]!);
hostCase(
  "/proc/sysvipc/shm does not list a segment held outside (SysV IPC blocked: header only)",
  { holder: ["hold-shm"], policy: PROC, cmd: ["${PROBE}", "shm-cat"], bare: true },
  (out) => {
    const text = out.sandboxed?.stdout ?? "";
    assert.match(text, /^shmget EPERM\nme \d+\n\s+key\s+shmid/, text);
    assert.deepEqual(shmIds(text.slice(text.indexOf("\n", text.indexOf("me ")) + 1)), []);
    assert.ok(out.bare?.stdout.split("\n").some((l) => l.trim().split(/\s+/)[1] === out.held), `control: unsandboxed, segment ${out.held} is listed\n${out.bare?.stdout}`);
  },
);
hostCase(
  "positive control: with SysV IPC lifted the sandbox's own segment is listed, still not the one held outside",
  { holder: ["hold-shm"], policy: { ...PROC, extraAllowSyscalls: ["sysv_ipc"] }, cmd: ["${PROBE}", "shm-cat"] },
  (out) => {
    const text = out.sandboxed?.stdout ?? "";
    const me = meOf(text);
    const rows = text.split("\n").filter((l) => /^\s*\d+\s+\d+\s+\d+/.test(l)).map((l) => l.trim().split(/\s+/));
    assert.equal(rows.length, 1, text);
    assert.equal(Number(rows[0]![4]), me, "cpid is the probe");
    assert.notEqual(rows[0]![1], out.held);
  },
);

// --- capget of another process. ----------------------------------------------------------
// The pid is in the header, in memory: the kernel answered for any process of the host
// (its capability sets, and ESRCH or not: whether the pid exists).

/** pid 1's effective set as the kernel shows it in /proc, formatted as the probe prints. */
function initCaps(): string {
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/1/status", "utf8"))![1]!;
  const prm = /^CapPrm:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/1/status", "utf8"))![1]!;
  return `eff ${BigInt(`0x${eff}`).toString(16)} prm ${BigInt(`0x${prm}`).toString(16)}`;
}
const INIT_CAPS = initCaps();

// Under the kernel view pid 1 is the sandbox's init, not a host process: its sets are empty
// (it is confined like the command, no capability), and no host pid can be named at all.
securityCase("capget does not read the capability sets of a host process (pid 1)", { policy: BASE, cmd: probe("capget", "1") }, (o) => assert.equal(answer(o), byView(o, "EPERM", "eff 0 prm 0")));
securityCase(`positive control: unsandboxed, the same user reads them (${INIT_CAPS})`, { policy: BASE, cmd: probe("capget", "1"), scenario: "bare" }, (o) => assert.equal(answer(o), INIT_CAPS));

/** A pid no process can hold: pid_max itself (pids run from 1 to pid_max - 1). A free pid
 * picked at load time could be taken by the time the case runs (pids wrap on a machine
 * that starts many processes), which made the bare control see EPERM once. */
const FREE = readFileSync("/proc/sys/kernel/pid_max", "utf8").trim();
// Under the kernel view the pid names nothing in the sandbox's own pid namespace: ESRCH tells
// only that (no host process can be named there, so no oracle about the host's).
securityCase("capget of a pid no process holds: EPERM as for any outside pid (no existence oracle)", { policy: BASE, cmd: probe("capget", FREE) }, (o) => assert.equal(answer(o), byView(o, "EPERM", "ESRCH")));
securityCase("positive control: unsandboxed, ESRCH tells the pid is free", { policy: BASE, cmd: probe("capget", FREE), scenario: "bare" }, (o) => assert.equal(answer(o), "ESRCH"));

securityCase("positive control: capget of the sandbox's own child answers (no capabilities)", { policy: BASE, cmd: probe("capget", "child") }, (o) => assert.equal(answer(o), "eff 0 prm 0"));
for (const [args, want] of [
  [["0"], "eff 0 prm 0"],
  [["v1", "0"], "eff 0 prm 0"],
  [["nodata", "1"], "ok version 20080522"],
  [["badversion", "1"], "EINVAL version 20080522"],
] as const) {
  securityCase(`capget ${args.join(" ")} answers as the kernel does: ${want}`, { policy: BASE, cmd: probe("capget", ...args) }, (o) => assert.equal(answer(o), want));
}
securityCase("positive control: unsandboxed, the kernel answers the version checks alike", { policy: BASE, cmd: probe("capget", "badversion", "1"), scenario: "bare" }, (o) => assert.equal(answer(o), "EINVAL version 20080522"));

// A sibling thread rewrites the header's pid between 0 and 1 while capget runs: were the
// header read again after the check, some answers would carry pid 1's sets.
const raceCounts = (o: CaseOutcome): { wins: number; own: number; refused: number } => {
  const m = /^wins (\d+) own (\d+) refused (\d+)$/.exec(answer(o));
  assert.ok(m, `stdout: ${o.result?.stdout}`);
  return { wins: Number(m[1]), own: Number(m[2]), refused: Number(m[3]) };
};
// The supervisor's check of capget's header (pinned): under the kernel view pid 1 is the init.
securityCase("a thread switching capget's header to pid 1 never gets pid 1's sets (20,000 calls)", { policy: { ...BASE, procView: "supervised" }, cmd: probe("capget-race", "1", "20000"), timeout: 60_000 }, (o) => {
  const r = raceCounts(o);
  assert.equal(r.wins, 0);
  assert.ok(r.own > 0 && r.refused > 0, `both sides of the switch were seen: ${JSON.stringify(r)}`);
});
// (200,000 calls, about 0.2 s bare: 20,000 saw no win once beside a loaded CI machine's
// other tests, the switching thread seldom running between the check and the read.)
securityCase("positive control: unsandboxed, the same race reads pid 1's sets", { policy: BASE, cmd: probe("capget-race", "1", "200000"), scenario: "bare" }, (o) => assert.ok(raceCounts(o).wins > 0, JSON.stringify(raceCounts(o))));

// --- Start-up. -----------------------------------------------------------------------------
// Splitting grants gives rules on entries of live directories (/dev, /): an entry gone
// between planning and launch needs no rule, and must not fail the start.
// A granted directory swapped for a symbolic link between planning and launch (by another
// process that can write its parent): the rule is opened at the path planning resolved,
// without following links, so the start fails; following the link would have granted its
// target (a file there read). Control: the same plan, nothing swapped, reads its own file.
// Both views: the supervised view's Landlock rule opens the path following no link; the
// kernel view's bind did follow it (mount(2)) and bound the link's target at the granted
// path, where the rule then granted it; its bind now opens the path the same way (ns.c).
for (const view of ["supervised", "kernel"] as const) {
  if (view === "kernel" && usernsUnavailable() !== undefined) {
    test(`a granted directory swapped for a symlink (${view} view)`, { skip: `no kernel view here: ${usernsUnavailable()}` }, () => undefined);
    continue;
  }
  scriptCase(`a granted directory swapped for a symlink between planning and launch fails the start, never grants the link's target (${view} view)`, "dist/test/scripts/swapped-case.js", ["${PROBE}", view], (o: { control: { code?: number; out?: string; error?: string }; swapped: { code?: number; out?: string; error?: string } }) => {
    assert.deepEqual(o.control, { code: 0, out: "ok\n" }, JSON.stringify(o.control));
    assert.equal(o.swapped.out, undefined, `the target was read: ${JSON.stringify(o.swapped)}`);
    assert.match(o.swapped.error ?? "", /ConfinementError: .*ELOOP/);
    assert.match(o.swapped.error ?? "", /became a symbolic link since it was planned/);
    if (view === "kernel") assert.match(o.swapped.error ?? "", /^ConfinementError: namespaces and constructed root/);
  });
}

scriptCase("a granted path gone between planning and launch gets no rule; the command starts and the other rules hold", "dist/test/scripts/vanished-case.js", ["${PROBE}"], (out: { code?: number; out?: string; error?: string }) => {
  assert.equal(out.error, undefined, out.error);
  assert.deepEqual(out, { code: 0, out: "ok\n" });
});
