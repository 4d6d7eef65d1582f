// chroot's planning (plan/chroot.ts): virtual paths resolved in the root as the sandbox will
// resolve them, planned host paths mapped back to the sandbox's, the split around /proc and
// /dev, the payload, and the kernel view's fallback.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { chrootHostPath, chrootPayload, chrootVirtualPath, normalizeVirtual, resolveInRoot, splitAroundBinds, type ChrootSpec } from "../../src/plan/chroot.js";
import { computeFeatures } from "../../src/plan/features.js";
import { Policy } from "../../src/policy/index.js";

function root(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "sandlock-chroot-unit-"));
  for (const d of ["etc", "usr/lib", "proc", "dev", "data", "tmp"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "etc", "f"), "");
  symlinkSync("/usr/lib", join(dir, "lib")); // absolute: from the root
  symlinkSync("../../../../etc", join(dir, "up")); // ".." stops at the root
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test("normalizeVirtual: \".\" and \"..\" as the sandbox sees them, \"..\" at the root staying there", () => {
  assert.equal(normalizeVirtual("/a/./b/../c"), "/a/c");
  assert.equal(normalizeVirtual("/../../x"), "/x");
  assert.equal(normalizeVirtual("//"), "/");
});

test("resolveInRoot: absolute symlinks from the root, \"..\" clamped, missing paths undefined", () => {
  const r = root();
  try {
    assert.equal(resolveInRoot(r.dir, "/lib"), join(r.dir, "usr/lib"));
    assert.equal(resolveInRoot(r.dir, "/up/f"), join(r.dir, "etc/f"));
    assert.equal(resolveInRoot(r.dir, "/../../etc/f"), join(r.dir, "etc/f"));
    assert.equal(resolveInRoot(r.dir, "/nope"), undefined);
  } finally {
    r.done();
  }
});

test("host paths and back: mounts, the bound /proc and /dev, paths nothing reaches", () => {
  const spec: ChrootSpec = { root: "/srv/r", mounts: [{ virtual: "/data", host: "/home/me/d", readOnly: true }], proc: true, dev: false };
  assert.equal(chrootHostPath(spec, "/proc/self/status"), "/proc/self/status");
  assert.equal(chrootVirtualPath(spec, "/srv/r"), "/");
  assert.equal(chrootVirtualPath(spec, "/srv/r/etc/f"), "/etc/f");
  assert.equal(chrootVirtualPath(spec, "/home/me/d/x"), "/data/x");
  assert.equal(chrootVirtualPath(spec, "/proc/1"), "/proc/1");
  assert.equal(chrootVirtualPath(spec, "/dev/null"), undefined, "/dev is not bound");
  assert.equal(chrootVirtualPath(spec, "/etc/passwd"), undefined, "the host's own files are not in the namespace");
  assert.equal(chrootVirtualPath(spec, "/srv/rx"), undefined);
});

test("a grant above /proc is split around it: directory rights on the root, the grant's on every other entry, none on /proc", () => {
  const r = root();
  try {
    const spec: ChrootSpec = { root: r.dir, mounts: [], proc: true, dev: false, bindPoints: [join(r.dir, "proc")] };
    const out = splitAroundBinds(spec, [{ path: r.dir, isDir: true, writable: true }, { path: join(r.dir, "etc"), isDir: true, writable: false }]);
    const byPath = new Map(out.map((g) => [g.path, g]));
    assert.deepEqual(byPath.get(r.dir), { path: r.dir, isDir: true, writable: true, dirOnly: true });
    assert.equal(byPath.get(join(r.dir, "proc")), undefined);
    assert.equal(byPath.get(join(r.dir, "lib")), undefined, "a symlink: the rule of what it leads to");
    for (const d of ["usr", "dev", "data", "tmp"]) assert.equal(byPath.get(join(r.dir, d))?.writable, true, d);
    assert.ok(out.some((g) => g.path === join(r.dir, "etc") && !g.writable), "a grant not above a bind point is kept");
  } finally {
    r.done();
  }
});

test("the payload: ids, flags, root, then each mount's mode, virtual and host path", () => {
  const p = chrootPayload({ root: "/r", mounts: [{ virtual: "/d", host: "/h", readOnly: true }, { virtual: "/w", host: "/hw", readOnly: false }], proc: true, dev: true }, 5, 6);
  assert.deepEqual([p.readUInt32LE(0), p.readUInt32LE(4), p.readUInt32LE(8)], [5, 6, 3]);
  assert.equal(p.subarray(16).toString(), "/r\0r\0/d\0/h\0w\0/w\0/hw\0\0");
});

test("the kernel view falls back to the supervised view under a chroot, naming it", () => {
  const r = root();
  const old = process.env.SANDLOCK_KERNEL_VIEW;
  process.env.SANDLOCK_KERNEL_VIEW = "1";
  try {
    const f = computeFeatures(Policy.from({ chroot: r.dir, fsReadable: ["/"] }), { landlockAbi: 6, cpuCount: 2 });
    assert.equal(f.kernelView, undefined);
    assert.ok(f.chroot !== undefined);
    // a host refusing user namespaces names that first; otherwise the chroot
    assert.match(f.kernelViewFallback ?? "", /chroot \(its root is built in a mount namespace of the launcher's\)|namespace|seccomp/);
  } catch (e) {
    // a host without namespaces refuses the chroot itself, by name
    assert.match((e as Error).message, /chroot: the root .* and this host refuses it/);
  } finally {
    if (old === undefined) delete process.env.SANDLOCK_KERNEL_VIEW;
    else process.env.SANDLOCK_KERNEL_VIEW = old;
    r.done();
  }
});
