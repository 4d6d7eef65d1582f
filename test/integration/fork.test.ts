// COW fork and map-reduce against the real kernel: a confined Node zygote, clones that
// share its memory, their statuses, limits and failure modes, and the reduce step. Each
// scenario runs as root and as the unprivileged test user (test/scripts/fork-case.ts).
// The cases of many clones at once are fork-many.test.ts's (run in the suite's
// timing-sensitive part, alone).

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/fork-case.js";
const THP = "/sys/kernel/mm/transparent_hugepage/enabled";
type Json = any;

function ok(o: Json): Json {
  assert.equal(o.crashed, undefined, o.crashed);
  return o;
}

scriptCase("fork: init state is in every clone, CLONE_ID 0..n-1 once each, in clone order; reduce sums the squares", SCRIPT, ["module"], (o: Json) => {
  ok(o);
  assert.deepEqual(
    o.lines,
    [0, 1, 2, 3, 4, 5].map((i) => `${i} ${i * i} ${i} built-by-${o.zygoteInside}\n`),
  );
  assert.equal(new Set(o.pids).size, 6);
  assert.ok(!o.pids.includes(o.zygote));
  assert.deepEqual(o.statuses, Array(6).fill(["exited", 0]));
  assert.deepEqual(o.states, Array(6).fill("stopped"));
  assert.equal(o.isSandbox, true);
  assert.deepEqual(o.reduced, { status: "exited", stdout: "55", stderr: "" });
});

scriptCase("fork: the zygote's heap sits in a few 1 GiB regions (V8's hint range reserved), a plain node's is scattered; node's code is in anonymous huge pages (not under noHugePages); the preload leaves no trace in the environment", SCRIPT, ["heapLayout"], (o: Json) => {
  ok(o);
  assert.equal(o.zygote.reserved, true);
  assert.ok(o.zygote.regions <= 8, `zygote: anonymous memory in ${o.zygote.regions} regions of 1 GiB`);
  // control: without the reservation V8 scatters its pages (one region each, about 15)
  assert.equal(o.control.reserved, false);
  assert.ok(o.control.regions >= 10, `plain node: anonymous memory in ${o.control.regions} regions of 1 GiB`);
  // node's code moved into anonymous memory by the preload (huge pages where the kernel
  // gives them: THP may be off on a host, so only the move is required); control: noHugePages
  const thp = existsSync(THP) ? readFileSync(THP, "latin1") : "[never]";
  assert.equal(o.zygote.code.anonymous, existsSync(THP), JSON.stringify(o.zygote));
  if (!thp.includes("[never]")) assert.ok(o.zygote.code.hugeKb >= 2048, JSON.stringify(o.zygote));
  assert.deepEqual(o.smallCode, { anonymous: false, hugeKb: 0 });
  assert.equal(o.seen, JSON.stringify([null, null, null]));
  assert.equal(o.seenKept, JSON.stringify(["/nonexistent/sandlock-test.so", null, "1"]));
});

scriptCase("fork: functions are shipped as source, a zygote forks again, a closure is explained", SCRIPT, ["functions"], (o: Json) => {
  ok(o);
  assert.deepEqual(o.first, ["0:10:0", "1:20:1", "2:30:2"]);
  assert.deepEqual(o.second, ["0:10:0", "1:20:1"]);
  assert.equal(o.closure.exitCode, 1);
  assert.match(o.closure.stderr, /ReferenceError: outer is not defined \(work was sent to the zygote as source text: variables of its surrounding scope do not travel/);
});

scriptCase("fork: an init that throws rejects fork with its message; missing or non-function exports are named", SCRIPT, ["initErrors"], (o: Json) => {
  ok(o);
  assert.equal(o.thrown.name, "SandboxError");
  assert.match(o.thrown.message, /^fork: init failed in the zygote: Error: boom in init$/);
  assert.match(o.missing.message, /has no function export named "nope" \(its exports: failingInit, init, mapData, notAFunction, slowInit, value, work\)/);
  assert.match(o.notFn.message, /the export "value" is a number, not a function/);
  assert.equal(o.asyncInit, "0 undefined 0 async-init");
});

scriptCase("fork: clone statuses (throw, exitCode, process.exit, kill) and pause/resume of one clone", SCRIPT, ["statuses"], (o: Json) => {
  ok(o);
  const r = o.results;
  assert.deepEqual(r[0], { status: "exited", exitCode: 0, signal: null, stderr: "" });
  assert.equal(r[1].exitCode, 1);
  assert.match(r[1].stderr, /^work\(1\) failed: Error: work 1 failed on purpose/);
  assert.equal(r[2].exitCode, 3);
  assert.equal(r[3].exitCode, 4);
  assert.deepEqual(r[4], { status: "killed", exitCode: null, signal: "SIGKILL", stderr: "" });
  assert.equal(r[5].exitCode, 0);
  assert.equal(o.pausedState, "paused");
  assert.equal(o.procStateWhilePaused, "T");
  assert.equal(o.ticks, 40, "the paused clone resumed and finished its output");
  assert.match(o.afterKill.message, /^kill: not running \(the clone has exited\)$/);
});

scriptCase("fork: a clone writing past 100 MiB is killed and its wait() rejects with OutputLimitError; a sibling under it finishes", SCRIPT, ["overflow"], (o: Json) => {
  ok(o);
  assert.deepEqual(o.ok, { status: "exited", exitCode: 0, bytes: 8 << 20 }, "control: 8 MiB are kept whole");
  assert.equal(o.over.name, "OutputLimitError");
  assert.equal(o.over.stream, "stdout");
  assert.match(o.over.message, /^stdout: the command wrote more than maxBuffer \(104857600 bytes\), so the sandbox was killed/);
  assert.deepEqual([o.over.status, o.over.signal, o.over.kept], ["killed", "SIGKILL", 100 << 20]);
});

scriptCase("fork: a clone's stdout and stderr pipes hold 16 KiB and 4 KiB (the uid's pipe pages: 5 a clone, not 32); Sandbox.run's keep the kernel's 64 KiB (control)", SCRIPT, ["pipeSizes"], (o: Json) => {
  assert.deepEqual(o.clones, ["0 16384 4096 ", "0 16384 4096 ", "0 16384 4096 "], JSON.stringify(o));
  assert.equal(o.control, "0 65536 65536 ", JSON.stringify(o));
});

scriptCase("fork: the mapper reads data the reducer cannot (EACCES); a clone cannot read outside its grants", SCRIPT, ["grants"], (o: Json) => {
  ok(o);
  // Outside the grants: EACCES from Landlock in the supervised view; in the kernel view the
  // path does not exist in the sandbox's constructed root.
  const denied = (view: string): string => ({ kernel: "ENOENT", supervised: "EACCES" })[view] ?? `no view: ${view}`;
  assert.deepEqual(o.reduced, { status: "exited", stdout: `${denied(o.views[0])} 30`, stderr: "" });
  assert.equal(o.outside, denied(o.views[1]));
});

scriptCase("fork: maxMemory counts per clone (two 100 MiB clones fit 256M, a 400 MiB one is killed); fork beyond maxProcesses is refused whole", SCRIPT, ["limits"], (o: Json) => {
  ok(o);
  assert.deepEqual(o.memory[0], { status: "exited", signal: null, exitCode: 0, stdout: "100 1" });
  assert.deepEqual(o.memory[1], { status: "exited", signal: null, exitCode: 0, stdout: "100 1" });
  assert.equal(o.memory[2].signal, "SIGKILL");
  assert.equal(o.memory[2].stdout, "");
  assert.equal(o.tooMany.name, "SandboxError");
  assert.equal(
    o.tooMany.message,
    "fork(10): 10 clones would exceed maxProcesses 10: 1 process is already running in this fork group (the zygote counts); raise maxProcesses to at least 11",
  );
  assert.deepEqual(o.nine, Array(9).fill(0));
});

scriptCase("fork: a fork that fails part-way kills the clones it made and names the failing call", SCRIPT, ["partial"], (o: Json) => {
  ok(o);
  assert.equal(o.err.name, "SandboxError");
  assert.match(o.err.message, /^fork\(20\): clone (\d+) could not be created: pipe2: EMFILE; the \1 clone\(s\) already made were killed$/);
  assert.equal(o.stateAfter, "running", "the zygote itself goes on");
  assert.deepEqual(o.left, []);
});

scriptCase("fork: a zygote killed during fork rejects it and leaves no process behind", SCRIPT, ["zygoteDies"], (o: Json) => {
  ok(o);
  assert.equal(o.err.name, "SandboxError");
  assert.match(o.err.message, /^fork: the zygote exited \(killed by SIGKILL\)/);
  assert.equal(o.zygoteAlive, false);
  assert.deepEqual(o.left, []);
});

scriptCase("fork: killing the parent Node process kills the zygote and every clone", SCRIPT, ["parentKilled"], (o: Json) => {
  ok(o);
  assert.equal(o.aliveBefore, o.total);
  assert.deepEqual(o.left, []);
});

scriptCase("fork: a script that ends without disposing exits normally; the idle zygote goes with it", SCRIPT, ["idleExit"], (o: Json) => {
  ok(o);
  assert.deepEqual([o.code, o.signal, o.stderr], [0, null, ""]);
  assert.deepEqual(o.outputs, ["clone 0", "clone 1"]);
  assert.equal(o.zygoteAlive, false);
});

scriptCase("fork: a zygote that reports another sandbox's process as its clone gets no hold on it (pid 0) and the clone's kill leaves it running; control: its own sandbox's kill ends it", SCRIPT, ["otherSandbox"], (o: Json) => {
  ok(o);
  assert.equal(o.clonePid, 0, JSON.stringify(o));
  assert.match(o.afterCloneKill, /^[SR]$/, `the other sandbox's process after the clone's kill: ${JSON.stringify(o)}`);
  assert.match(o.afterDispose, /^[SR]$/, JSON.stringify(o));
  assert.equal(o.control, "SIGKILL", `control: ${JSON.stringify(o)}`);
});

scriptCase("fork: a clone's stdout and stderr stream as they come, and read after it exited still hold every byte, then end", SCRIPT, ["streams"], (o: Json) => {
  ok(o);
  assert.equal(o.early, "out 0 a\nout 0 b\n");
  assert.equal(o.lateOut, "out 1 a\nout 1 b\n");
  assert.equal(o.lateErr, "err 1\n");
  assert.deepEqual(o.captured, ["out 0 a\nout 0 b\n", "out 1 a\nout 1 b\n", "err 1\n"]);
});
