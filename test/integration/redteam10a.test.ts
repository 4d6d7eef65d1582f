// The tenth security review, part A (docs/security.md, "The tenth review, part A: fork
// groups"): a fork group attacked from inside. The zygote runs the sandbox's code, so what
// it sends the parent (messages, descriptors, exit reports) is the sandbox's word; clones
// leave processes behind. As root and as the test user; each case has a control that shows
// a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/red10a-case.js";
type Json = any;

// Each attack runs in a child Node process of the case's, as the parent of its fork group
// (five at once): before the fixes, malformed messages and a device for a pipe ended that
// process (an exception thrown in the parent's poll callback), descriptors sent with other
// messages stayed in it (10,000), a pipe made blocking behind its back stalled its event
// loop until the clone exited (10 s), a false exit report left the clone running with a
// handle that would not kill it, and withheld reports kept kill() pending.
scriptCase("fork: a hostile zygote's messages and descriptors neither crash, hang nor fill the parent", SCRIPT, ["hostile-zygote"], (o: Json) => {
  assert.equal(o.error, undefined, o.error);
  const m = o.messages;
  assert.equal(m.error, undefined, JSON.stringify(m));
  assert.equal(m.ended, undefined, `the parent survived malformed messages: ${JSON.stringify(m)}`);
  // Fields of the wrong type (rows a number, pids a string): the group fails, the parent goes on.
  assert.equal(m.rows.err, "fork: the zygote sent a malformed message");
  assert.equal(m.pids.err, "fork: the zygote sent a malformed message");
  // 40 messages of 250 descriptors each: none kept (before: 10,000 kept after the group ended).
  assert.match(m.fds.err, /^fork: the zygote sent descriptors with a "exits" message; the fork group was ended$/);
  assert.ok(m.fds.fdsGrew <= 2, `descriptors kept by the parent: ${m.fds.fdsGrew}`);
  for (const mode of ["rows", "pids", "fds"]) assert.deepEqual([m[mode].state, m[mode].left], ["stopped", 0], `the group ended itself, whole: ${JSON.stringify(m)}`);
  assert.ok(m.liveGrew >= 6, `control: the count sees a live group's pipes and pidfds: ${m.liveGrew}`);
  // /dev/zero for a clone's stdout and stderr: refused by kind (before: libuv's EPERM thrown).
  assert.equal(o.device.ended, undefined, JSON.stringify(o.device));
  assert.equal(o.device.err, "fork: a clone's output from the zygote is a character device, not a pipe; the fork group was ended");
  // The clone's stdout made blocking under the parent by a process holding a copy of its
  // read end: the parent reads its own description and its timers go on.
  const b = o.blocking;
  assert.equal(b.ended, undefined, `the parent's event loop: ${JSON.stringify(b)}`);
  assert.equal(b.stdout, "ab", JSON.stringify(b));
  assert.ok(b.maxGap < 1000, `the parent's event loop stalled for ${b.maxGap} ms (before: until the clone's exit, 10 s)`);
  assert.equal(b.report, "cleared", "control: the holder ran and made its description blocking");
  assert.ok(b.holderFlags !== null && (parseInt(b.holderFlags, 8) & 0o4000) === 0, `control: the shared description is blocking (flags ${b.holderFlags})`);
  // A clone reported as exited while it runs on: its handle ends it (before: the process ran
  // on, wait() pending, and kill() said "not running").
  const f = o.falseExit;
  assert.equal(f.aliveBefore, true, `control: the clone was running before the report: ${JSON.stringify(f)}`);
  assert.deepEqual([f.settled, f.status, f.signal, f.aliveAfter], [true, "killed", "SIGKILL", false], JSON.stringify(f));
  // No exit report ever: kill() settles once the pidfd shows the clone gone and a grace of
  // 2 s passed (before: pending until the group ended). Control: a clone that exited by
  // itself has no report either, and its wait() stays pending.
  const w = o.withhold;
  assert.deepEqual([w.killed, w.status, w.signal, w.aliveAfter], ["settled", "killed", "SIGKILL", false], JSON.stringify(w));
  assert.ok(w.killMs < 6000, JSON.stringify(w));
  assert.equal(w.quickWait, "pending", `control: the zygote withheld every exit report: ${JSON.stringify(w)}`);
}, 90_000);

// A clone that leaves a process in a session of its own holding its stdout: wait() and a
// reduce over it waited for that process (a minute here, for ever with `sleep infinity`),
// and the clone's kill() said "not running". Now a clone's result settles when it exits,
// with what it wrote. Control: what it left is alive and holds the pipe when wait() settles.
// Held: disposing the group ends everything the clones left (sessions of their own, double
// forks, SIGTERM ignored, stopped).
scriptCase("fork: what a clone leaves behind keeps neither its result nor a reduce waiting, and the group's end ends it", SCRIPT, ["leftovers"], (o: Json) => {
  assert.equal(o.error, undefined, o.error);
  assert.ok(o.settledMs !== null && o.settledMs < 4000, `wait() settled after ${o.settledMs} ms`);
  // (stdoutText: without the last line break)
  assert.deepEqual(o.stdout, ["started\nwork 0 done", "started\nwork 1 done"]);
  assert.equal(o.reduced, "started\nwork 0 done\nstarted\nwork 1 done");
  assert.ok(o.sleepersAlive >= 2 && o.sleepersHoldingStdout >= 1, `control: the left processes are alive and hold the pipe: ${JSON.stringify(o)}`);
  assert.equal(o.stopped, 1, "control: one stopped itself");
  assert.equal(o.leftAfterDispose, 0, `nothing left after the group's end: ${JSON.stringify(o)}`);
}, 60_000);
