// The kernel-native view's plan (plan/kernel-view.ts): its switch, when a policy keeps the
// supervised view, the constructed root's operations, and what the filter then traps.

import assert from "node:assert/strict";
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { computeFeatures } from "../../src/plan/features.js";
import { KERNEL_VIEW_DEFAULT, kernelViewBlocked, kernelViewRequested, nsViewOps } from "../../src/plan/kernel-view.js";
import { Policy } from "../../src/policy/index.js";

const HOST = { landlockAbi: 6, cpuCount: 2 };

function withSwitch<T>(value: string | undefined, fn: () => T): T {
  const old = process.env.SANDLOCK_KERNEL_VIEW;
  if (value === undefined) delete process.env.SANDLOCK_KERNEL_VIEW;
  else process.env.SANDLOCK_KERNEL_VIEW = value;
  try {
    return fn();
  } finally {
    if (old === undefined) delete process.env.SANDLOCK_KERNEL_VIEW;
    else process.env.SANDLOCK_KERNEL_VIEW = old;
  }
}

test("the switch: 0 or 1, unset is the default, and any other value is refused by name", () => {
  assert.equal(withSwitch(undefined, kernelViewRequested), KERNEL_VIEW_DEFAULT);
  assert.equal(withSwitch("", kernelViewRequested), KERNEL_VIEW_DEFAULT);
  assert.equal(withSwitch("0", kernelViewRequested), false);
  assert.equal(withSwitch("1", kernelViewRequested), true);
  assert.throws(() => withSwitch("yes", kernelViewRequested), /SANDLOCK_KERNEL_VIEW: "yes" is neither 0 \(the supervised view\) nor 1/);
});

test("the policy's procView wins over the environment both ways", () => {
  const kernel = Policy.from({ fsReadable: ["/usr"], procView: "kernel" });
  const supervised = Policy.from({ fsReadable: ["/usr"], procView: "supervised" });
  assert.equal(withSwitch("0", () => kernelViewRequested(kernel)), true);
  assert.equal(withSwitch("1", () => kernelViewRequested(supervised)), false);
  // an invalid environment value is not read when the policy decides
  assert.equal(withSwitch("yes", () => kernelViewRequested(supervised)), false);
  const f = withSwitch("1", () => computeFeatures(supervised, HOST));
  assert.equal(f.kernelView, undefined, "procView supervised: the supervised view");
  assert.equal(f.kernelViewFallback, undefined, "a choice, not a fallback");
});

test("procView kernel where the view cannot apply fails the start naming why; unset falls back and says why", () => {
  const input = { fsReadable: ["/usr"], numCpus: 1 };
  assert.throws(() => computeFeatures(Policy.from({ ...input, procView: "kernel" }), HOST), (e: Error) => {
    assert.match(e.message, /^procView: "kernel" cannot apply: .+ \(leave procView unset to fall back to the supervised view\)$/);
    return true;
  });
  const f = withSwitch("1", () => computeFeatures(Policy.from(input), HOST));
  assert.equal(f.kernelView, undefined);
  assert.match(f.kernelViewFallback ?? "", /virtual files|namespace|seccomp/);
});

test("policies that keep the supervised view say why", () => {
  const g = (path: string, writable = false) => ({ path, isDir: true, writable });
  const p = (input: object) => Policy.from({ fsReadable: ["/usr"], ...input });
  assert.equal(kernelViewBlocked(p({}), true, [g("/usr"), g("/proc")], ["/proc"]), undefined);
  assert.match(kernelViewBlocked(p({ netAllow: ["127.0.0.1:80"] }), true, [g("/usr")], ["/proc"])!, /host network/);
  assert.match(kernelViewBlocked(p({ numCpus: 1 }), true, [g("/usr")], ["/proc"])!, /virtual files/);
  assert.match(kernelViewBlocked(p({}), false, [g("/usr")], ["/proc"])!, /filesystem protection/);
  assert.match(kernelViewBlocked(p({}), true, [g("/proc", true)], ["/proc"])!, /writable/);
  assert.match(kernelViewBlocked(p({}), true, [g("/")], ["/proc"])!, /a grant of \//);
  assert.match(kernelViewBlocked(p({}), true, [g("/proc/sys")], ["/proc"])!, /only \/proc as a whole/);
  assert.equal(kernelViewBlocked(p({}), true, [g("/dev")], ["/proc"]), undefined, "a read-only /dev opens no terminal");
  assert.match(kernelViewBlocked(p({ user: { uid: 4242, gid: 4343 } }), true, [g("/usr")], ["/proc"])!, /^user \(its id maps are written through \/proc\/self/);
  assert.match(kernelViewBlocked(p({}), true, [g("/dev", true)], ["/proc"])!, /^\/dev is writable and reaches \/dev\/ptmx \(pseudo-terminals need a devpts instance/);
  assert.match(kernelViewBlocked(p({}), true, [{ path: "/dev/ptmx", isDir: false, writable: true }], ["/proc"])!, /reaches \/dev\/ptmx/);
});

test("the constructed root: one bind per tree, symlinked ancestors, a fresh procfs with the hidden files covered, the name", (t) => {
  // A system link (a link in a directory only root can change: plan/grant-path.ts; links
  // elsewhere are not followed by grants at all), as most hosts have /lib -> usr/lib.
  if (!lstatSync("/lib").isSymbolicLink() || readlinkSync("/lib") !== "usr/lib") return t.skip("/lib is not a link to usr/lib here");
  const sub = readdirSync("/usr/lib", { withFileTypes: true }).find((d) => d.isDirectory());
  if (sub === undefined) return t.skip("/usr/lib has no subdirectory");
  const grants = [
    { path: "/lib", isDir: true, writable: false },
    { path: join("/usr/lib", sub.name), isDir: true, writable: true },
    { path: "/proc", isDir: true, writable: false },
  ];
  const cwd = mkdtempSync(join(tmpdir(), "sl-kview-cwd-"));
  const realCwd = realpathSync(cwd);
  const ops = nsViewOps(grants, "box", cwd);
  rmSync(cwd, { recursive: true });
  assert.deepEqual(ops.filter((o) => o[0] === "B"), [["B", "/usr/lib"]], "the sub-grant needs no bind of its own");
  assert.ok(ops.some((o) => o[0] === "L" && o[1] === "/lib" && o[2] === "usr/lib"));
  assert.ok(ops.some((o) => o[0] === "P" && o[1] === "/proc"));
  assert.ok(ops.some((o) => o[0] === "H" && o[1] === "/proc/kallsyms"));
  assert.ok(ops.some((o) => o[0] === "H" && o[1] === "/proc/locks"), "the host's open-file-description locks show in every pid namespace");
  assert.ok(ops.some((o) => o[0] === "D" && o[1] === realCwd), "an ungranted working directory exists, empty");
  // One the host lacks is not made up: the chdir step fails with ENOENT, as in the supervised view.
  assert.ok(!nsViewOps(grants, "box", "/nonexistent-cwd").some((o) => o[0] === "D" && o[1] === "/nonexistent-cwd"));
  assert.ok(ops.some((o) => o[0] === "N" && o[1] === "box"));
  // The sandbox's user namespace gets half of each per-user inotify limit of the caller's.
  for (const limit of ["max_inotify_instances", "max_inotify_watches"]) {
    const callers = Number(readFileSync(`/proc/sys/user/${limit}`, "latin1").trim());
    assert.deepEqual(ops.filter((o) => o[0] === "U" && o[1] === limit), [["U", limit, String(Math.max(1, Math.floor(callers / 2)))]]);
  }
});

test("under the kernel view nothing of the /proc view or the hostname is trapped", () => {
  const policy = Policy.from({ fsReadable: ["/usr", "/etc", "/proc"], name: "box" });
  const off = withSwitch("0", () => computeFeatures(policy, HOST));
  const on = withSwitch("1", () => computeFeatures(policy, HOST));
  for (const call of ["open", "openat", "openat2", "creat", "getdents64", "uname"]) {
    assert.ok(off.seccomp.notify.includes(call), `supervised view traps ${call}`);
    if (on.kernelView !== undefined) assert.ok(!on.seccomp.notify.includes(call), `kernel view does not trap ${call}`);
  }
  // This host may refuse user namespaces (then the reason is given, never a weaker view).
  assert.ok(on.kernelView !== undefined || typeof on.kernelViewFallback === "string");
});
