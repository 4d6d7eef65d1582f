// The tenth security review, part B (docs/security.md, "The tenth review, part B"): policyFn
// and what a sandbox does through its events (exec arguments and sends held by the supervisor, a FIFO
// exec'd, ctx.denyPath escaped by a rename or a unix socket, IPv6 spellings and
// restrictNetwork), timeStart's far absolute sleeps, a failed exec's explanation, and effects
// outside every path rule (POSIX message queues, TIOCEXCL on the inherited terminal). As root
// and as the test user; each case has a control that shows a win would be seen.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

const SCRIPT = "dist/test/scripts/red10b-case.js";

// An exec policyFn allowed and the kernel then refused (one argument past its 128 KiB
// string limit: E2BIG) kept its approval, with the whole argv, until the table's bound of
// 4,096 pids: 100 children of one process, one 1 MB buffer, held 96 MiB of the supervisor's
// heap (up to 8 GiB at the bound). Now an approval keeps digests. And execs waiting for an
// async verdict each held their arguments (64 threads at once, one 1.5 MB buffer: 91.6 MiB);
// now at most 32 MiB of them wait at once, the rest get ENOMEM. Controls: every exec reached
// the callback with its whole argument; 8 threads at once are all asked.
scriptCase("policyFn: exec arguments held for approvals and pending verdicts are bounded in the supervisor", SCRIPT, ["${PROBE}", "exec-args"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.kept.stdout, "e2big 100 other 0", "every exec was refused by the kernel after the callback allowed it");
  assert.equal(o.kept.asked, 101, "control: each exec was an event (and the probe's own)");
  assert.equal(o.kept.longest, 1_000_000, "control: the callback saw the whole argument");
  assert.ok(o.kept.growthMiB < 30, `the supervisor's heap grew by ${o.kept.growthMiB} MiB`);
  assert.match(o.flood.stdout, /^threads 64 enomem \d+ e2big \d+ other 0$/);
  assert.ok(o.flood.peakMiB <= 32, `arguments waiting for the callback at once: ${o.flood.peakMiB} MiB`);
  assert.ok(o.flood.refused.some((r: string) => /^execve ENOMEM \/(usr\/)?bin\/true the supervisor already holds 32 MiB /.test(r)), o.flood.refused.join("\n"));
  assert.equal(o.few.stdout, "threads 8 enomem 0 e2big 8 other 0", "control: a few execs at once are all decided");
  assert.equal(o.few.calls, 9);
  assert.ok(o.few.peakMiB > 10, `control: the few were pending together (${o.few.peakMiB} MiB)`);
}, 120_000);

// POSIX message queues live in the host's IPC namespace, and mq_open and mq_unlink reach them
// by name, with no path rule on the way: in the supervised view a sandbox removed a queue
// another program of its user had made, and made one that outlived it (each counts against
// the host's 256). Now the calls are on the blocklist (EPERM) in both views. Controls: the
// same probe outside a sandbox removes the victim and leaves its own queue; the kernel view
// had a namespace of its own (it saw no victim) and still refuses.
scriptCase("POSIX message queues: a sandbox neither removes the host's queues nor leaves its own", SCRIPT, ["${PROBE}", "mqueue"], (o) => {
  assert.equal(o.error, undefined, o.error);
  for (const view of ["supervised", "kernel"]) {
    assert.equal(o[view].procView, view);
    assert.deepEqual(o[view].inside, ["unlink EPERM", "create EPERM"], view);
    assert.equal(o[view].victimLeft, true, `${view}: the host's queue is still there`);
    assert.equal(o[view].mineLeft, false, `${view}: the sandbox left no queue`);
  }
  assert.deepEqual(o.control, ["unlink ok", "create ok"]);
  assert.equal(o.controlVictimLeft, false, "control: outside a sandbox the victim is removed");
  assert.equal(o.controlMineLeft, true, "control: outside a sandbox the queue stays");
}, 60_000);

// TIOCEXCL on the terminal the sandbox inherits (the CLI run from a shell) made it exclusive
// after the sandbox ended: no one without CAP_SYS_ADMIN could open the user's terminal again
// (EBUSY: sudo's and ssh's password prompts, /dev/tty). It needs no permission. Now refused
// with EPERM, as TIOCSETD is. Controls: TIOCNXCL reaches the terminal from inside; bare, the
// same call sets the flag, and the test user's reopen then fails.
scriptCase("a sandbox cannot make the terminal it inherits exclusive (TIOCEXCL)", SCRIPT, ["${PROBE}", "tty", "${STAGE}"], (o, who) => {
  assert.equal(o.error, undefined, o.error);
  for (const view of ["supervised", "kernel"]) {
    assert.deepEqual(o[view], ["EPERM", "excl 0 reopen ok"], view);
    assert.deepEqual(o[`${view}Nxcl`], ["ok", "excl 0 reopen ok"], `${view}: control, TIOCNXCL reaches the terminal`);
  }
  assert.deepEqual(o.bare, ["ok", `excl 1 reopen ${who === "root" ? "ok" : "EBUSY"}`], "control: bare, the terminal stays exclusive");
}, 90_000);

// ctx.denyPath compares real paths, and renaming a directory above a denied file (the
// directory itself or one further up) moved the file to a path no rule named: it was read
// at its new name. Now a rename of a directory holding a denied path is refused (EACCES).
// And a host agent's unix socket in a denied directory was still connected to (the
// supervisor performs that connect and asked only the grants); now EACCES. Control:
// without the denials the same renames and reads succeed and the agent answers.
scriptCase("policyFn: ctx.denyPath cannot be escaped by renaming a directory above the denied file, and covers unix sockets", SCRIPT, ["${PROBE}", "deny-rename"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.deepEqual(o.denied.stdout, ["direct-refused", "agent Permission denied"], "the secret is read by no name, the agent not reached");
  assert.ok(o.denied.refused.some((r: string) => /^connect EACCES .*\/agent\/sock denied by policyFn's ctx\.denyPath$/.test(r)), o.denied.refused.join("\n"));
  assert.ok(o.denied.refused.some((r: string) => /^rename EACCES .*\/proj holds a path denied by policyFn's ctx\.denyPath$/.test(r)), o.denied.refused.join("\n"));
  assert.ok(o.denied.refused.some((r: string) => /^rename EACCES .*\/proj\/sub holds a path denied by policyFn's ctx\.denyPath$/.test(r)), o.denied.refused.join("\n"));
  assert.deepEqual(o.control.stdout, ["TOPSECRET", "TOPSECRET", "TOPSECRET", "AGENT-SECRET"], "control: without the denials both renames carry the file and the agent answers");
}, 60_000);

// timeStart: an absolute sleep whose deadline lay more than 24.8 days ahead (2^31 - 1 ms, a
// Node timer's most) got a 1 ms timer and a TimeoutOverflowWarning each time it re-armed:
// 200 sleeping threads took 2.7 s of the supervising process's CPU in 3 s and wrote 267,000
// lines to its stderr. Now the wait takes timers of at most that length. Control: a deadline
// one day ahead; in both, no sleeper wakes early.
scriptCase("timeStart: an absolute sleep decades ahead neither spins the supervisor nor floods its stderr", SCRIPT, ["${PROBE}", "abs-sleep"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.far.stdout, "sleepers 100 woke 0");
  assert.equal(o.far.warnings, 0, "no TimeoutOverflowWarning");
  assert.ok(o.far.cpuMs < 1500, `the supervising process's CPU over 2 s: ${o.far.cpuMs} ms (near: ${o.near.cpuMs} ms)`);
  assert.equal(o.near.stdout, "sleepers 100 woke 0", "control: the sleepers are held");
  assert.equal(o.near.warnings, 0);
}, 60_000);

// ctx.restrictNetwork kept an IPv6 address in its compressed form ("::1") while the connects
// it narrows were compared as eight words ("0:0:0:0:0:0:0:1"), so an IPv6 address given to it
// (or to grantNetwork, restrictPidNetwork) allowed nothing: fail-closed, found while checking
// that every spelling of a destination reaches the callback as one. Now both are one form
// (an IPv4-mapped address as its IPv4 one). Control: narrowed to 127.0.0.1, the IPv6
// connects after the first are refused.
scriptCase("policyFn: every spelling of an IPv6 destination is one host to the callback and to restrictNetwork", SCRIPT, ["${PROBE}", "ipv6-narrow"], (o) => {
  assert.equal(o.error, undefined, o.error);
  for (const keep of ["::1", "::ffff:127.0.0.1,0:0::1"]) {
    assert.deepEqual(o[keep].stdout, ["::1 HIT", ":: HIT", "::0:1 HIT"], keep);
    assert.deepEqual(o[keep].hosts, ["0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1"], `${keep}: one spelling in the events`);
  }
  assert.deepEqual(o["127.0.0.1"].stdout, ["::1 HIT", ":: Connection refused", "::0:1 Connection refused"], "control: the narrowing is in force");
}, 60_000);

// policyFn: after an allowing verdict the supervisor read the exec's file for a #! line with
// a blocking open: a FIFO the sandbox made executable and ran held the whole supervising
// process in that open (its event loop, the run's timeout, every sandbox of it) until a
// writer came. Now it opens without blocking and reads regular files only. Control: without
// policyFn the same exec fails at once.
scriptCase("policyFn: exec of a FIFO never blocks the supervising process", SCRIPT, ["${PROBE}", "exec-fifo"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.policyFn.hung, false, `the run ended (${o.policyFn.ms} ms)`);
  assert.equal(o.policyFn.out, "exec-returned 126 exited");
  assert.equal(o.control.out, "exec-returned 126 exited", "control: without policyFn the kernel refuses the FIFO");
}, 90_000);

// A failed exec is explained by reading the program and its #! interpreter, which sandlock
// opened blocking: a FIFO left by a sandbox in a writable grant, as the program or as the
// interpreter a script names, held the CLI (and a library's process) in that open for good.
// Now opened without blocking, read only when a regular file. Control: bare, the shell's
// exec of the FIFO fails at once.
scriptCase("an exec that fails on a FIFO is explained without blocking sandlock", SCRIPT, ["${PROBE}", "explain-fifo", "${STAGE}"], (o) => {
  assert.equal(o.error, undefined, o.error);
  for (const k of ["program", "interpreter"]) {
    assert.equal(o[k].hung, false, `${k}: the CLI ended`);
    assert.ok(o[k].code === 126 || o[k].code === 127, `${k}: ${JSON.stringify(o[k])}`);
  }
  assert.match(o.program.stderr, /^sandlock: execve\(.*\/ff\): EACCES/);
  assert.equal(o.bare.hung, false);
  assert.equal(o.bare.code, 126, "control: bare, the exec fails at once");
}, 90_000);

// policyFn: a send to an allowed address waits for the callback holding its data (up to 1
// MiB copied) and its socket's duplicate; 200 threads each sending 1 MB under a callback
// that took 2 s grew the supervising process by 196 MiB (97 waiting at once under 1 s).
// Now at most 256 calls and 32 MiB of one sandbox wait at once; beyond, ENOBUFS (a connect:
// EAGAIN). Control: 8 threads at once are all asked.
scriptCase("policyFn: sends waiting for the callback are bounded in the supervisor", SCRIPT, ["${PROBE}", "send-flood"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.ok(o.flood.peak <= 33, `sends of 1 MB waiting at once: ${o.flood.peak}`);
  assert.match(o.flood.stdout, /ENOBUFS \d+/);
  assert.ok(o.flood.refused.some((r: string) => r.startsWith("sendto ENOBUFS policyFn the supervisor already holds 256 calls or 32 MiB")), o.flood.refused.join("\n"));
  assert.equal(o.few.stdout, "EMSGSIZE 8", "control: every send was asked about, then refused by the kernel (a datagram of 1 MB)");
  assert.equal(o.few.asked, 8);
  assert.equal(o.few.peak, 8, "control: the few waited together");
}, 90_000);

// policyFnFiles: an open waiting for the verdict keeps the supervisor's pin of its file for as
// long as the callback takes: 300 threads opening at once under a 1 s callback all waited
// together, 316 more descriptors of the supervising process (4,096 threads at the default
// cap). Now at most 256 opens of one sandbox wait at once; the next gets ENFILE. Control: 8
// threads at once are all asked.
scriptCase("policyFnFiles: opens waiting for the callback are bounded in the supervisor", SCRIPT, ["${PROBE}", "open-flood"], (o) => {
  assert.equal(o.error, undefined, o.error);
  assert.ok(o.flood.peak <= 256, `opens waiting at once: ${o.flood.peak}`);
  assert.match(o.flood.stdout, /^ENFILE \d+ ok \d+$/);
  assert.ok(o.flood.refused.some((r: string) => /^openat ENFILE \S+ the supervisor already holds 256 opens of this sandbox's waiting for policyFn$/.test(r)), o.flood.refused.join("\n"));
  assert.equal(o.few.stdout, "ok 8", "control: a few opens at once are all decided");
  assert.equal(o.few.peak, 8);
}, 90_000);
