// File metadata (mode, owner, extended attributes, times, inode flags) changes only
// beneath a writable grant while the filesystem protection is in force: every call
// family refused outside every grant and under a read-only grant (state read from
// outside unchanged), allowed under the writable grant and unsandboxed (the controls);
// capabilities the supervisor holds never help the caller; races on the path, a symlink
// and a descriptor number win nothing; real programs work.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/meta-case.js";
const CALLS = [
  "chmod", "fchmodat", "fchmodat2", "fchmodat2-nofollow", "fd-fchmod", "opath-fchmodat2", "magic-chmod",
  "chown", "lchown", "fchownat", "fd-fchown", "opath-fchownat",
  "setxattr", "lsetxattr", "fd-fsetxattr", "setxattrat", "magic-setxattr",
  "removexattr", "lremovexattr", "fd-fremovexattr", "removexattrat",
  "utime", "utime-now", "utimes", "futimesat", "utimensat", "utimensat-nofollow", "fd-futimens", "opath-utimensat",
  "setflags", "fssetxattr",
];

interface Place {
  calls: Record<string, string>;
  before: { f: string; l: string };
  after: { f: string; l: string };
}

const field = (state: string, key: string): string => new RegExp(`\\b${key}=(\\S+)`).exec(state)?.[1] ?? "";

function every(calls: Record<string, string>, want: string, where: string): void {
  assert.deepEqual(Object.keys(calls), CALLS, `${where}: every call ran`);
  for (const c of CALLS) assert.equal(calls[c], want, `${where}: ${c}`);
}

/** The state every call of meta-all leaves behind when it succeeds. */
function changed(p: Place, root: boolean, where: string): void {
  const f = p.after.f;
  assert.equal(field(f, "mode"), "0600", `${where}: mode`);
  assert.equal(field(f, "mtime"), "1000000001", `${where}: times`);
  assert.equal(field(f, "sl"), "5", `${where}: xattr set`);
  assert.equal(field(f, "rm"), "-", `${where}: xattrs removed`);
  const flags = parseInt(field(f, "flags"), 16);
  assert.equal(flags & 0xc0, 0xc0, `${where}: FS_NODUMP_FL and FS_NOATIME_FL set (${field(f, "flags")})`);
  // As root the file and the link start in group 1: chgrp to the caller's own group 0.
  if (root) {
    assert.equal(field(f, "gid"), "0", `${where}: group of the file`);
    assert.equal(field(p.after.l, "lgid"), "0", `${where}: group of the symlink itself (lchown)`);
  }
}

scriptCase(
  "every metadata call is refused (EACCES) outside every grant and under a read-only grant, nothing changes; under the writable grant and unsandboxed each succeeds",
  SCRIPT,
  ["${PROBE}", "families"],
  (out) => {
    const places = out as Record<string, Place> & { root: boolean; view: string };
    assert.ok(places.view === "kernel" || places.view === "supervised", `the view: ${places.view}`);
    for (const where of ["out", "ro"]) {
      const p = places[where]!;
      // Outside every grant the kernel view's root has no such path: ENOENT.
      every(p.calls, where === "out" && places.view === "kernel" ? "ENOENT" : "EACCES", where);
      assert.deepEqual(p.after, p.before, `${where}: state unchanged from outside`);
      assert.equal(field(p.before.f, "rm"), "1234", `${where}: the attributes to remove were there`);
    }
    for (const where of ["write", "bare"]) {
      every(places[where]!.calls, "ok", where);
      changed(places[where]!, places.root, where);
    }
  },
);

scriptCase(
  "what needs a capability fails inside even when the supervisor holds it: giving a file away, trusted.*, immutable, setgid, other users' files, unsearchable directories",
  SCRIPT,
  ["${PROBE}", "credentials"],
  (out) => {
    const s = out.sandboxed as Record<string, string>;
    assert.equal(s["chown-give"], "EPERM");
    assert.equal(s["chgrp-other"], "EPERM");
    assert.equal(s.trusted, "EPERM");
    assert.equal(s.append, "EPERM");
    assert.equal(s.immutable, "EPERM");
    // A set-group-ID file is refused (fs-meta.ts, seventh review: it would run with the
    // group's ids outside); on a directory the kernel drops the bit of a group the caller
    // is not in without CAP_FSETID, which the supervisor must not lend.
    assert.equal(s.setgid, "EPERM");
    assert.equal(s["setgid-dir"], "ok");
    const after = out.after as Record<string, number>;
    assert.equal(after.own, 0o644, "the file keeps its mode");
    // Root's directory is in group 1, the test user's in its own group, where the bit stays.
    assert.equal(after["own.d"], out.root ? 0o755 : 0o2755, "setgid only for a group the caller is in");
    if (out.root) {
      assert.deepEqual(
        [s["foreign-chmod"], s["foreign-chown"], s["foreign-times"], s["foreign-now"], s["foreign-xattr"], s["locked-chmod"]],
        ["EPERM", "EPERM", "EPERM", "EACCES", "EACCES", "EACCES"],
      );
      assert.equal(after.foreign, 0o644);
      // Control: the same calls as root outside any sandbox succeed (what a supervisor
      // acting with its own capabilities would have done).
      const b = out.bare as Record<string, string>;
      for (const k of ["chown-give", "chgrp-other", "trusted", "setgid", "setgid-dir", "append", "immutable", "foreign-chmod", "foreign-chown", "foreign-times", "foreign-now", "foreign-xattr", "locked-chmod"]) {
        assert.equal(b[k], "ok", `unsandboxed root: ${k}`);
      }
    }
  },
);

scriptCase(
  "races: a symlink swapped, a path buffer rewritten, a descriptor dup2()ed while metadata changes never change a file outside the writable grant",
  SCRIPT,
  ["${PROBE}", "races"],
  (out) => {
    const won = (line: string, what: string): number => {
      const m = new RegExp(`^${what} 3000 ok (\\d+)$`).exec(line);
      assert.ok(m, line);
      return Number(m[1]);
    };
    // Controls in the same runs: the calls that named the inside file succeeded.
    assert.ok(won(out.swap, "chmods") > 0, out.swap);
    assert.ok(won(out.buf, "setxattrs") > 0, out.buf);
    assert.ok(won(out.dup, "fchmods") > 0, out.dup);
    assert.deepEqual(out.after.out, out.before.out, "the file outside every grant is unchanged");
    assert.deepEqual(out.after.ro, out.before.ro, "the file under the read-only grant is unchanged");
    assert.notEqual(field(out.after.in, "mode"), "0644", "the inside file changed");
    assert.equal(field(out.after.in, "sl"), "r");
  },
);

scriptCase(
  "real programs: chmod, touch -d, cp -p and tar -xf work in the writable grant; chmod and touch outside are refused",
  SCRIPT,
  ["${PROBE}", "programs"],
  (out) => {
    assert.deepEqual(out.out, ["chmod ok", "touch ok", "cp ok", "tar ok", "chmod-outside refused", "touch-outside refused"]);
    assert.equal(out.made.mode, 0o700);
    assert.equal(out.made.mtime, Date.parse("2001-02-03T04:05:06") / 1000);
    assert.equal(out.copied.mtime, out.source.mtime, "cp -p kept the time");
    assert.equal(out.extracted.file0.mtime, out.source.mtime, "tar restored the time");
    assert.equal(out.extracted.sub.mtime, Date.parse("2003-04-05T06:07:08") / 1000, "tar restored a directory's time");
    assert.equal(out.extracted.file3.mode, 0o600, "tar restored the mode");
    assert.equal(out.victim.mode, 0o644);
  },
);

scriptCase(
  "control: with the filesystem protection disabled nothing is trapped, the calls succeed anywhere",
  SCRIPT,
  ["${PROBE}", "fs-off"],
  (out) => {
    assert.equal(out.calls.chmod, "ok");
    assert.equal(out.calls.setxattr, "ok");
    assert.equal(out.calls.setflags, "ok");
    assert.equal(field(out.after, "mode"), "0600");
  },
);

scriptCase(
  "the sandbox's own pipes and sockets, which no path names, take fchmod, fchown and futimens",
  SCRIPT,
  ["${PROBE}", "private"],
  (out) => assert.equal(out.line, "pipe ok socket ok"),
);

scriptCase(
  "where a path leads: a symlink or .. out of the writable grant is refused (the symlink itself is the grant's), a hard link inside the grant is allowed and its outside name refused, /proc and missing files answer as the kernel's lookup",
  SCRIPT,
  ["${PROBE}", "links"],
  (out) => {
    // Outside the grants (the symlink's target, the .. path, the outside name, /proc, which
    // this policy does not grant) the kernel view's root has no such path: ENOENT.
    assert.ok(out.view === "kernel" || out.view === "supervised", `the view: ${out.view}`);
    const outside = out.view === "kernel" ? "ENOENT" : "EACCES";
    assert.deepEqual(out.calls, {
      "symlink-out-chmod": outside,
      "symlink-out-lchown": "ok",
      "dotdot-chmod": outside,
      "hard-inside-chmod": "ok",
      "hard-outside-name-chmod": outside,
      "proc-self-chmod": outside,
      "proc-1-chmod": outside,
      "missing-inside": "ENOENT",
      "missing-outside": "ENOENT",
    });
    assert.equal(out.modes.t1, 0o644, "the symlink's target is unchanged");
    assert.equal(out.modes.t3, 0o644, "the file reached by .. is unchanged");
    // Control: the inode linked into the grant did change (Landlock allows writing it too).
    assert.equal(out.modes.t2, 0o600);
  },
);

scriptCase(
  "a path that is not UTF-8 is resolved as the bytes it is",
  SCRIPT,
  ["${PROBE}", "bytes"],
  (out) => {
    assert.equal(out.line, "chmod ok utimensat ok");
    assert.equal(out.mode, 0o600);
  },
);

scriptCase(
  "when the supervisor's own identities change while a sandbox runs, its metadata calls are refused (EPERM) until they are back",
  SCRIPT,
  ["${PROBE}", "host-ids"],
  (out) => {
    assert.equal(out.before, "ok");
    if (out.root) {
      assert.equal(out.changed, "EPERM");
      assert.equal(out.restored, "ok");
    }
  },
);

scriptCase(
  "descriptors the host passed are judged like any other: a file outside the grants as stdin and /dev/null (an ignored stdin) are refused, a file under the writable grant is changed",
  SCRIPT,
  ["${PROBE}", "host-fds"],
  (out) => {
    for (const c of ["fchmod", "fchown", "fsetxattr", "futimens", "setflags"]) {
      assert.equal(out.out.calls[c], "EACCES", `outside: ${c}`);
      assert.equal(out.write.calls[c], "ok", `writable grant (control): ${c}`);
    }
    assert.equal(out.out.after, out.out.before);
    assert.equal(field(out.write.after, "mode"), "0600");
    assert.equal(field(out.write.after, "sl"), "1");
    for (const c of ["fchmod", "fchown", "fsetxattr", "futimens"]) assert.equal(out.devnull.calls[c], "EACCES", `/dev/null: ${c}`);
    assert.equal(out.devnull.unchanged, true, "/dev/null keeps its mode");
  },
);
