// The thirteenth security review: what a sandbox hands out, or abuses, of what the supervisor
// or the caller gives it: fork groups' output pipes, pipelines' pipes, descriptors the
// supervisor injects or the caller passes (memfds, pidfds), and the supervisor's work for
// policy callbacks. Real sandboxed programs (test/fixtures/redteam13.c), as root and as the
// test user; the cases that need two sandboxes of one process are test/scripts/red13-case.ts.
//
// Findings; the first fixed with this file (docs/security.md, "The thirteenth review"), the
// others open (todo, "Known limits"):
// - a memfd the caller passes read-only (stdin here) was reopened for writing through
//   /proc/self/fd/0 and written, truncated and mapped shared-writable: the caller's
//   "HOST-SECRET-CONFIG\n" became "P" (now refused unless sealed);
// - memfds handed between sandboxes escape maxMemory: a sandbox that never made a memfd of
//   its own had no descriptor scanned (memory-files.ts measure: scanFds only once `memfds`),
//   so B under maxMemory 64M held 144 MiB that three sandboxes A made (each charged while
//   it ran, nothing once it ended); the same B that made one empty memfd first was charged
//   them and ended by the cap (control) (fixed since: case 2);
// - policyFn: an exec's environment of 131,000 strings (2 MiB) was copied out in one step of
//   the event loop: 120-220 ms of worst gap per exec, back to back, where the sandbox spends
//   about 0.1 ms of CPU per exec (fixed: read in turns of 4,096 strings);
// - a pipeline's stage hands its stdout (the pipe into the next stage) to a sandbox outside
//   the pipeline and exits: the next stage gets no EOF until that sandbox ends, the
//   pipeline's result waits for it, and what it wrote (5 GB in 2 s) is counted as the
//   pipeline's output (fixed since: case 4).
// - a sandbox allowed TCP anywhere (tcp://*) connects to another sandbox's domain proxy on
//   127.0.0.1 and holds 300 connections: each waited 10 s for a claim that never came
//   (proxy.ts CLAIM_MS) counted against the victim's limit (156 here), and the victim's own
//   request through its proxy was reset (ECONNRESET, "too many connections through the
//   proxy at once" in its result). A host process of any user could do the same (fixed
//   since: registration before the connect, case 4b).
// - a fork group's clone ended by maxMemory (SIGKILL) had `limit: null` in its result:
//   SPEC 10, "a run ended by a limit says which limit in its RunResult" (fixed).
// Held (passing): a pidfd handed to another sandbox; a clone's stdout handed to another
// sandbox; memfds clones of one group hand to a collector clone (charged: the collector is
// ended); the sealed memfds the supervisor serves for virtual files reopened for writing.

import assert from "node:assert/strict";
import { assertHanded } from "../helpers/givers.js";
import { scriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

const SCRIPT = "dist/test/scripts/red13-case.js";

// The attack programs, built static into the staged package so the test user can run them.
buildStaged("redteam13.c", "sl-rt13");
const RT13 = "${STAGE}/sl-rt13";

// ---- 1. a caller's memfd passed read-only is written (fixed: refused unless sealed) ----
//
// Landlock has no rule on a memfd, and a sandbox reopens any descriptor it holds through
// /proc/self/fd/N with the access it likes (the kernel alone allowed it where the supervisor
// did not trap the open, and the supervisor allowed write opens of every memfd "wherever it
// came from", fs-meta.ts privateObject): a memfd the caller passed as a read-only stdin was
// reopened for writing and its "HOST-SECRET-CONFIG" became "P". Now a read-only memfd that
// is not sealed against writes and size changes is refused as stdin/stdout/stderr before
// anything runs, naming what to do (src/confine/stdio.ts checkPassedMemfd); a sealed one
// runs, and the sandbox's reopen cannot change it (control: the reopen was tried).
scriptCase("a memfd the caller passes read-only cannot be reopened for writing", SCRIPT, [RT13, "host-memfd"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const key of ["kernel", "kernel+proc", "supervised", "supervised+proc"]) {
    const r = out[key];
    assert.match(r.refused, /^stdin: descriptor \d+ is a memfd opened read-only but not sealed against writes: the sandbox could reopen it through \/proc\/self\/fd\/\d+ for writing/, `${key}: ${JSON.stringify(r)}`);
    assert.equal(r.afterRefused, "HOST-SECRET-CONFIG\n");
    assert.equal(r.after, "HOST-SECRET-CONFIG\n", `${key}: the caller's sealed memfd was changed: ${JSON.stringify(r)}`);
    assert.doesNotMatch(r.out, /write ok|ftruncate ok|mmap ok/, `${key}: ${JSON.stringify(r)}`);
  }
  // Control: the reopen was tried where /proc reaches the descriptor.
  assert.match(out["supervised+proc"].out, /^seals \d+\nreopen /, JSON.stringify(out["supervised+proc"]));
}, 30_000);

// ---- 2. memfds handed between sandboxes escape maxMemory (fixed) ----
//
// SPEC 10: "memory held in memfd/tmpfs/shm counts against maxMemory". A's memfd is charged
// to A while anyone holds it (its probe); once A has ended, nobody: B's descriptors were
// scanned only once B made a memfd of its own. Now they are looked at once a second until a
// memory-backed file shows among them, then at every look (memory-files.ts): B is charged
// and ended by its cap. Control: with one empty memfd of its own, the same B is charged what
// it holds and ended by its cap.
scriptCase("memfds handed from sandbox to sandbox stay charged against maxMemory", SCRIPT, [RT13, "memfd-pass"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const key of ["plain", "own"]) assertHanded(out[key].givers, out[key].limit, `${key}: ${JSON.stringify(out[key])}`);
  assert.equal(out.own.limit, "memory", `control: B with a memfd of its own is charged what it holds: ${JSON.stringify(out.own)}`);
  assert.match(out.plain.b, /held 2 96/, `control: B took the memfds: ${JSON.stringify(out.plain)}`);
  assert.equal(out.plain.limit, "memory", `B under maxMemory 64M held three 48 MiB memfds other sandboxes made and was not charged: ${JSON.stringify(out.plain)}`);
}, 40_000);

// ---- 3. policyFn: an exec's 2 MiB environment in 131,000 strings (fixed: read in turns) ----
//
// readArgv (policy-exec.ts) read each string with its own copy out of the caller, in one
// step of the event loop; it now lets the loop turn every 4,096 strings. Control: the
// sandbox's execs reached the callback, which refused them; with 10 strings the same loop
// shows what the machine's own load makes of the gap.
scriptCase("policyFn: an exec with 131,000 environment strings does not hold the event loop", SCRIPT, [RT13, "exec-env"], (out) => {
  assert.equal(out.error, undefined, out.error);
  const small = out["10"];
  const big = out["131000"];
  assert.match(big.out, /^execs \d+ EPERM/, `control: the execs were refused: ${JSON.stringify(out)}`);
  assert.ok(big.events >= 3, `control: the callback saw the execs: ${JSON.stringify(out)}`);
  assert.ok(small.worstGapMs < 100, `control: 10 strings: ${JSON.stringify(small)}`);
  // (bounded by what the same loop with 10 strings shows of the machine's own load: read in
  // one step the 131,000 held the loop 120-220 ms per exec on a quiet machine)
  const bound = Math.max(50, small.worstGapMs + 40);
  assert.ok(big.worstGapMs < bound, `worst event-loop gap ${big.worstGapMs} ms (bound ${bound}) with ${big.events} exec events of 2 MiB (10 strings: ${small.worstGapMs} ms): ${JSON.stringify(out)}`);
}, 30_000);

// ---- 4. a pipeline's pipe handed outside the pipeline (fixed) ----
//
// src/pipeline.ts: "a stage that dies gives its reader EOF". Stage 0 hands its stdout (the
// pipe into stage 1, wc -c) to sandbox X and exits at once; X writes into it for 1 s. Stage
// 1 saw no EOF while X lived, the pipeline's result waited for X, and X's bytes were the
// pipeline's output (5 GB in 2 s). Now the pipeline looks at the pipe once stage 0 has
// ended: still held, stage 1 is killed and wait() throws PipeHeldError naming stage 0 (with
// the result). Control: X got the descriptor and stage 0 ended at once.
scriptCase("pipeline: a stage's pipe handed to another sandbox does not keep the pipeline going after the stage ended", SCRIPT, [RT13, "pipeline-handoff"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["kernel", "supervised"]) {
    const r = out[view];
    assert.match(r.x, /^listening\ngot a descriptor\n/, `control: X got stage 0's stdout: ${JSON.stringify(r)}`);
    assert.ok(r.stage0Ms < 1000, `control: stage 0 ended at ${r.stage0Ms} ms: ${JSON.stringify(r)}`);
    assert.ok(r.pipelineMs - r.stage0Ms < 500, `${view}: the pipeline settled ${r.pipelineMs} ms in, stage 0 ${r.stage0Ms} ms: ${JSON.stringify(r)}`);
    assert.ok(!(r.counted >= 1 << 20), `${view}: stage 1 counted ${r.counted} bytes written by X after stage 0 ended: ${JSON.stringify(r)}`);
    assert.deepEqual(r.error, { code: "PIPE_HELD", stage: 0 }, `${view}: the pipeline's wait() names the held stage: ${JSON.stringify(r)}`);
    assert.equal(r.stage1, "killed", JSON.stringify(r));
  }
}, 30_000);

// ---- 4b. another sandbox's connections squat a domain proxy (fixed) ----
//
// docs/agents.md: one sandbox's proxy serves at most RLIMIT_NOFILE / 128 connections at once
// (the bound meant for that sandbox's own connections). Connections nobody claimed were
// counted too, for 10 s each (the supervisor registered a connection once its connect had
// returned, which may come after the accept): B's 300 made A's second request fail. The
// supervisor now registers the socket's local address before it connects (binding it to
// loopback first when it has no port), and the proxy resets whatever it did not register as
// it accepts it. Control: A's first request went through; B connected. A's requests on
// non-blocking sockets connected twice, one bound to the wildcard address first, are served.
scriptCase("domain proxy: connections from another sandbox do not use up a sandbox's proxy", SCRIPT, [RT13, "proxy-squat"], (out) => {
  assert.equal(out.error, undefined, out.error);
  assert.match(out.a, /^http:\/\/127\.0\.0\.1:\d+\nrequest answered\n/, `control: A's first request went through its proxy: ${JSON.stringify(out)}`);
  assert.match(out.b, /^connected 300 of 300/, `control: B reached A's proxy: ${JSON.stringify(out)}`);
  assert.match(out.a, /^http:\/\/127\.0\.0\.1:\d+\nrequest answered\nrequest answered\n/, `A's second request, with B's connections held: ${JSON.stringify(out)}`);
  assert.match(out.a, /\nagain (connected|EALREADY)\nrequest answered\nagain (connected|EALREADY)\nrequest answered\n?$/, `A's requests on sockets connected twice: ${JSON.stringify(out)}`);
}, 30_000);

// ---- 5. a pidfd handed to another sandbox (held) ----
scriptCase("a pidfd handed to another sandbox neither signals, waits for nor takes descriptors of its process", SCRIPT, [RT13, "pidfd-pass"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["kernel", "supervised"]) {
    const r = out[view];
    assert.match(r.b, /got a descriptor\n/, `control: B got the pidfd: ${JSON.stringify(r)}`);
    assert.match(r.b, /pidfd_getfd EPERM\nwaitid ECHILD\npidfd_send_signal (EPERM|EINVAL)/, `${view}: ${JSON.stringify(r)}`);
    assert.match(r.a, /^alive/, `${view}: A was not reached: ${JSON.stringify(r)}`);
    assert.equal(r.aStatus, "exited", `${view}: ${JSON.stringify(r)}`);
  }
}, 30_000);

// ---- 6. a clone's stdout handed to another sandbox (held) ----
scriptCase("fork: a clone's stdout handed to another sandbox ends with the clone", SCRIPT, [RT13, "clone-stdout"], (out) => {
  assert.equal(out.error, undefined, out.error);
  assert.match(out.b, /^listening\ngot a descriptor\n/, `control: B got the clone's stdout: ${JSON.stringify(out)}`);
  assert.match(out.err, /sendmsg ok/, JSON.stringify(out));
  assert.ok(out.cloneMs < 3000, `the clone's wait() settled at ${out.cloneMs} ms: ${JSON.stringify(out)}`);
  assert.match(out.b, /\nwrite EPIPE after \d+\n?$/, `B's writes after the clone ended: ${JSON.stringify(out)}`);
  assert.ok(out.bMs < 1000 + out.cloneMs, JSON.stringify(out));
}, 30_000);

// ---- 6b. fork groups: memfds handed between clones (held), a clone's limit (fixed) ----
//
// Clones of one group share a supervisor that has seen memfds made, so the collector's
// descriptors are scanned and it is ended past its cap (held; before the cap it took 100 MiB:
// control). A clone ended by maxMemory said nothing of the limit in its result (fixed: the
// memory handler tells the group, which tells the clone, src/fork/clone.ts limitHit).
scriptCase("fork: memfds clones hand to another clone are charged to it", SCRIPT, [RT13, "fork-limits", "memfd"], (out) => {
  assert.equal(out.error, undefined, out.error);
  const m = out.memfd;
  assert.match(m.givers[0], /^exited: filled 100; sendmsg ok/, `control: a clone filled and handed a memfd: ${JSON.stringify(m)}`);
  assert.match(m.collector, /held 1 100\n/, `control: the collector took it: ${JSON.stringify(m)}`);
  assert.doesNotMatch(m.collector, /alive/, `the collector held ${JSON.stringify(m)} under maxMemory 160M`);
  assert.notEqual(m.status, "exited", JSON.stringify(m));
}, 40_000);
scriptCase("fork: a clone ended by maxMemory says which limit in its result", SCRIPT, [RT13, "fork-limits", "cap"], (out) => {
  assert.equal(out.error, undefined, out.error);
  const [small, big] = out.cap;
  assert.equal(small.out, "done 0 4", `control: the clone within the cap ran: ${JSON.stringify(out.cap)}`);
  assert.equal(big.signal, "SIGKILL", `control: the clone past the cap was killed: ${JSON.stringify(out.cap)}`);
  assert.equal(big.status, "killed", JSON.stringify(out.cap));
  assert.equal(big.limit, "memory", `the result of a clone ended by maxMemory: ${JSON.stringify(out.cap)}`);
  assert.equal(small.limit, null, JSON.stringify(out.cap));
}, 40_000);

// ---- 7. the supervisor's sealed memfds reopened for writing (held) ----
scriptCase("virtual files' memfds reopened for writing stay unwritable", SCRIPT, [RT13, "virtual-reopen"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const f of ["/proc/meminfo", "/etc/hostname"]) {
    assert.match(out[f], /^seals 15\nreopen ok\nwrite EPERM\nftruncate EPERM\nmmap EPERM\n?$/, `${f}: ${JSON.stringify(out)}`);
  }
}, 30_000);
