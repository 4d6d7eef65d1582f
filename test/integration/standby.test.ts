// The standby launcher (src/confine/standby.ts, native/launcher/standby.c), off by default
// and turned on by each case but "off": a kernel-view start that takes over a launcher
// started ahead is confined exactly as a fresh one, gets its own stdio, and a standby never
// outlives its Node process, its own death or a change of what it inherited. As root and
// as the test user.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runScript, scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/standby-case.js";

scriptCase("standby: the next kernel-view start takes the waiting launcher over and is confined as a fresh start", SCRIPT, ["${PROBE}", "adopt"], (out) => {
  assert.ok(out.waiting > 0, "a launcher waits after the first kernel-view start");
  assert.equal(out.adopted.launcher, out.waiting, "the second start's launcher is the one that waited");
  assert.notEqual(out.first.launcher, out.waiting);
  assert.notEqual(out.cold.launcher, out.waiting, "with standbys off, a launcher of its own");
  for (const r of [out.first, out.adopted, out.cold]) {
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /secret: No such file or directory/, "a host file outside the grants does not exist");
    assert.match(r.out, /^pid 2$/m, "the command is pid 2 of its own pid namespace");
    assert.match(r.out, /^Seccomp:\s+2$/m);
    assert.match(r.out, /^NoNewPrivs:\s+1$/m);
    assert.match(r.out, /^CapEff:\s+0+$/m);
    assert.match(r.out, /stdin: through the standby/, "stdin reaches the command");
    assert.match(r.out, /^kmsg:0 keys:0 kallsyms:0 timer_list:0 kpageflags:0 $/m, "/proc's hidden files are empty covers");
    assert.match(r.out, /\/proc\/keys: Read-only file system/, "and read-only");
  }
  assert.equal(out.adopted.out, out.first.out, "the taken-over start sees exactly what a fresh one sees");
  assert.equal(out.noProc.launcher, out.noProc.waiting, "a plan without /proc takes a standby over too");
  for (const p of ["/proc", "/old", "/new"]) assert.match(out.noProc.out, new RegExp(`^ls: cannot access '${p}': No such file or directory$`, "m"), `${p} in a root without /proc`);
  assert.match(out.noProc.out, /\/proc\/self\/mountinfo: No such file/);
  assert.equal(out.cold.out, out.first.out);
  assert.equal(out.afterOff, "gone", "setStandby(false) ends the waiting launcher, reaped");
  assert.equal(out.standbyLeft, 0, "and none is made while off");
});

scriptCase("standby: a change of working directory or umask since it started drops it for a fresh launcher", SCRIPT, ["${PROBE}", "identity"], (out) => {
  assert.ok(out.waiting > 0);
  assert.notEqual(out.launcher, out.waiting, "after chdir the waiting launcher is not used");
  assert.equal(out.code, 0);
  assert.equal(out.old, "gone", "the dropped launcher is ended and reaped, not left a zombie");
  assert.ok(out.next > 0);
  assert.notEqual(out.launcher2, out.next, "after umask the waiting launcher is not used");
  assert.equal(out.code2, 0);
});

scriptCase("standby: it ends with its Node process, by exit or by SIGKILL, and its child with it", SCRIPT, ["${PROBE}", "exit"], (out) => {
  for (const how of ["normal", "SIGKILL"]) {
    const r = out[how];
    assert.ok(r.standby > 0 && r.standbyChild > 0, `${how}: a standby with its child in the namespaces: ${JSON.stringify(r)}`);
    assert.equal(r.standbyAfter, "gone", `${how}: the standby launcher`);
    assert.equal(r.childAfter, "gone", `${how}: its child`);
  }
});

scriptCase("standby: killed from outside, its child dies with it and the next start starts its own launcher", SCRIPT, ["${PROBE}", "killed"], (out) => {
  assert.ok(out.waiting > 0);
  assert.equal(out.childAfter, "gone", "the standby's child (PR_SET_PDEATHSIG)");
  assert.notEqual(out.launcher, out.waiting);
  assert.equal(out.code, 0, out.out);
  assert.match(out.out, /stdin: through the standby/);
  assert.equal(out.standbyAfter, "gone", "the killed standby is reaped");
});

scriptCase("standby: a plan whose launcher works before its fork (maxCpu) starts its own and leaves the standby waiting", SCRIPT, ["${PROBE}", "nofit"], (out) => {
  assert.ok(out.waiting > 0);
  assert.notEqual(out.cpuLauncher, out.waiting);
  assert.equal(out.cpuCode, 0);
  assert.equal(out.still, "alive");
  assert.equal(out.launcher, out.waiting, "the next fitting start takes it");
  assert.equal(out.code, 0);
});

scriptCase("standby: off by default, none is kept; a value other than a boolean is refused by name", SCRIPT, ["${PROBE}", "off"], (out) => {
  assert.equal(out.launchers, 0);
  assert.equal(out.bad, 'TypeError: Sandbox.setStandby: expected true or false, got "yes"');
});

scriptCase("standby: twelve starts at once, one standby: each confined, each with its own stdin", SCRIPT, ["${PROBE}", "concurrent"], (out) => {
  assert.ok(out.waiting > 0);
  const took = out.runs.filter((r: { launcher: number }) => r.launcher === out.waiting);
  assert.equal(took.length, 1, "exactly one start takes the standby over");
  assert.equal(new Set(out.runs.map((r: { launcher: number }) => r.launcher)).size, 12, "twelve launchers");
  out.runs.forEach((r: { out: string; code: number }, i: number) => {
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`^n${i} 2\\n`), `run ${i} read its own stdin, as pid 2`);
    assert.match(r.out, /secret: No such file or directory/);
  });
});

scriptCase("standby: the launcher refuses a plan that needs work before its fork, and the child one naming another staging directory", SCRIPT, ["${PROBE}", "check"], (out) => {
  assert.ok(out.waiting > 0);
  assert.equal(out.launcher, out.waiting, "the forged plan went to the standby");
  assert.equal(out.error, "sandbox launcher failed (a standby launcher given a plan that needs work before its fork): EINVAL");
  assert.ok(out.waiting2 > 0);
  assert.equal(out.launcher2, out.waiting2, "the plan with another staging directory went to the standby");
  assert.match(out.error2, /^namespaces and constructed root .*: EINVAL/, "its NS_VIEW step refuses what the standby built for another");
});

test("standby: a mount, unmount or remount on the host since the standby was made drops it: a hidden directory stays hidden, a read-only remount holds, a new mount shows [root]", { skip: process.getuid?.() === 0 ? false : "mounting needs root" }, async () => {
  const out = (await runScript(SCRIPT, ["${PROBE}", "mounts"], "root")) as { waiting: number; launcher: number; out: string };
  assert.ok(out.waiting > 0);
  assert.notEqual(out.launcher, out.waiting, "the standby is not taken over");
  assert.doesNotMatch(out.out, /HIDDEN/, "the directory hidden under a tmpfs since stays hidden");
  assert.match(out.out, /No such file or directory/);
  assert.match(out.out, /Read-only file system/, "the grant remounted read-only since is read-only");
  assert.doesNotMatch(out.out, /wrote/);
  assert.match(out.out, /NEW/, "the tmpfs mounted since is seen");
});

scriptCase("standby: the I/O priority, scheduling policy, timer slack and host name changed since it was made drop it: the command sees the new ones", SCRIPT, ["${PROBE}", "inherit"], (out) => {
  assert.ok(out.waiting > 0);
  assert.notEqual(out.launcher, out.waiting, "the standby is not taken over");
  assert.match(out.out, /^idle$/m, "ionice -c3");
  assert.match(out.out, /SCHED_BATCH/);
  assert.match(out.out, /^123456$/m, "the timer slack");
  if (out.root) assert.match(out.out, /^sl-standby-renamed$/m, "the host name (the UTS namespace is copied when the standby is made)");
});
