// The view plan (SPEC 4.4): grants split around procfs so Landlock never reaches another
// process's directory, the virtual files the grants reach, the syscalls the view traps,
// and the PolicyErrors for grants into /proc and for too many CPUs.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { PolicyError } from "../../src/errors.js";
import { computeFeatures, type HostFacts } from "../../src/plan/features.js";
import { planLandlock, type PathGrant } from "../../src/plan/landlock.js";
import { HOST_FS, hideProcesses, type EntryType, type FsView } from "../../src/plan/proc-grants.js";
import { computeView, viewSyscalls } from "../../src/plan/view.js";
import { Policy, type PolicyInput } from "../../src/policy/index.js";

/** A small tree: directories list their entries; a symlink maps to its real path. */
const TREE: Record<string, Record<string, EntryType>> = {
  "/": { bin: "symlink", usr: "dir", etc: "dir", proc: "dir", vmlinuz: "file", lnk: "symlink" },
  "/etc": { hostname: "file", passwd: "file", ssl: "dir", mtab: "symlink" },
  "/proc": { "1": "dir", "42": "dir", self: "symlink", "thread-self": "symlink", net: "symlink", meminfo: "file", sys: "dir", kallsyms: "file", kcore: "file", cpuinfo: "file" },
};
const REAL: Record<string, string> = { "/bin": "/usr/bin", "/lnk": "/proc", "/proc/self": "/proc/42", "/proc/self/status": "/proc/42/status" };

function fakeFs(unlistable?: string): FsView {
  return {
    realpath: (p) => REAL[p] ?? p,
    list: (dir, wanted) => {
      if (dir === unlistable) throw Object.assign(new Error("denied"), { code: "EACCES" });
      return Object.entries(TREE[dir] ?? {}).filter(([name]) => wanted(name)).map(([name, type]) => ({ name, type }));
    },
  };
}

const read = (path: string, isDir = true): PathGrant => ({ path, isDir, writable: false });
/** Rules inside procfs are read-only whatever the grant (uid 0 would write host sysctls). */
const PROC_ENTRIES: PathGrant[] = [
  { path: "/proc", isDir: true, writable: false, dirOnly: true },
  { path: "/proc/meminfo", isDir: false, writable: false },
  { path: "/proc/sys", isDir: true, writable: false },
  { path: "/proc/cpuinfo", isDir: false, writable: false },
];

test("a grant on / keeps its directory rights and grants each entry but procfs's processes, links and secrets", () => {
  const out = hideProcesses([read("/")], ["/proc"], fakeFs());
  assert.deepEqual(out.grants, [
    { path: "/", isDir: true, writable: false, dirOnly: true },
    read("/usr"),
    read("/etc"),
    ...PROC_ENTRIES,
    read("/vmlinuz", false),
  ]);
  assert.deepEqual(out.reached, ["/proc"]);
  assert.equal(out.writable, false);
});

test("a writable grant on /proc (through a symlink) is split the same way, read-only, and marks procfs writable (own process files)", () => {
  const out = hideProcesses([{ path: "/lnk", isDir: true, writable: true }], ["/proc"], fakeFs());
  assert.deepEqual(out.grants, PROC_ENTRIES);
  assert.equal(out.writable, true);
});

test("grants beside or inside procfs (but not in a process directory) stay as they are", () => {
  const grants = [read("/usr"), read("/proc/sys"), read("/proc/meminfo", false)];
  const out = hideProcesses(grants, ["/proc"], fakeFs());
  assert.deepEqual(out.grants, grants);
  assert.deepEqual(out.reached, []);
});

const ERRORS: [PathGrant, string, string][] = [
  [read("/proc/self"), "fsReadable", `fsReadable: "/proc/self" names a process directory under /proc; grant "/proc" instead (the sandbox then sees its own processes, and only those)`],
  [{ path: "/proc/1/environ", isDir: false, writable: true }, "fsWritable", `fsWritable: "/proc/1/environ" names a process directory under /proc; grant "/proc" instead (the sandbox then sees its own processes, and only those)`],
  [read("/proc/kallsyms", false), "fsReadable", `fsReadable: "/proc/kallsyms" is always hidden from the sandbox (kernel memory, logs, keys and task lists under /proc)`],
  [
    { path: "/proc/sys", isDir: true, writable: true },
    "fsWritable",
    `fsWritable: "/proc/sys" is in /proc, whose files outside the process directories are the host's kernel settings: never writable from a sandbox (uid 0 without capabilities could change them); grant it readable, or grant "/proc" writable for the sandbox's own process files`,
  ],
];

for (const [grant, field, message] of ERRORS) {
  test(`PolicyError: ${grant.path}`, () => {
    assert.throws(() => hideProcesses([grant], ["/proc"], fakeFs()), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.field, field);
      assert.equal(e.value, grant.path);
      assert.equal(e.message, message);
      return true;
    });
  });
}

test("PolicyError: an ancestor of /proc that cannot be listed", () => {
  assert.throws(() => hideProcesses([read("/")], ["/proc"], fakeFs("/")), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.message, `fsReadable: "/" contains procfs (/proc), and its entries cannot be listed to leave the process directories out (EACCES); grant its subdirectories instead`);
    return true;
  });
});

test("Landlock: a directory-only grant keeps listing (and, writable, entry creation) but no file right", () => {
  const active = new Set(["fs", "fs-refer", "fs-truncate", "ioctl-dev"] as const);
  const plan = planLandlock(active, [{ path: "/", isDir: true, writable: false, dirOnly: true }, { path: "/w", isDir: true, writable: true, dirOnly: true }], { connect: "any", bind: "any" });
  // Writable: every directory right but making device nodes (0x40, 0x800).
  assert.deepEqual(plan.paths.map((p) => p.access), [0x8n, (0x1ff8n | 0x2000n) & ~0x840n]);
});

/** Served whatever the policy: they name host processes (supervise/proc-host.ts). */
const HOST_FILES = ["/proc/locks", "/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"];

const view = (input: { name?: string; numCpus?: number }, grants: PathGrant[], fsActive = true) =>
  computeView({ name: input.name, numCpus: input.numCpus }, grants, fsActive, ["/proc"], fakeFs()).view;

test("virtual files are served only where the grants reach", () => {
  assert.deepEqual(view({ name: "b" }, [read("/usr")]).files, []);
  assert.deepEqual(view({ name: "b" }, [read("/etc")]).files, [{ path: "/etc/hostname", kind: "hostname" }]);
  assert.deepEqual(view({ name: "b", numCpus: 1 }, [read("/proc")]).files.map((f) => f.path), ["/proc/sys/kernel/hostname", "/proc/cpuinfo", ...HOST_FILES]);
  assert.deepEqual(view({ name: "b", numCpus: 1 }, [read("/proc/sys")]).files.map((f) => f.path), ["/proc/sys/kernel/hostname"]);
  assert.equal(view({ name: "b", numCpus: 2 }, [read("/")]).files.length, 6 + HOST_FILES.length);
  // The /proc files listing host processes are served whenever a grant reaches them.
  assert.deepEqual(view({}, [read("/proc/locks", false)]).files, [{ path: "/proc/locks", kind: "locks" }]);
});

test("the view hides processes only where the grants reach procfs, everywhere without Landlock", () => {
  assert.equal(view({}, [read("/usr")]).procfs, undefined);
  assert.deepEqual(view({}, [read("/")]).procfs, { mounts: ["/proc"], writable: false, reach: ["/"] });
  assert.deepEqual(view({}, [read("/lnk"), read("/usr")]).procfs, { mounts: ["/proc"], writable: false, reach: ["/proc", "/usr"] }, "reach: the grants' real paths");
  assert.deepEqual(view({}, [read("/usr")], false).procfs, { mounts: ["/proc"], writable: true, reach: ["/"] }, "without Landlock every mount is reached");
  assert.equal(view({ numCpus: 1 }, [], false).files.length, 4 + HOST_FILES.length, "no hostname file without a name");
  assert.equal(view({ name: "b", numCpus: 1 }, [], false).files.length, 6 + HOST_FILES.length);
});

test("the hostname is the policy's name; without a name the host's shows and nothing is served", () => {
  assert.equal(view({ name: "box" }, []).hostname, "box");
  assert.equal(view({}, []).hostname, undefined);
  assert.deepEqual(view({}, [read("/etc")]).files, []);
});

test("the view traps uname for a named sandbox only, the rest only when needed", () => {
  const lo = "loopback" as const;
  assert.deepEqual(viewSyscalls({ files: [], interfaces: lo }), []);
  assert.deepEqual(viewSyscalls({ hostname: "b", files: [], interfaces: lo }), ["uname"]);
  assert.deepEqual(viewSyscalls({ hostname: "b", numCpus: 1, files: [], interfaces: lo }), ["uname", "sched_getaffinity"]);
  assert.deepEqual(viewSyscalls({ hostname: "b", files: [{ path: "/etc/hostname", kind: "hostname" }], interfaces: lo }), ["uname", "open", "openat", "openat2", "creat"]);
  assert.deepEqual(viewSyscalls({ sortedDirs: true, files: [], interfaces: lo }), ["getdents64", "getdents"], "deterministicDirs traps listings, not opens");
  assert.deepEqual(viewSyscalls({ procfs: { mounts: ["/proc"], writable: false, reach: ["/"] }, files: [], interfaces: lo }), ["open", "openat", "openat2", "creat", "getdents64", "getdents"]);
});

const grantsOf = (input: { name?: string; numCpus?: number; maxMemory?: bigint }, grants: PathGrant[]) =>
  computeView(input as { name: string | undefined; numCpus: number | undefined }, grants, true, ["/proc"], fakeFs()).grants;

test("the real files behind virtual ones get no Landlock rule from a read-only grant", () => {
  // /etc is split: the directory may be listed, every other entry keeps its rights.
  assert.deepEqual(grantsOf({ name: "b" }, [read("/etc")]), [
    { path: "/etc", isDir: true, writable: false, dirOnly: true },
    read("/etc/passwd", false),
    read("/etc/ssl"),
  ]);
  // Without a name nothing is virtual: the grant stays whole.
  assert.deepEqual(grantsOf({}, [read("/etc")]), [read("/etc")]);
  // A grant that is the file itself is dropped (the supervisor serves it).
  assert.deepEqual(grantsOf({ name: "b" }, [read("/etc/hostname", false)]), []);
  // A writable grant stays whole: split, files created later would have no rule.
  const w: PathGrant = { path: "/etc", isDir: true, writable: true };
  assert.deepEqual(grantsOf({ name: "b" }, [w]), [w]);
  // In /proc: cpuinfo and meminfo get no rule of their own when served virtually.
  const proc = grantsOf({ numCpus: 1, maxMemory: 1n << 30n }, [read("/proc")]).map((g) => g.path);
  assert.ok(!proc.includes("/proc/cpuinfo") && !proc.includes("/proc/meminfo"), proc.join(","));
  assert.ok(proc.includes("/proc/sys"), proc.join(","));
  const plain = grantsOf({}, [read("/proc")]).map((g) => g.path);
  assert.ok(plain.includes("/proc/cpuinfo") && plain.includes("/proc/meminfo"), plain.join(","));
});

test("an entry listed in a real directory is its own real path: split grants ask for no realpath of their own", () => {
  const asked: string[] = [];
  const counting = (): FsView => {
    const base = fakeFs();
    return { ...base, realpath: (p) => (asked.push(p), base.realpath(p)) };
  };
  const plan = (grants: PathGrant[]) => computeView({ name: "b", numCpus: 1 }, grants, true, ["/proc"], counting());
  const direct = plan([read("/proc")]);
  assert.deepEqual(direct.grants.map((g) => g.path), ["/proc", "/proc/meminfo", "/proc/sys"], "cpuinfo carved out (served), the rest as before");
  for (const entry of ["/proc/meminfo", "/proc/sys", "/proc/cpuinfo"]) assert.ok(!asked.includes(entry), `${entry} was resolved on its own: ${asked.join(", ")}`);
  // Through a link: the link is resolved once, and its real path, /proc, is known with it.
  asked.length = 0;
  const linked = plan([read("/lnk")]);
  assert.deepEqual(linked.grants, direct.grants);
  assert.ok(asked.includes("/lnk"), asked.join(", "));
  for (const p of ["/proc", "/proc/meminfo", "/proc/sys", "/proc/cpuinfo"]) assert.ok(!asked.includes(p), `${p} resolved again: ${asked.join(", ")}`);
  // A directory whose real path is another (/bin -> /usr/bin) lends nothing to its entries,
  // and a listed symbolic link is never taken for its own real path.
  const fs = counting();
  const viewFs = { ...fs, list: (dir: string, wanted: (n: string) => boolean) => (dir === "/usr/bin" ? [{ name: "sh", type: "file" as const }, { name: "ln", type: "symlink" as const }] : fs.list(dir, wanted)) };
  asked.length = 0;
  computeView({ name: "b", numCpus: undefined }, [read("/bin"), read("/etc")], true, ["/proc"], viewFs);
  assert.ok(asked.includes("/bin") && asked.includes("/etc"), asked.join(", "));
  assert.ok(!asked.includes("/etc/passwd") && !asked.includes("/etc/ssl"), `entries of /etc resolved: ${asked.join(", ")}`);
});

test("a procfs root is listed up to its first process directory, with the entries and types a full listing gives", async () => {
  const notProcess = (name: string): boolean => !/^[0-9]+$/.test(name);
  const byName = (x: { name: string }, y: { name: string }): number => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
  const child = spawn("sleep", ["5"], { stdio: "ignore" });
  try {
    const full = HOST_FS.list("/proc", notProcess).sort(byName);
    const head = HOST_FS.list("/proc", notProcess, true);
    assert.deepEqual(head, full, "the same entries, in readdirSync's order");
    assert.ok(head.some((e) => e.name === "meminfo" && e.type === "file") && head.some((e) => e.name === "sys" && e.type === "dir"));
    assert.ok(head.some((e) => e.name === "self" && e.type === "symlink"), "links keep their own type");
    assert.ok(!head.some((e) => e.name === String(child.pid)), "no process directory");
    const asked: string[] = [];
    HOST_FS.list("/proc", (n) => (asked.push(n), notProcess(n)), true);
    assert.ok(!asked.some((n) => /^[0-9]+$/.test(n)), `process names reached the filter: ${asked.filter((n) => /^[0-9]+$/.test(n)).length}`);
    assert.throws(() => HOST_FS.list("/proc/missing-dir", notProcess, true), /ENOENT/);
  } finally {
    child.kill();
  }
});

const host = (cpuCount: number): HostFacts => ({ landlockAbi: 7, cpuCount });
const features = (input: PolicyInput, cpus = 2) => computeFeatures(new Policy(input), host(cpus));

test("features: a / grant on this host reaches /proc and no process directory gets a rule", () => {
  const f = features({ fsReadable: ["/"] });
  assert.ok(f.grants.some((g) => g.path === "/proc" && g.dirOnly));
  assert.ok(!f.grants.some((g) => /^\/proc\/\d+(\/|$)/.test(g.path) || g.path === "/proc/kallsyms"));
  assert.deepEqual(f.supervision.view?.procfs, { mounts: ["/proc"], writable: false, reach: ["/"] });
  assert.ok(f.seccomp.notify.includes("getdents64"));
});

test("features: a grant into a process directory of this host's /proc is a PolicyError", () => {
  assert.throws(() => features({ fsReadable: ["/proc/self"] }), (e: unknown) => e instanceof PolicyError && e.field === "fsReadable" && /names a process directory/.test(e.message));
});

test("features: numCpus up to the host's count is accepted, above it is a PolicyError", () => {
  assert.equal(features({ numCpus: 2 }, 2).supervision.view?.numCpus, 2);
  assert.throws(() => features({ numCpus: 3 }, 2), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.field, "numCpus");
    assert.equal(e.message, "numCpus: 3 is more than this host's 2 CPUs (a sandbox can be shown fewer CPUs than exist, not more)");
    return true;
  });
});

test("the host listing gives each entry's own type (links not followed) and skips names it is told to", () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-list-"));
  try {
    for (const f of ["a", "b"]) writeFileSync(join(dir, f), "");
    mkdirSync(join(dir, "d"));
    symlinkSync("d", join(dir, "e"));
    execFileSync("mkfifo", [join(dir, "f")]);
    const asked: string[] = [];
    const got = HOST_FS.list(dir, (name) => {
      asked.push(name);
      return name !== "a";
    });
    assert.deepEqual(asked.sort(), ["a", "b", "d", "e", "f"]);
    const byName = (x: { name: string }, y: { name: string }): number => x.name.localeCompare(y.name);
    assert.deepEqual([...got].sort(byName), [{ name: "b", type: "file" }, { name: "d", type: "dir" }, { name: "e", type: "symlink" }, { name: "f", type: "fifo" }]);
    assert.equal(HOST_FS.type!(join(dir, "e")), "dir", "type() follows links");
    assert.equal(HOST_FS.type!("/dev/null"), "device");
    assert.equal(HOST_FS.type!(join(dir, "missing")), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
