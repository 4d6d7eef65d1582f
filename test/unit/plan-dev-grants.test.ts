// Grants that contain a device tree (plan/dev-grants.ts) and kernel-interface filesystems
// (plan/kernel-fs-grants.ts), on a fake filesystem: which rules Landlock gets, what stays
// as granted, and the PolicyErrors for writable grants into sysfs or cgroups.

import assert from "node:assert/strict";
import { test } from "node:test";
import { PolicyError } from "../../src/errors.js";
import { parseMounts, type MountEntry } from "../../src/kernel/mounts.js";
import { DEVICE_ALLOWLIST, deviceTrees, limitDevices, multiplexerGrants } from "../../src/plan/dev-grants.js";
import { kernelFs, readOnlyKernelFs } from "../../src/plan/kernel-fs-grants.js";
import type { PathGrant } from "../../src/plan/landlock.js";
import type { EntryType, FsView } from "../../src/plan/proc-grants.js";
import { computeView } from "../../src/plan/view.js";
import { terminalIndex } from "../../src/supervise/handlers/dev-ptmx.js";

const TREE: Record<string, Record<string, EntryType>> = {
  "/": { dev: "dir", sys: "dir", proc: "dir", etc: "dir", tmp: "dir" },
  "/dev": {
    null: "device", zero: "device", full: "device", random: "device", urandom: "device", tty: "device",
    ptmx: "symlink", tty1: "device", vda: "device", kmsg: "device", console: "device", initctl: "fifo",
    log: "socket", core: "symlink", fd: "symlink", stdin: "symlink", shm: "dir", pts: "dir", dri: "dir", disk: "dir", "notes.txt": "file",
  },
  "/dev/pts": { ptmx: "device", "0": "device", "3": "device" },
  "/dev/shm": { "sem.x": "file" },
  "/dev/dri": { card0: "device", renderD128: "device", "by-path": "dir" },
  "/dev/dri/by-path": { "pci-card": "symlink" },
  "/dev/disk": { "by-id": "dir" },
  "/dev/disk/by-id": { "virtio-root": "symlink" },
  "/sys": { fs: "dir", kernel: "dir", module: "dir" },
  "/sys/fs": { cgroup: "dir" },
  "/sys/fs/cgroup": { pids: "dir" },
  "/sys/kernel": { debug: "dir", tracing: "dir", mm: "dir" },
  "/proc": { sys: "dir", meminfo: "file", "1": "dir" },
  "/etc": { passwd: "file" },
  "/tmp": {},
};
const REAL: Record<string, string> = { "/dev/ptmx": "/dev/pts/ptmx", "/dev/core": "/proc/kcore", "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0" };
const TYPES: Record<string, EntryType> = {};
for (const [dir, entries] of Object.entries(TREE)) {
  for (const [name, type] of Object.entries(entries)) TYPES[dir === "/" ? `/${name}` : `${dir}/${name}`] = type;
}

const fakeFs: FsView = {
  realpath: (p) => {
    if (REAL[p] !== undefined) return REAL[p]!;
    if (p !== "/" && TYPES[p] === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
    return p;
  },
  list: (dir, wanted) => Object.entries(TREE[dir] ?? {}).filter(([name]) => wanted(name)).map(([name, type]) => ({ name, type })),
};

const MOUNTINFO = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw",
  "24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw",
  "25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw",
  "26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw",
  "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
  "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw",
  "32 31 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
  "33 23 0:30 / /sys/kernel/tracing rw,relatime - tracefs tracefs rw",
  "34 27 0:31 / /run/cg2 rw,relatime - cgroup2 cgroup2 rw",
].join("\n");
const TABLE: MountEntry[] = parseMounts(MOUNTINFO);
const TREES = deviceTrees(TABLE, "/dev");
const K = kernelFs(TABLE);

const read = (path: string, isDir = true): PathGrant => ({ path, isDir, writable: false });
const write = (path: string, isDir = true): PathGrant => ({ path, isDir, writable: true });
const listOnly = (path: string): PathGrant => ({ path, isDir: true, writable: false, dirOnly: true });

test("the mount table: points and types, the device trees and the kernel filesystems of it", () => {
  assert.deepEqual(TABLE[3], { point: "/dev/shm", fstype: "tmpfs" });
  assert.deepEqual(TREES, { roots: ["/dev"], keep: ["/dev/shm"], devpts: ["/dev/pts"] });
  // /sys/fs/cgroup/pids is inside sysfs: its read-only rule covers it. tracefs is hidden,
  // and so are the usual debugfs and tracefs mount points (automounted on first access).
  assert.deepEqual(kernelFs(TABLE), { readOnly: [{ point: "/sys", fstype: "sysfs" }, { point: "/run/cg2", fstype: "cgroup2" }], hidden: ["/sys/kernel/tracing", "/sys/kernel/debug"] });
  assert.deepEqual(kernelFs(TABLE, () => false).hidden, ["/sys/kernel/tracing"]);
  // A devtmpfs mounted elsewhere is a device tree of its own.
  const more = deviceTrees([...TABLE, { point: "/mnt/dev", fstype: "devtmpfs" }], "/dev");
  assert.deepEqual(more.roots, ["/dev", "/mnt/dev"]);
});

/** The rules a read-only grant on /dev gives: listing of each directory, the allowlist. */
const DEV_READ: PathGrant[] = [
  listOnly("/dev"),
  read("/dev/null", false),
  read("/dev/zero", false),
  read("/dev/full", false),
  read("/dev/random", false),
  read("/dev/urandom", false),
  read("/dev/tty", false),
  read("/dev/log", false),
  read("/dev/shm"),
  listOnly("/dev/pts"),
  listOnly("/dev/dri"),
  listOnly("/dev/dri/by-path"),
  listOnly("/dev/disk"),
  listOnly("/dev/disk/by-id"),
  read("/dev/notes.txt", false),
];

const sorted = (g: PathGrant[]): PathGrant[] => [...g].sort((a, b) => a.path.localeCompare(b.path));

test("a grant on /dev reaches the allowlist's nodes only; data mounts, files and sockets stay; FIFOs, other nodes and links get nothing", () => {
  const out = limitDevices([read("/dev")], TREES, fakeFs);
  assert.deepEqual(sorted(out.grants), sorted(DEV_READ));
  for (const name of ["tty1", "vda", "kmsg", "console", "initctl", "pts/0", "pts/3", "dri/card0", "dri/renderD128"]) {
    assert.ok(!out.grants.some((g) => g.path === `/dev/${name}`), name);
  }
  assert.deepEqual(out.pts, { mounts: ["/dev/pts"], writable: false });
  assert.deepEqual(DEVICE_ALLOWLIST, ["null", "zero", "full", "random", "urandom", "tty", "ptmx"]);
  // The multiplexer gets no rule: the supervisor serves its opens by name, counted
  // (handlers/dev-ptmx.ts); /dev/ptmx is a link to devpts's here.
  assert.ok(!out.grants.some((g) => g.path.endsWith("ptmx")), JSON.stringify(out.grants));
  assert.deepEqual(out.ptmx, [{ name: "/dev/ptmx", node: "/dev/pts/ptmx", writable: false }, { name: "/dev/pts/ptmx", node: "/dev/pts/ptmx", writable: false }]);
  // Without a supervisor the rule comes back (nothing counts then).
  assert.deepEqual(multiplexerGrants(out.ptmx), [read("/dev/pts/ptmx", false)]);
  assert.deepEqual(multiplexerGrants([...out.ptmx, { name: "/dev/ptmx", node: "/dev/pts/ptmx", writable: true }]), [write("/dev/pts/ptmx", false)]);
});

test("a multiplexer named by a grant is served too; a node of that name outside a device tree is a file", () => {
  const out = limitDevices([write("/dev/ptmx", false), read("/dev/null", false)], TREES, fakeFs);
  assert.deepEqual(out.grants, [read("/dev/null", false)]);
  assert.deepEqual(out.ptmx, [{ name: "/dev/ptmx", node: "/dev/pts/ptmx", writable: true }]);
  const named = limitDevices([read("/dev/pts/ptmx", false)], TREES, fakeFs);
  assert.deepEqual([named.grants, named.ptmx], [[], [{ name: "/dev/pts/ptmx", node: "/dev/pts/ptmx", writable: false }]]);
  // A directory's listing rule named ptmx is not a node.
  assert.deepEqual(limitDevices([listOnly("/dev/ptmx")], TREES, fakeFs).ptmx, []);
});

test("a writable grant on /dev: the same nodes, writable; its directories may only be listed (no unlinking the host's nodes)", () => {
  const out = limitDevices([write("/dev")], TREES, fakeFs);
  for (const g of out.grants) {
    if (g.dirOnly) assert.equal(g.writable, false, g.path);
    else assert.equal(g.writable, true, g.path);
  }
  assert.deepEqual(out.grants.filter((g) => !g.dirOnly).map((g) => g.path).sort(), DEV_READ.filter((g) => !g.dirOnly).map((g) => g.path).sort());
  assert.deepEqual(out.pts, { mounts: ["/dev/pts"], writable: true });
  assert.deepEqual(out.ptmx.map((m) => m.writable), [true, true]);
});

test("a grant on / is split down to /dev; its other entries keep the grant", () => {
  const out = limitDevices([read("/")], TREES, fakeFs);
  assert.deepEqual(out.grants.slice(0, 1), [listOnly("/")]);
  for (const p of ["/sys", "/proc", "/etc", "/tmp"]) assert.ok(out.grants.some((g) => g.path === p && !g.dirOnly), p);
  assert.deepEqual(sorted(out.grants.filter((g) => g.path.startsWith("/dev"))), sorted(DEV_READ));
});

test("a device node named by a grant is the policy's choice and keeps its rule; a directory of the tree is split", () => {
  const named = [read("/dev/dri/renderD128", false), write("/dev/vda", false)];
  assert.deepEqual(limitDevices(named, TREES, fakeFs).grants, named);
  const dri = limitDevices([read("/dev/dri")], TREES, fakeFs);
  assert.deepEqual(dri.grants, [listOnly("/dev/dri"), listOnly("/dev/dri/by-path")]);
  assert.equal(dri.pts, undefined);
  // Only the tree's root has an allowlist: /dev/pts's nodes are the supervisor's to serve.
  const pts = limitDevices([write("/dev/pts")], TREES, fakeFs);
  assert.deepEqual(pts.grants, [listOnly("/dev/pts")]);
  assert.deepEqual(pts.pts, { mounts: ["/dev/pts"], writable: true });
  // A data filesystem inside the tree stays as granted; grants elsewhere are untouched.
  assert.deepEqual(limitDevices([write("/dev/shm"), read("/etc")], TREES, fakeFs).grants, [write("/dev/shm"), read("/etc")]);
});

test("kernel filesystems: a writable grant above one is split, the mount point read-only (debugfs and tracefs left out)", () => {
  assert.deepEqual(readOnlyKernelFs([write("/")], K, fakeFs), [
    listOnly("/"),
    write("/dev"),
    listOnly("/sys"),
    read("/sys/fs"),
    listOnly("/sys/kernel"),
    read("/sys/kernel/mm"),
    read("/sys/module"),
    write("/proc"),
    write("/etc"),
    write("/tmp"),
  ]);
  assert.deepEqual(readOnlyKernelFs([write("/etc")], K, fakeFs), [write("/etc")]);
});

test("kernel filesystems: a read grant above debugfs or tracefs is split around them; one naming them is kept", () => {
  assert.deepEqual(readOnlyKernelFs([read("/sys")], K, fakeFs), [listOnly("/sys"), read("/sys/fs"), listOnly("/sys/kernel"), read("/sys/kernel/mm"), read("/sys/module")]);
  const kept = [read("/sys/fs/cgroup/pids"), read("/sys/kernel/tracing"), read("/etc")];
  assert.deepEqual(readOnlyKernelFs(kept, K, fakeFs), kept);
});

for (const [path, fs] of [["/sys", "sysfs (/sys)"], ["/sys/fs/cgroup", "sysfs (/sys)"], ["/sys/fs/cgroup/pids", "sysfs (/sys)"]] as const) {
  test(`PolicyError: a writable grant on ${path}`, () => {
    assert.throws(() => readOnlyKernelFs([write(path)], K, fakeFs), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.field, "fsWritable");
      assert.equal(e.value, path);
      assert.equal(
        e.message,
        `fsWritable: "${path}" is in ${fs}, a kernel interface: never writable from a sandbox (uid 0 without capabilities could change the host's settings or move its processes between cgroups); grant it readable`,
      );
      return true;
    });
  });
}

test("the view: / writable reaches procfs, sysfs read-only (but debugfs, tracefs) and /dev split; the pts view is set where devpts is reached", () => {
  const { view, grants } = computeView({ name: undefined, numCpus: undefined }, [write("/")], true, ["/proc"], fakeFs, new Map(), TABLE);
  assert.ok(grants.some((g) => g.path === "/sys/fs" && !g.writable && !g.dirOnly));
  assert.ok(!grants.some((g) => g.path.startsWith("/sys/kernel/") && g.path !== "/sys/kernel/mm"), "debugfs and tracefs get no rule");
  assert.ok(grants.some((g) => g.path === "/dev/null" && g.writable));
  assert.ok(!grants.some((g) => g.path === "/dev/vda" || g.path === "/dev/tty1"));
  assert.ok(grants.filter((g) => g.dirOnly).every((g) => !g.writable), "split directories may only be listed");
  assert.deepEqual(view.pts, { mounts: ["/dev/pts"], writable: true });
  assert.deepEqual(view.procfs, { mounts: ["/proc"], writable: true, reach: ["/"] });
  const none = computeView({ name: undefined, numCpus: undefined }, [read("/etc")], true, ["/proc"], fakeFs, new Map(), TABLE).view;
  assert.equal(none.pts, undefined);
});

test("a terminal's index from its device number: major 136, the index as the minor (glibc's encoding past 255)", () => {
  const rdev = (major: number, minor: number): number => (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
  assert.equal(terminalIndex(rdev(136, 0)), 0);
  assert.equal(terminalIndex(rdev(136, 7)), 7);
  assert.equal(terminalIndex(rdev(136, 300)), 300);
  assert.equal(terminalIndex(rdev(136, 4095)), 4095);
  assert.equal(terminalIndex(rdev(5, 2)), undefined); // the multiplexer
  assert.equal(terminalIndex(rdev(4, 1)), undefined); // a virtual console
});
