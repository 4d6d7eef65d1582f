// chroot and fsMount (SPEC 2.1, issue 15 item 2) against the real kernel, as root and as the
// test user, in a small root built from the host's files: every way out towards a host file
// lands inside the root, a directory-for-symlink race never reaches the host, the static
// probe and a dynamically linked shell run, fsMount read-only (EROFS) and writable, the
// refusals name the field and the value. Controls: the same probe runs without chroot.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/chroot-case.js";

/** Every attempt at the host secret (outside the root) ends on the decoy the root holds at
 * the same path: the kernel resolves the sandbox's paths in its own root. */
const INSIDE: Record<string, string> = {
  abs: "ok:decoy",
  dotdot: "ok:decoy", // ".." at the root stays at the root
  "chdir-dotdot": "ok:decoy",
  "symlink-out": "ok:decoy", // an absolute link to the host path resolves inside
  "symlink-in": "ok:inside", // an absolute link inside the root works
  "proc-root-link": "/",
  "proc-root": "ok:decoy",
  "fd-dotdot": "ok:decoy",
  openat2: "ok:decoy",
  "openat2-no-symlinks": "ok:decoy",
  "openat2-no-magiclinks": "ok:decoy",
  "openat2-no-xdev": "ok:decoy",
  "openat2-in-root": "ok:decoy",
  getcwd: "/etc",
};

scriptCase("chroot: absolute paths, \"..\" at the root, a symlink leading out, /proc/self/root, a descriptor and \"..\", openat2 with RESOLVE flags all stay in the root; getcwd is the root's path; without chroot the same probe reads the host file", SCRIPT, ["${PROBE}", "escape"], (o) => {
  assert.equal(o.inside.code, 0, o.inside.err);
  assert.deepEqual(o.inside.ops, INSIDE);
  assert.equal(o.control.code, 0, o.control.err);
  for (const [op, got] of Object.entries(o.control.ops as Record<string, string>)) {
    if (op === "symlink-in") assert.equal(got, "ENOENT", "control: /etc/marker is the root's, not the host's");
    else if (op === "getcwd") assert.match(got, /\/root\/etc$/);
    else if (op === "proc-root-link") assert.equal(got, "/");
    else assert.equal(got, "ok:HOSTSECRET", `control: ${op}`);
  }
});

scriptCase("chroot: a thread swapping a directory for a symlink to \"/\" while another opens through it for 2 s: zero reads of the host file; without chroot the same race reads it", SCRIPT, ["${PROBE}", "race"], (o) => {
  const count = (s: string, k: string): number => Number(new RegExp(`${k} (\\d+)`).exec(s)?.[1] ?? NaN);
  assert.equal(o.inside.code, 0, o.inside.err);
  assert.equal(count(o.inside.out, "host"), 0, o.inside.out);
  assert.ok(count(o.inside.out, "decoy") > 0, `the link was followed (to the root's "/"): ${o.inside.out}`);
  assert.ok(count(o.control.out, "host") > 0, `control: ${o.control.out}`);
});

scriptCase("chroot: the static probe and a dynamically linked shell (its libraries inside the root, found through the root's PATH) run; a writable grant inside the root writes to the host's directory; fsMount :ro gives EROFS even with a writable grant; a writable fsMount writes to its host directory", SCRIPT, ["${PROBE}", "run"], (o) => {
  assert.deepEqual(o.staticRun, { code: 0, out: "inside", err: "" });
  assert.deepEqual(o.dynamic, { code: 0, out: "inside\nmounted\nsh", err: "" });
  // /tmp (granted writable), /etc (read-only grant), /data (:ro mount), /rw (writable mount)
  assert.deepEqual(o.writes, { code: 0, out: "ok\nEACCES\nEROFS\nok", err: "" });
  assert.equal(o.roGranted.out, "EROFS");
  assert.deepEqual(o.cwdRun, { code: 0, out: "/etc\ninside", err: "" }, "cwd is a path inside the root");
  assert.equal(o.hostTmp, "probe\n");
  assert.equal(o.hostRw, "probe\n");
  assert.equal(o.roUntouched, true);
});

scriptCase("chroot: the host's /proc and /dev bound in the root keep the /proc view and the device allowlist under a grant of the whole root; a device node in the root opens nothing; user and fsDenied work inside; user without /proc is refused by name", SCRIPT, ["${PROBE}", "host"], (o, who) => {
  assert.equal(o.view.code, 0, o.view.err);
  const [host1, self, kcore, devNull, console, viaRoot, stat, , ...pids] = (o.view.out as string).split("\n");
  assert.deepEqual([host1, self, kcore, devNull, console, viaRoot], ["EACCES", "ok", "EACCES", "ok", "EACCES", "ok"], o.view.out);
  // the listing of /proc shows the sandbox's own processes only: the shell running the loop
  assert.deepEqual(pids, [`/proc/${stat!.split(" ")[3]}`], o.view.out);
  assert.equal(o.user.code, 0, o.user.err);
  assert.match(o.user.out, /^ok\n/);
  assert.equal(o.userOwner, o.caller, "the file made as uid 7 belongs to the caller outside");
  if (who === "root") assert.equal(o.caller, 0);
  assert.deepEqual(o.denied, { code: 0, out: "EACCES\nEACCES\nok", err: "" }, "fsDenied inside the root: the file and a symlink to it are refused, the rest reads");
  if (who === "root") assert.deepEqual(o.node, { inside: "EACCES", control: "ok" }, "a device node in the root opens nothing (nodev); outside a chroot the same grant opens it");
  else assert.match(o.node.mknod, /Operation not permitted/, "only root can make a device node");
  assert.equal(o.userNoProc.name, "PolicyError");
  assert.equal(o.userNoProc.message, `user: inside the chroot ${JSON.stringify(o.root)} the id maps are written through /proc: grant /proc too (fsReadable "/proc", -r /proc; the sandbox sees only its own processes there)`);
});

scriptCase("chroot: the root's /proc swapped for a symlink between planning and launch fails the start (ELOOP), never binds the host's /proc under a grant that covers it whole; the same plan unswapped reads /proc", SCRIPT, ["${PROBE}", "swap"], (o) => {
  assert.deepEqual(o.control, { code: 0, out: "ok\n" }, JSON.stringify(o.control));
  assert.equal(o.swapped.out, undefined, `the host's /proc was reached: ${JSON.stringify(o.swapped)}`);
  assert.match(o.swapped.error ?? "", /^ConfinementError: chroot .* \(unshare, open following no symbolic link, open_tree, move_mount, pivot_root, setns\): ELOOP$/);
});

scriptCase("chroot and fsMount: bad values are refused naming the field and the value; the control runs", SCRIPT, ["${PROBE}", "refusals"], (o) => {
  const p = o.paths;
  const expect: Record<string, string> = {
    relative: `chroot: "root" is a relative path (an absolute path is needed)`,
    relativeMount: `fsMount: "data" is a relative path (an absolute path is needed)`,
    dotdotMount: `fsMount: "/data/../etc" is a virtual path with a "." or ".." component: give the mount point without one`,
    rootMount: `fsMount: "/" is the chroot's root itself: give the directory to mount as chroot, or a mount point below "/"`,
    relativeHost: `fsMount["/data"]: "ro" is a relative path (an absolute path is needed)`,
    mountWithoutChroot: `fsMount: {"/data":${JSON.stringify(p.ro)}} requires chroot (it maps directories into the chroot)`,
    missing: `chroot: ${JSON.stringify(`${p.base}/nope`)} does not exist`,
    notDir: `chroot: ${JSON.stringify(p.file)} is not a directory`,
    hostMissing: `fsMount["/data"]: ${JSON.stringify(`${p.base}/nope`)} does not exist`,
    hostRw: `fsMount["/data"]: ${JSON.stringify(`${p.ro}:rw`)} does not exist`,
    pointMissing: `fsMount["/nowhere"]: the mount point "/nowhere" is not a directory in the chroot ${JSON.stringify(p.root)}: create it there (nothing is created in the chroot)`,
    linkPoint: `fsMount["/plink"]: the mount point "/plink" passes through a symbolic link in the chroot (it leads to ${JSON.stringify(`${p.root}/data`)}): mount points are reached following no link; give the directory's own path`,
    withPrivateTmp: `chroot: ${JSON.stringify(p.root)} with privateTmp (--private-tmp, the workspace presets): a private temporary directory inside a chroot is not supported yet; grant a writable directory of the root instead (-w /tmp)`,
    withProtected: `chroot: ${JSON.stringify(p.root)} with protectedFiles (the workspace preset): protected names inside a chroot are not supported yet; lift it with protectedFiles: false (--allow-protected) if the root holds nothing to protect`,
    withWorkdir: `chroot: ${JSON.stringify(p.root)} with workdir ${JSON.stringify(p.rw)}: a copy-on-write workdir inside a chroot is not supported yet`,
  };
  for (const [k, message] of Object.entries(expect)) {
    assert.equal(o[k].name, "PolicyError", k);
    assert.equal(o[k].message, message, k);
  }
  assert.deepEqual(o.control, { name: "ran", message: "inside" });
});

scriptCase("chroot: the CLI's --chroot and --fs-mount V:H:ro run, and a profile's [filesystem] chroot and mount; :rw and junk suffixes and a relative --chroot are usage errors naming the value", SCRIPT, ["${PROBE}", "cli"], (o) => {
  assert.deepEqual(o.read, { code: 0, stdout: "mounted\ninside\n", stderr: "" });
  assert.deepEqual(o.roWrite, { code: 0, stdout: "EROFS\n", stderr: "" });
  assert.equal(o.rwSuffix.code, 125);
  assert.equal(o.rwSuffix.stderr, `sandlock: --fs-mount: ${JSON.stringify(`/data:${o.ro}:rw`)} is not VIRTUAL:HOST[:ro] (e.g. /data:/srv/data:ro): the third part can only be "ro", got "rw"\n`);
  assert.equal(o.junk.code, 125);
  assert.equal(o.junk.stderr, `sandlock: --fs-mount: ${JSON.stringify(`/data:${o.ro}:ro:x`)} is not VIRTUAL:HOST[:ro] (e.g. /data:/srv/data:ro)\n`);
  assert.deepEqual(o.profile, { code: 0, stdout: "mounted\nEROFS\n", stderr: "" }, "a TOML profile's [filesystem] chroot and mount");
  assert.equal(o.relative.code, 125);
  assert.equal(o.relative.stderr, `sandlock: --chroot: "root" is a relative path (an absolute path is needed)\n`);
});

scriptCase("chroot: refused inside a sandbox (no namespaces) with a ConfinementError naming why, never run without the root; the control runs", SCRIPT, ["${PROBE}", "nested"], (o) => {
  assert.equal(o.refused.code, 126, o.refused.stderr);
  assert.match(o.refused.stderr, /chroot: the root "[^"]+" is built in a (user|mount) namespace, and this host refuses it: this process runs under a seccomp filter \(a sandbox inside a sandbox\)\. Without it the host's files would be reachable, so the run is refused/);
  assert.equal(o.refused.stdout, "");
  assert.deepEqual(o.control, { code: 0, stdout: "inside\n", stderr: "" });
});
