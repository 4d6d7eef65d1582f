// The kernel-native view prototype (SANDLOCK_KERNEL_VIEW=1): attacks on what it hides and
// on the namespaces themselves, as root and as the test user, each with its positive
// control (the same operation bare, or allowed under the same policy).

import assert from "node:assert/strict";
import { within } from "../../src/plan/proc-grants.js";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/kview-case.js";

/** Every case first shows the kernel view was in force: the command is pid 2 of its own
 * pid namespace, the init (native/launcher/init.c) pid 1. */
function inView(out: { selfPid?: string; error?: string }): void {
  assert.equal(out.error, undefined, out.error);
  assert.equal(out.selfPid, "2", "the command runs as pid 2 of its own pid namespace");
}

scriptCase("kernel view: another process's /proc entry does not exist, the sandbox's own does", SCRIPT, ["${PROBE}", "proc"], (out) => {
  inView(out);
  assert.equal(out.victim.trim(), "ENOENT", "a host process of the same user");
  assert.equal(out.supervisor.trim(), "ENOENT", "the supervising Node process");
  assert.ok(!out.hostInit.includes("init") && !out.hostInit.includes("systemd"), `/proc/1 is the sandbox's own: ${out.hostInit}`);
  assert.equal(out.own.trim(), "ok");
  const pids = out.listing.split("\n").filter((l: string) => /^[0-9]+$/.test(l));
  assert.ok(pids.length >= 1 && pids.length <= 3, `only the sandbox's processes listed: ${pids.join(" ")}`);
  assert.equal(out.bareVictim.trim(), "ok", "positive control: bare, the victim's entry reads");
});

scriptCase("kernel view: the hidden /proc files read empty and cannot be unmasked or written", SCRIPT, ["${PROBE}", "hidden"], (out, who) => {
  inView(out);
  for (const [f, text] of Object.entries(out.seen)) assert.equal(text, "", `/proc/${f} is covered by an empty file`);
  assert.notEqual(out.writeKallsyms.trim(), "ok");
  assert.equal(out.umountKallsyms.trim(), "EPERM");
  assert.ok(out.bareKallsyms > 0, "positive control: bare, /proc/kallsyms has content");
  assert.equal(out.sysctl.trim(), "EACCES", "host sysctls stay unwritable (Landlock's read-only /proc rule)");
  if (who === "root") assert.equal(out.bareSysctl.trim(), "EINVAL", "positive control: bare root's write reaches the sysctl");
});

scriptCase("kernel view: mountinfo lists only what the grants reach; mount, umount, pivot_root, unshare, setns and userns clones are refused", SCRIPT, ["${PROBE}", "mounts"], (out) => {
  inView(out);
  const ok = (p: string): boolean => p === "/" || out.grants.some((g: string) => within(p, g));
  assert.deepEqual(out.inside.filter((p: string) => !ok(p)), [], "no mount outside the grants");
  assert.ok(out.bare.some((p: string) => !ok(p)), "positive control: the host table has mounts outside the grants");
  for (const k of ["mount", "umountProc", "pivot", "unshare", "setns", "cloneUserns"]) assert.equal(out[k].trim(), "EPERM", k);
  assert.equal(out.unshareMount.trim(), "unshare:EPERM");
  const api = out.mountApi.trim().split("\n");
  assert.equal(api.length, 10, out.mountApi);
  for (const l of api) assert.match(l, / EPERM$/, "the mount API, chroot and sethostname are refused");
  assert.match(out.capEff, /^CapEff:\s+0+$/);
  assert.equal(out.bareUnshareMount.trim(), "ok", "positive control: bare, a fresh user namespace may mount");
});

scriptCase("kernel view: /proc/net shows no host socket and no host interface", SCRIPT, ["${PROBE}", "net"], (out) => {
  inView(out);
  assert.equal(out.listenerInside, false);
  assert.equal(out.tcpLines, 1, "only the header: the sandbox has no socket of its own");
  assert.deepEqual(out.interfaces, ["lo"]);
  assert.equal(out.listenerBare, true, "positive control: bare, the listener is listed");
});

scriptCase("kernel view: no .. or symlink spelling leaves the constructed root", SCRIPT, ["${PROBE}", "escape"], (out) => {
  inView(out);
  for (const [p, r] of Object.entries(out.seen)) assert.equal(r, "ENOENT", p);
  assert.equal(out.made, "ENOENT", "a symlink to / made inside leads to the constructed root");
  for (const [p, r] of Object.entries(out.bareSeen)) assert.equal(r, "ok", `positive control: bare, ${p} reads`);
  assert.equal(out.own, "ok", "positive control: the granted work dir reads");
});

scriptCase("kernel view: the init (pid 1) cannot be signalled, traced or written from inside; the command (pid 2) dies of its own signals and of a graceful stop", SCRIPT, ["${PROBE}", "pid1"], (out) => {
  inView(out);
  const [kill9, term, stop, hup, alive, state] = out.fromInside;
  assert.deepEqual([kill9, term, stop, hup, alive], ["ok", "ok", "ok", "ok", "alive"], "SIGKILL, SIGTERM, SIGSTOP and SIGHUP to pid 1 from inside are accepted and not delivered");
  assert.match(state, /^State:\s+S/, "the init is neither stopped nor gone");
  assert.equal(out.bareShell, "ok", "positive control: bare, the shell dies of its own SIGKILL (no \"alive\")");
  assert.equal(out.getpid, "2 1");
  assert.equal(out.selfTerm, "SIGTERM", "kill -TERM $$ ends the command (no \"survived\")");
  assert.equal(out.selfKill, "SIGKILL");
  assert.equal(out.ptraceInit, "EPERM", "ptrace of the init");
  assert.equal(out.ptraceChildBare, "ok", "positive control: bare, attaching to one's own child works");
  assert.equal(out.initMem, "EACCES", "the init's memory cannot be opened for writing");
  assert.equal(out.ownMemBare, "EIO", "positive control: bare, one's own memory opens for writing (the write at 0 fails)");
  assert.deepEqual(out.unhandled, { exitCode: null, signal: "SIGTERM" }, "a command without a handler dies of the graceful stop's SIGTERM");
  assert.deepEqual(out.handled, { exitCode: 3, signal: null }, "a command handling SIGTERM runs its handler");
});

scriptCase("kernel view: a host pid names nothing inside; a host pid reported as a clone's cannot become its pid; maxProcesses does not count the init", SCRIPT, ["${PROBE}", "pids"], (out) => {
  inView(out);
  assert.equal(out.victimInside, "ESRCH", "the victim's host pid, from inside");
  assert.equal(out.victimBare, "ok", "positive control: bare, the same pid is the victim");
  assert.match(String(out.outside), /^no child of the zygote has pid \d+ in its namespace$/);
  assert.equal(out.own, true, "positive control: the sandbox's own process translates to its pid");
  assert.equal(out.forkUnderOne, "EAGAIN", "maxProcesses 1: the command alone");
  assert.equal(out.forkUnderTwo, "ok", "positive control: maxProcesses 2 lets one fork through");
});

scriptCase("kernel view: fsDenied's covers and the supervisor's protected names hold in the constructed root (EACCES, EBUSY, EACCES); renames across directories of a grant work; control: without them every op succeeds", SCRIPT, ["${PROBE}", "covers"], (out) => {
  inView(out);
  // protectedFiles without a workdir: the supervisor's name operations refuse (EACCES), the
  // read-only binds are left out (features.ts), under this view as under the supervised one.
  assert.deepEqual(out.covered, { view: "kernel", read: "EACCES", rename: "EBUSY", protectedWrite: "EACCES", renameAcross: "ok" });
  assert.deepEqual(out.control, { view: "kernel", read: "ok", rename: "ok", protectedWrite: "ok", renameAcross: "ok" });
});

scriptCase("kernel view: a policy with network keeps the supervised view; for a user, ids other than its own show as the overflow id, for root every id maps", SCRIPT, ["${PROBE}", "fallback"], (out, who) => {
  inView(out);
  assert.ok(!["1", "2"].includes(out.netSelfPid), `with network: no new pid namespace (pid ${out.netSelfPid})`);
  assert.equal(out.netVictim.trim(), "EACCES", "with network: the supervised view hides /proc/1 (Landlock)");
  assert.equal(out.uidOwner, who === "root" ? "0" : "65534", "/etc/passwd (root's) as the sandbox sees its owner");
  if (who === "root") assert.equal(out.otherOwner, "4242:4242", "root's sandbox maps every id: another owner shows as itself");
});

scriptCase("kernel view: the init runs under its own allow list and survives a stop and continue while it reaps", SCRIPT, ["${PROBE}", "initfilter"], (out) => {
  inView(out);
  assert.equal(out.filters.initMode, "2", "the init is in seccomp filter mode");
  assert.equal(out.filters.init, "1", "one filter, not stacked on the command's");
  assert.equal(out.filters.command, "1", "the command has its own program only");
  assert.match(out.stopped, /^T/, "pause() stopped the init too");
  assert.equal(out.signal, null, "the init was not killed by its filter (the namespace would have gone with it)");
  assert.equal(out.exitCode, 0);
  assert.match(out.out, /up\ndone/);
});
