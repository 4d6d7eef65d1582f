// The fourteenth security review: the thirteenth review's fixes (2026-12-06) attacked with
// real sandboxed programs (test/fixtures/redteam14.c), as root and as the test user; the
// cases that need several sandboxes, a host server or a measure of the supervising process
// are test/scripts/red14-case.ts.
//
// Findings (fixed since):
// - memfds handed in could be kept out of every look: the look (memory-files.ts) sees a
//   sandbox's descriptors and mappings only, and a memfd it did not make itself is not in
//   `held` (whose probe's lease count sees queued SCM_RIGHTS). B under maxMemory 64M took
//   three 48 MiB memfds three sandboxes A made and put each at once into a unix socketpair of
//   its own (in flight, never a descriptor at a look), or never accepted them (the messages
//   waited in its listener's queue): 3 s later B was alive and took back 144 MiB, every
//   byte intact. The same B keeping them as descriptors (control) was ended by its cap.
//   Fixed (case 2): files B passes are charged to B while queued; descriptors kept queued
//   to B's sockets for IN_FLIGHT_MS end it (kernel-buffers.ts).
// - a pipeline's READING stage hands its stdin away: watchHeld (pipeline.ts) looked at a pipe
//   only once its writing stage had ended; stage 1 of `yes | rt14 give-stdin` handed the
//   pipe's read end to sandbox X and exited at once: yes got no SIGPIPE, fed X 4.4-5.0 GB
//   in 2 s and the pipeline settled only when X ended (2,011-2,059 ms; 12-110 ms without the
//   handoff), with no PipeHeldError (fixed since: case 3).
// Held (passing here; open in CI under host load, see case 1): the thread cap with processes
// replaced by fork, CLONE_PARENT, CLONE_VM clones and forks of a 512 MiB process racing the
// flood (peak 259 threads, cap 256, both views); four processes retrying thread clones at the cap (supervisor 383-456 ms of CPU for
// 2 s and 24,000 refusals); a pipe's writer given up as an O_PATH file and reopened through
// /proc after the pipeline's look (the reader had its EOF: the reopen gets EPIPE or ENXIO);
// a stage leaving a 2,000 MiB child behind (no false PipeHeldError); a domain-rule sandbox's
// requests from an IPv6 socket (v4-mapped) and from a socket with SO_REUSEADDR/SO_REUSEPORT
// (registered and answered).

import assert from "node:assert/strict";
import { assertHanded } from "../helpers/givers.js";
import { scriptCase, sharedScriptCase } from "../helpers/harness.js";
import { buildStaged } from "../helpers/stage.js";

const SCRIPT = "dist/test/scripts/red14-case.js";

// The attack programs, built static into the staged package so the test user can run them.
buildStaged("redteam14.c", "sl-rt14");
const RT14 = "${STAGE}/sl-rt14";

// ---- 1. the thread cap's kept list (held) ----
//
// threads.ts keeps its list of the sandbox's processes while the process handlers report no
// fork made and none under way (ctx.limits.forks). Every process of the sandbox (maxProcesses
// 4, cap 256) floods thread clones for 2 s (with replacements, until the control's 300
// threads were made in all, 6 s at most: a loaded machine made 272 in 2 s) while one of
// three workers is replaced every 50 ms: by fork, by a clone with CLONE_PARENT (a sibling of the root, the launcher's
// child), by a clone with CLONE_VM and no CLONE_THREAD; and forks of a worker holding 512 MiB
// (copy_process takes milliseconds) whose children flood too. The peak of the kernel's
// Threads: over every process under the launcher, sampled every few ms, stays at the cap
// plus the processes' own threads (and the kernel view's init). Control: the flood reached
// the cap, and with replacements made far more threads than the cap in all. A run with
// replacements that made no more than 300 is run again, 3 runs at most, the peak taken over
// all of them: CI once saw "made 255" in 6 s, no thread made after the cap was reached
// (never here, with four busy loops or 1,200 more processes beside it; the program now
// says how many workers it replaced and how many spawns were refused). CI once saw a peak
// of 273 ("supervised fork", as root, while another test held 1,000 clones): not seen again
// here in 34 runs beside 1,000 host processes (sleeping, churning, or forked in bursts), nor
// in 3 with the sampler's pass slowed 8 ms a process. The sampler now finds the members by
// walking the kernel's children lists down from the launcher (the pass over the host's /proc
// took 102 ms in a later CI run, 32 samples: the control's "over 50" failed) and counts a
// sample by reading their threads again at once (threadsUnder); the failure line carries the
// walk's own sum, its duration and each member's threads: a walk counting one process's
// threads twice and a real overshoot read differently.
sharedScriptCase("thread cap: the floods reached the cap, and with replacements made far more threads than it in all (controls)", SCRIPT, [RT14, "thread-peak"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["supervised", "kernel"]) {
    for (const how of ["still", "fork", "parent", "vm", "bigfork"]) {
      const r = out[`${view} ${how}`];
      const made = Number(/^made (\d+)/.exec(r.out)?.[1]);
      assert.ok(made >= 250, `control: ${view} ${how}: the flood reached the cap: ${JSON.stringify(r)}`);
      if (how === "fork" || how === "parent" || how === "vm") assert.ok(made > 300, `control: ${view} ${how}: replaced processes' threads came and went: ${JSON.stringify(r)}`);
      assert.ok(r.samples > 50, `control: sampled: ${JSON.stringify(r)}`);
    }
  }
}, 120_000);

// Open (found in CI, 2026-12-07, twice in about ten runs; not reproduced here): the peak
// passed the bound under host load: 273 ("supervised fork", root, beside a fork of 1,000
// clones) and 274 ("supervised vm", the test user: 18 workers replaced, the walk and the
// re-read agreeing, so the threads were there at once). docs/security.md, Known limits.
sharedScriptCase("thread cap: processes replaced by fork, CLONE_PARENT or CLONE_VM, or forked slowly, do not pass the cap", SCRIPT, [RT14, "thread-peak"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["supervised", "kernel"]) {
    for (const how of ["still", "fork", "parent", "vm", "bigfork"]) {
      const r = out[`${view} ${how}`];
      // 256 + the 4 processes' own threads + the kernel view's init, + 2 for processes made
      // between two recounts (threads.ts: "passed by at most the processes made in between").
      assert.ok(r.peak <= 263, `${view} ${how}: ${r.peak} threads at once under a cap of 256: ${JSON.stringify(r)}`);
    }
  }
}, 120_000, "open: under host load the thread cap was passed by up to 18 threads (274 under 256, CI)");

// ---- 1b. retries at the thread cap: the supervising process's CPU (held) ----
//
// Four processes at the cap retry a thread clone in a tight loop for 2 s. The settle wait
// (50 ms, six status reads) runs once per refusal window (REFUSAL_REUSE_MS): measured
// 383-456 ms of the supervising process for 2 s and about 24,000 refusals (about 18 us each,
// a trapped call's cost). Bound: less than 60% of a core over the run.
scriptCase("thread cap: tight retries at the cap cost the supervisor no more than trapped calls do", SCRIPT, [RT14, "thread-retry"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["supervised", "kernel"]) {
    const r = out[view];
    assert.ok(r.refused > 1000, `control: ${view}: the retries were refused at the cap: ${JSON.stringify(r)}`);
    assert.match(r.out, /^made 25\d /, `control: ${view}: the cap was reached: ${JSON.stringify(r)}`);
    assert.ok(r.supervisorCpuMs < 1200, `${view}: the supervising process spent ${r.supervisorCpuMs} ms of CPU on 2 s of retries (${r.refused} refusals): ${JSON.stringify(r)}`);
  }
}, 60_000);

// ---- 2. memfds handed in and kept out of sight (fixed) ----
//
// SPEC 10: memory held in memfds counts against maxMemory. B's look (memory-files.ts) sees
// its descriptors (once a second until one shows) and its mappings; a memfd B did not make
// had no probe in `held`, so a queued SCM_RIGHTS message holding it was seen by nobody once
// the sandbox that made it had ended. B (maxMemory 64M) takes three 48 MiB memfds from three
// sandboxes A and: keeps the descriptors (control: ended by its cap), puts each into a
// socketpair of its own at once and closes it (flight), or never accepts the connections
// for 3 s (backlog). Then it takes all back and checks every byte ("took back 3 144"):
// before the fix it did, in both cases.
scriptCase(
  "memfds handed in stay charged while kept in flight in a unix socket",
  SCRIPT,
  [RT14, "memfd-stash"],
  (out) => {
    assert.equal(out.error, undefined, out.error);
    for (const how of ["keep", "flight", "backlog"]) {
      assertHanded(out[how].givers, out[how].limit, `${how}: ${JSON.stringify(out[how])}`);
    }
    assert.equal(out.keep.limit, "memory", `control: B holding them as descriptors is ended by its cap: ${JSON.stringify(out.keep)}`);
    assert.match(out.flight.b, /took [23]$/m, `control: B took them (the third may come after its end): ${JSON.stringify(out.flight)}`);
    for (const how of ["flight", "backlog"]) {
      assert.equal(out[how].limit, "memory", `${how}: B under maxMemory 64M held three 48 MiB memfds other sandboxes made in a unix socket's queue for 3 s, then took them back: ${JSON.stringify(out[how])}`);
      assert.doesNotMatch(out[how].b, /took back/, `${how}: B took the memfds back: ${JSON.stringify(out[how])}`);
    }
    // flight: B passed them itself, so each is charged to B while its message is queued
    // (kernel-buffers.ts SentFile): over the cap by what they hold, at a look.
    assert.ok(out.flight.used > 64 * 2 ** 20 && out.flight.reason === null, `flight: charged: ${JSON.stringify(out.flight)}`);
    // backlog: B never had them; its listener's connections keep them queued, which it may do
    // for IN_FLIGHT_MS before it is ended, the limit saying why.
    assert.match(out.backlog.reason ?? "", /kept queued to a unix socket/, `backlog: ${JSON.stringify(out.backlog)}`);
  },
  60_000,
);

// ---- 3. a pipeline's reading stage hands its stdin away (fixed) ----
//
// watchHeld (pipeline.ts) looked at a pipe only once its writing stage had ended: stage 1 of
// `yes | rt14 give-stdin` handed the pipe's read end to sandbox X outside the pipeline and
// exited; yes kept writing (no SIGPIPE while X held a reader), X read 4.4-5.0 GB in 2 s, and
// the pipeline's wait() settled only when X ended. Now, once the reading stage has ended, the
// pipeline looks for another reader (a non-blocking open of the pipe for writing, through an
// O_PATH file of it): held, stage 0 is killed and wait() rejects with PipeHeldError (stage 1,
// its stdin). Control: stage 1 exiting without the handoff ends the pipeline at once (yes:
// SIGPIPE, no error); X got the descriptor.
scriptCase("pipeline: a reading stage's stdin handed outside the pipeline does not keep the writing stage going", SCRIPT, [RT14, "pipe-stdin-handoff"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["supervised", "kernel"]) {
    const c = out[`${view} control`];
    assert.ok(c.pipelineMs < 1500, `control: ${view}: without the handoff the pipeline ends at once: ${JSON.stringify(c)}`);
    assert.equal(c.stage0Signal, "SIGPIPE", `control: ${JSON.stringify(c)}`);
    assert.equal(c.error, undefined, `control: ${JSON.stringify(c)}`);
    const r = out[`${view} handoff`];
    assert.match(r.x, /^listening\ngot a descriptor\n/, `control: ${view}: X got stage 1's stdin: ${JSON.stringify(r)}`);
    // (What X reads meanwhile is stage 0's own output: yes writes GB/s, so the bound is on
    // time; before the fix X read 4.4-5.0 GB, for as long as X lived.)
    assert.ok(r.pipelineMs - r.stage1Ms < 500, `${view}: stage 1 ended at ${r.stage1Ms} ms, the pipeline at ${r.pipelineMs} ms: ${JSON.stringify(r)}`);
    assert.equal(r.error, "PIPE_HELD 1 stdin", JSON.stringify(r));
    assert.equal(r.stage0, "killed", JSON.stringify(r));
    assert.match(r.x, /\neof after \d+\n?$/, `${view}: X met the end of what stage 0 wrote once it was killed: ${JSON.stringify(r)}`);
  }
}, 60_000);

// ---- 3b. a writer given up as O_PATH and reopened after the look (held) ----
//
// Stage 0 fills the pipe, hands an O_PATH file of its stdout (not a writer: the look finds
// none) to X and exits; 100 ms later X reopens /proc/self/fd/N for writing (a new writer the
// look cannot see). The reading stage had its EOF when the last writer went (the kernel
// wakes it): X's reopen finds no reader (ENXIO) or its writes EPIPE, and stage 1 counted
// what stage 0 wrote (64 KiB, or more when stage 1 read while stage 0 filled the pipe: a
// CI run counted 393,216). Control: stage 0 stays 300 ms after the handoff and X reopens at once:
// X's writer is there when stage 0 ends, and the pipeline kills stage 1 (PIPE_HELD).
scriptCase("pipeline: a pipe's writer reopened through /proc after the stage ended does not feed the next stage", SCRIPT, [RT14, "pipe-opath"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["kernel", "supervised"]) {
    const c = out[`${view} control`];
    assert.match(c.x, /^listening\ngot a descriptor\nreopened\n/, `control: ${view}: X reopened the O_PATH file for writing: ${JSON.stringify(c)}`);
    assert.equal(c.error, "PIPE_HELD", `control: ${view}: X's reopened writer was found: ${JSON.stringify(c)}`);
    const r = out[`${view} 100`];
    assert.match(r.stage0, /sendmsg ok/, `control: ${JSON.stringify(r)}`);
    assert.match(r.x, /^listening\ngot a descriptor\n(reopen ENXIO|reopened\nwrite EPIPE after 0)\n?$/, `${view}: X's later reopen fed stage 1: ${JSON.stringify(r)}`);
    const wrote = /^wrote (\d+)$/m.exec(r.stage0);
    assert.ok(wrote !== null && Number(wrote[1]) >= 65536, `control: stage 0 filled the pipe: ${JSON.stringify(r)}`);
    assert.equal(r.counted, Number(wrote[1]), `${view}: stage 1 counted more than stage 0 wrote: ${JSON.stringify(r)}`);
  }
}, 60_000);

// ---- 3c. a legitimate stage leaving a big child behind: no false PipeHeldError (held) ----
//
// Stage 0 prints "done" and exits, leaving a child that holds 2,000 MiB and stdout; the
// sandbox ends it, and its address space takes hundreds of ms to go before its files do.
// The stage's wait() settles after that, so the look finds no writer. Control: the 2,000 MiB
// run takes longer than the 1 MiB one (the child and its memory were there).
scriptCase("pipeline: a stage whose big child outlives it briefly is not taken for a held pipe", SCRIPT, [RT14, "pipe-bigchild"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const view of ["supervised", "kernel"]) {
    for (const mib of ["1", "2000"]) {
      const r = out[`${view} ${mib}`];
      assert.equal(r.error, undefined, `${view} ${mib}: ${JSON.stringify(r)}`);
      assert.equal(r.out, "5", `${view} ${mib}: ${JSON.stringify(r)}`);
      assert.equal(r.status, "exited", JSON.stringify(r));
    }
    assert.ok(out[`${view} 2000`].ms > out[`${view} 1`].ms + 100, `control: ${view}: the child held its memory: ${JSON.stringify(out)}`);
  }
}, 60_000);

// ---- 4. the proxy's registration with IPv6 and reused-port sockets (held) ----
//
// registerBefore (net-proxy.ts) binds an unbound socket to the proxy's loopback in its family
// (v4-mapped for IPv6) and registers its local address; the proxy (IPv4) must see the same
// address, and a socket the sandbox marked SO_REUSEADDR/SO_REUSEPORT must be registered
// the same way. Control: the host server answered both (served 2).
scriptCase("domain proxy: requests from an IPv6 socket and a reused-port socket are registered and answered", SCRIPT, [RT14, "proxy-v6"], (out) => {
  assert.equal(out.error, undefined, out.error);
  for (const how of ["v6-http", "reuse-http"]) assert.match(out[how].out, /^status HTTP\/1\.1 200 OK\nrequest answered\n?$/, `${how}: ${JSON.stringify(out[how])}`);
  assert.equal(out.served, 2, JSON.stringify(out));
}, 30_000);
