// fsDenied: a denied file and directory inside a writable grant are refused to every way in
// (read, exec, write, truncate, metadata, unlink, rename of them and of their parent, link,
// symlink, "..", /proc/self/fd re-open, openat2 with each RESOLVE flag) and to a racing
// symlink swap, with the same policy without fsDenied and the unsandboxed run as controls;
// hard links made before the start, bad values and hosts without namespaces are refused.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/deny-case.js";

/** What each op gives on the denied paths, and why (the kernel's answer on the cover). */
const DENIED: Record<string, string> = {
  read: "EACCES", // mode 000, no capability inside
  write: "EROFS", // the cover's superblock is read-only
  exec: "EACCES",
  truncate: "EROFS",
  chmod: "EROFS", // made by the supervisor, resolved in the sandbox's namespace
  utimes: "EROFS",
  "dir-chmod": "EROFS",
  "dir-read-inner": "EACCES", // the directory's cover cannot be searched
  "dir-list": "EACCES",
  "dir-create": "EACCES",
  link: "EXDEV", // the name is a mount point of another filesystem
  "symlink-read": "EACCES",
  "symlink-dir-read": "EACCES",
  "dotdot-read": "EACCES",
  "procfd-read": "EACCES",
  "procfd-write": "EROFS",
  openat2: "EACCES",
  "openat2-beneath": "EACCES",
  "openat2-in-root": "EACCES",
  "openat2-no-symlinks": "EACCES",
  "openat2-no-magiclinks": "EACCES",
  "openat2-no-xdev": "EXDEV",
  "openat2-dir-inner": "EACCES",
  "rename-parent": "ok", // the parent moves, and the covers with it:
  "rename-parent-read": "EACCES",
  "rename-parent-dir-read": "EACCES",
  rename: "EBUSY", // a mount point cannot be renamed or removed
  "dir-rename": "EBUSY",
  unlink: "EBUSY",
};

const ORIGINAL = `755 ${JSON.stringify("#!/bin/sh\nexit 0\n")} 755 ${JSON.stringify("inner\n")}`;

scriptCase("fsDenied: every way to a denied file and directory is refused (by the kernel, and by the supervisor's name operations under protectedFiles) and nothing changes; without fsDenied and unsandboxed every op succeeds", SCRIPT, ["${PROBE}", "attacks"], (o) => {
  assert.deepEqual(o.denied.ops, DENIED);
  assert.equal(o.denied.before, ORIGINAL);
  assert.equal(o.denied.after, ORIGINAL, "the real files are untouched (mode, bytes)");
  // With protectedFiles the supervisor performs the name operations from the host's mount
  // namespace, where a cover is no mount point: it must answer EBUSY as the kernel does here
  // (before the check, rename, dir-rename and unlink of the covered names succeeded). openat2
  // is ENOSYS while the supervisor performs opens (its flags are in memory).
  const withNames = Object.fromEntries(Object.entries(DENIED).map(([op, errno]) => [op, op.startsWith("openat2") ? "ENOSYS" : errno]));
  assert.deepEqual(o.protected.ops, withNames);
  assert.equal(o.protected.after, ORIGINAL, "protectedFiles: the real files are untouched");
  for (const control of ["control", "bare"]) {
    const ops = o[control].ops as Record<string, string>;
    assert.deepEqual(Object.keys(ops).sort(), [...Object.keys(DENIED), "link-read"].sort(), `${control}: every op ran`);
    for (const [op, got] of Object.entries(ops)) assert.equal(got, "ok", `${control}: ${op}`);
  }
});

scriptCase("fsDenied: a thread swapping a symlink between the denied file and an allowed one for 1.5 s: zero reads of the denied bytes; without fsDenied the same race reads them", SCRIPT, ["${PROBE}", "race"], (o) => {
  const count = (s: string, k: string): number => Number(new RegExp(`${k} (\\d+)`).exec(s)?.[1] ?? NaN);
  assert.equal(count(o.denied, "denied"), 0, o.denied);
  assert.ok(count(o.denied, "allowed") > 0, `the race ran: ${o.denied}`);
  assert.ok(count(o.denied, "failed") > 0, `the link did point at the denied file: ${o.denied}`);
  assert.ok(count(o.control, "denied") > 0, `control: ${o.control}`);
});

scriptCase("fsDenied: a file with a hard link made before the start, and a directory holding one, are refused by name; the control reads through the other name", SCRIPT, ["${PROBE}", "hardlinks"], (o) => {
  assert.equal(o.file.name, "PolicyError");
  assert.equal(o.file.message, `fsDenied: ${JSON.stringify(o.paths.secret)} has 2 names (hard links): another name inside a grant would reach the same file; remove the other names or copy the file first`);
  assert.equal(o.inner.name, "PolicyError");
  assert.equal(o.inner.message, `fsDenied: ${JSON.stringify(o.paths.sdir)} holds ${JSON.stringify(o.paths.innerOther)}, which has another name (a hard link) that the denial would not cover; remove the other names or copy the file first`);
  assert.equal(o.controlFile, "ok");
  assert.equal(o.controlInner, "ok");
});

scriptCase("fsDenied: bad values are refused naming the field and the value", SCRIPT, ["${PROBE}", "refusals"], (o) => {
  const p = o.paths;
  const expect: Record<string, string> = {
    relative: `fsDenied: "sub/secret" is a relative path (an absolute path is needed)`,
    empty: `fsDenied: "" is an empty path (an absolute path is needed)`,
    dotdot: `fsDenied: ${JSON.stringify(`${p.w}/sub/../sub/secret`)} contains a "." or ".." component: give the path it names without one`,
    missing: `fsDenied: ${JSON.stringify(p.missing)} does not exist: a denial covers an existing path (creating a path cannot be refused this way; docs/security.md, "Denied paths")`,
    outside: `fsDenied: ${JSON.stringify(p.outside)} is outside every granted tree: Landlock denies it already, so nothing is there to subtract from`,
    grant: `fsDenied: ${JSON.stringify(p.w)} covers the grant ${JSON.stringify(p.w)}: remove one of the two`,
    notList: `fsDenied: "/x" is not an array of absolute paths`,
  };
  for (const [k, message] of Object.entries(expect)) {
    assert.equal(o[k].name, "PolicyError", k);
    assert.equal(o[k].message, message, k);
  }
});

scriptCase("fsDenied: refused inside a sandbox (no namespaces), ConfinementError naming why; the control runs; --fs-deny denies the read", SCRIPT, ["${PROBE}", "nested"], (o) => {
  assert.equal(o.refused.code, 126, o.refused.stderr);
  assert.match(o.refused.stderr, /fsDenied: covering "[^"]+" needs a (user|mount) namespace, and this host refuses it: this process runs under a seccomp filter \(a sandbox inside a sandbox\)\. Without it the denied paths would be reachable, so the run is refused/);
  assert.doesNotMatch(o.refused.stdout, /ran/);
  assert.equal(o.control.code, 0, o.control.stderr);
  assert.equal(o.control.stdout.trim(), "ran");
  assert.match(o.flag.stderr, /Permission denied/);
  assert.equal(o.flag.stdout.trim(), "status=1");
  // protectedFiles on such a host: the run goes on, without the read-only binds, and says so.
  assert.equal(o.unprotected.code, 0, o.unprotected.stderr);
  assert.equal(o.unprotected.stdout.trim(), "wrote");
  assert.ok(o.unprotected.stderr.includes(`sandlock: protectedFiles: the protected files that exist (${o.w}/.git, ${o.w}/.git/hooks) stay writable: making them read-only needs a `), o.unprotected.stderr);
  assert.match(o.unprotected.stderr, /and this host refuses it: this process runs under a seccomp filter \(a sandbox inside a sandbox\) \(--allow-protected or protectedFiles: false says it is meant\)/);
});

scriptCase("fsDenied inside a copy-on-write workdir: covered on the overlay (the same refusals), the control succeeds, the real files are untouched", SCRIPT, ["${PROBE}", "workdir"], (o) => {
  // The overlay gives EXDEV for a directory rename (no redirect_dir), so the parent stays.
  const expect = { ...DENIED, "rename-parent": "EXDEV" } as Record<string, string>;
  delete expect["rename-parent-read"];
  delete expect["rename-parent-dir-read"];
  assert.deepEqual(o.denied, expect);
  for (const [op, got] of Object.entries(o.control as Record<string, string>)) assert.equal(got, op === "rename-parent" || op === "dir-rename" ? "EXDEV" : "ok", `control: ${op}`);
  assert.equal(o.after, o.before);
});
