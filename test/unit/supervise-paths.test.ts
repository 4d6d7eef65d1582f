// Path resolution as the supervisor models the kernel's (src/supervise/paths.ts): ".",
// "..", "//", relative bases, procfs's symlinks and magic links. Pure: the process facts
// come from a fake environment.

import assert from "node:assert/strict";
import { test } from "node:test";
import { isMagicLink, resolvePath, type ResolveEnv, type Resolved } from "../../src/supervise/paths.js";

const LINKS: Record<string, string | null> = {
  "/proc/40/cwd": "/home/me",
  "/proc/40/root": "/",
  "/proc/40/fd/3": "/tmp/dir",
  "/proc/40/fd/4": null, // a pipe
  "/proc/40/task/41/cwd": "/srv",
  "/proc/1/cwd": "/",
};

function env(over: Partial<ResolveEnv> = {}): ResolveEnv {
  return { procMounts: ["/proc", "/mnt/p2"], tid: 41, tgid: () => 40, readlink: (p) => LINKS[p] ?? null, ...over };
}

const path = (p: string, extra: Partial<Extract<Resolved, { kind: "path" }>> = {}): Resolved => ({ kind: "path", path: p, symlinkLast: false, trailingSlash: false, pids: [], ...extra });
const magic = (link: string, ...pids: number[]): Resolved => ({ kind: "magic", pids, path: link });

const CASES: [string | null, string, Resolved][] = [
  [null, "/etc/hostname", path("/etc/hostname")],
  [null, "//etc///hostname", path("/etc/hostname")],
  [null, "/etc/./hostname", path("/etc/hostname")],
  [null, "/usr/../etc/hostname", path("/etc/hostname")],
  [null, "/../../etc/hostname", path("/etc/hostname")],
  [null, "/", path("/")],
  [null, "/etc/", path("/etc", { trailingSlash: true })],
  ["/etc", "hostname", path("/etc/hostname")],
  ["/etc", "../proc/1/cmdline", path("/proc/1/cmdline", { pids: [1] })],
  ["/proc", "1/cmdline", path("/proc/1/cmdline", { pids: [1] })],
  ["/proc/40", "../1/cmdline", path("/proc/1/cmdline", { pids: [1] })],
  [null, "/proc/./1/cmdline", path("/proc/1/cmdline", { pids: [1] })],
  [null, "/proc//1/../1/cmdline", path("/proc/1/cmdline", { pids: [1] })],
  [null, "/proc/self/status", path("/proc/40/status", { pids: [40] })],
  [null, "/proc/self", path("/proc/40", { symlinkLast: true, pids: [40] })],
  [null, "/proc/self/../1/cmdline", path("/proc/1/cmdline", { pids: [40, 1] })],
  [null, "/proc/thread-self/status", path("/proc/40/task/41/status", { pids: [40] })],
  // thread-self is three levels deep: ".." climbs out of task/41 first, as in the kernel.
  [null, "/proc/thread-self/../../1", path("/proc/40/1", { pids: [40] })],
  [null, "/proc/thread-self/../../../1/cmdline", path("/proc/1/cmdline", { pids: [40, 1] })],
  [null, "/proc/net/tcp", path("/proc/40/net/tcp", { pids: [40] })],
  [null, "/proc/mounts/../../1/cmdline", path("/proc/1/cmdline", { pids: [40, 1] })],
  [null, "/mnt/p2/self/status", path("/mnt/p2/40/status", { pids: [40] })],
  [null, "/proc/self/cwd/x", path("/home/me/x", { pids: [40] })],
  [null, "/proc/self/root/proc/1/cmdline", path("/proc/1/cmdline", { pids: [40, 1] })],
  [null, "/proc/self/cwd/../../proc/1/cmdline", path("/proc/1/cmdline", { pids: [40, 1] })],
  [null, "/proc/40/fd/3/f", path("/tmp/dir/f", { pids: [40] })],
  [null, "/proc/thread-self/cwd/x", path("/srv/x", { pids: [40] })],
  // self only means something directly under a procfs mount.
  [null, "/home/self/x", path("/home/self/x")],
  [null, "/proc/40/self", path("/proc/40/self", { pids: [40] })],
  [null, "/proc/self/exe", magic("/proc/40/exe", 40)],
  [null, "/proc/1/cwd/etc/passwd", path("/etc/passwd", { pids: [1] })],
  [null, "/proc/self/fd/0", magic("/proc/40/fd/0", 40)],
  [null, "/proc/self/task/41/root", magic("/proc/40/task/41/root", 40)],
  [null, "/mnt/p2/thread-self/fd/1", magic("/mnt/p2/40/task/41/fd/1", 40)],
  [null, "/proc/self/fd/4/x", { kind: "unknown" }],
  [null, "relative", { kind: "unknown" }],
  ["pipe:[12]", "relative", { kind: "unknown" }],
];

for (const [base, p, want] of CASES) {
  test(`resolvePath(${base ?? "-"}, ${JSON.stringify(p)})`, () => assert.deepEqual(resolvePath(base, p, env()), want));
}

test("an unreadable thread group makes self unknown", () => {
  assert.deepEqual(resolvePath(null, "/proc/self/status", env({ tgid: () => null })), { kind: "unknown" });
});

test("a chain of magic links stops at the kernel's limit of 40", () => {
  // fd 3 is a descriptor of /proc/40/fd itself: each "3/" jumps back there.
  const loop = env({ readlink: (p) => (p === "/proc/40/fd/3" ? "/proc/40/fd" : null) });
  assert.deepEqual(resolvePath(null, `/proc/40/fd/${"3/".repeat(40)}../status`, loop), path("/proc/40/status", { pids: [40] }));
  assert.deepEqual(resolvePath(null, `/proc/40/fd/${"3/".repeat(41)}../status`, loop), { kind: "unknown" });
});

test("isMagicLink: exactly the links of process and task directories", () => {
  for (const rel of [["1", "exe"], ["1", "cwd"], ["1", "root"], ["1", "fd", "3"], ["1", "ns", "net"], ["1", "map_files", "a-b"], ["1", "task", "2", "exe"], ["1", "task", "2", "fd", "0"]]) {
    assert.ok(isMagicLink(rel), rel.join("/"));
  }
  for (const rel of [["1"], ["1", "fd"], ["1", "status"], ["self", "exe"], ["sys", "fd", "x"], ["1", "task", "2"], ["1", "fd", "3", "x"]]) {
    assert.ok(!isMagicLink(rel), rel.join("/"));
  }
});
