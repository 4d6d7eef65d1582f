// maxProcesses' forks continued in C from a credit (native/proccredit.c): the process
// handlers (src/supervise/handlers/processes.ts) grant the room left under the limit after
// each decision, the receiving thread continues forks within it and records each one, and
// every decision takes those records first. Threads forking at once, some continued in C
// and some decided in TypeScript, never get past the limit; a sandbox's forks really do
// skip the event loop; and without room the credit is small and the handlers see them.
// As root and as the test user.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import type { CaseOutcome } from "../helpers/case-types.js";
import { byView, securityCase } from "../helpers/harness.js";
import { fastCounts } from "../helpers/fast-counts.js";

const SHELL = ["/bin", "/usr", "/lib", "/lib64"].filter((p) => existsSync(p));

/** Every "forked K E" line of the probe's fork-race rounds. */
function rounds(o: CaseOutcome): { forked: number; err: string }[] {
  return [...(o.result?.stdout ?? "").matchAll(/^forked (\d+) (\S+)$/gm)].map((m) => ({ forked: Number(m[1]), err: m[2]! }));
}

// A program that forks and reaps one child at a time, run by a shell, under a limit that
// leaves it exactly one child: each fork is decided at the limit, after a recount, and must
// succeed once the previous child is reaped. It got EAGAIN at its second fork: a recount
// counted the caller as still inside the fork it had been let into before, on top of that
// fork's child (the strict side, now only for callers deciding while a recount runs).
securityCase(
  "maxProcesses 3: a shell's child forking and reaping one child at a time gets all 300",
  { policy: { fsReadable: ["${PROBE}", ...SHELL], maxProcesses: 3 }, cmd: ["/bin/sh", "-c", '"$0" sequential 300; echo "status $?"', "${PROBE}"], timeout: 60_000 },
  (o) => assert.equal(o.result?.stdout, "sequential 300\nstatus 0\n"),
);

// The same count with another caller busy in user space just after its fork (a shell
// preempted between its fork and its wait, on a loaded host): /proc says "running" for it,
// and the recount took it for a fork still under way, on top of that fork's child. The
// child's second fork, the last slot, got EAGAIN (CI, as the test user: "sequential 1
// EAGAIN" above). A refusal that rests on such callers now waits for them a little first.
securityCase(
  "maxProcesses 3: a child forking and reaping twice while its parent works 5 ms before it waits gets every fork, 20 rounds",
  { policy: { fsReadable: ["${PROBE}"], maxProcesses: 3 }, cmd: ["${PROBE}", "spin-parent", "20", "5"], timeout: 60_000 },
  (o) => assert.equal(o.result?.stdout, "spin-parent 20 0\n"),
);

// 20 rounds of 8 threads released at once, each forking up to 10 waiting children, under
// maxProcesses 20: the shell and the probe hold two slots, so each round may make at most
// 18. A count that missed a fork continued in C (or one the handlers allowed while C spent
// the same room) would let a round make more. The strict side is allowed: a caller still
// inside its fork when a recount starts is counted as well as its child, one per thread.
// Both spellings: libc's fork (clone) and the fork system call.
for (const [how, spelling] of [["clone", ""], ["fork", " sys"]] as const) securityCase(
  `maxProcesses 20: 8 threads forking at once (${how}), 20 rounds, never more children than the room left`,
  {
    policy: { fsReadable: ["${PROBE}", ...SHELL], maxProcesses: 20 },
    cmd: ["/bin/sh", "-c", `i=0; while [ $i -lt 20 ]; do "$0" fork-race 8 10${spelling}; i=$((i+1)); done`, "${PROBE}"],
    timeout: 60_000,
  },
  (o) => {
    const all = rounds(o);
    assert.equal(all.length, 20, o.result?.stdout ?? JSON.stringify(o.error));
    for (const r of all) {
      assert.ok(r.forked <= 18, `a round made ${r.forked} children where 18 were left: ${JSON.stringify(all)}`);
      assert.ok(r.forked >= 18 - 8, `a round made only ${r.forked} children: ${JSON.stringify(all)}`);
      assert.equal(r.err, "EAGAIN");
    }
  },
);

securityCase(
  "positive control: the same race under a limit it fits in makes all 80 children",
  { policy: { fsReadable: ["${PROBE}"], maxProcesses: 200 }, cmd: ["${PROBE}", "fork-race", "8", "10"], timeout: 30_000 },
  (o) => assert.deepEqual(rounds(o), [{ forked: 80, err: "none" }]),
);

// Thread clones, where no memory cap charges them, draw on a credit of their own against
// the thread cap (threadCap: 256 under maxProcesses 4). 20 rounds of 8 threads each
// starting up to 40 threads at once; a starter that is done waits for the others, so every
// thread of a round is alive at its end. The shell's thread, the probe's, its 8 starters
// and, in the kernel view, the init's leave 245 (246 in the supervised view). After the
// first round the cap is exact: each round's first clone finds the count at the cap and
// recounts from /proc, where nothing of the round has ended. The first round may pass it
// by the documented bound (handlers/threads.ts: the count misses the threads of processes
// made since the last recount, at most maxProcesses). Measured under load (three busy
// loops): 247 then 245 in every round, as root and as the test user. (Before the starters
// waited, a starter ending at its first refusal freed its slot for another thread, and
// rounds "passed" the room by up to 4: the round's count, not the cap's.)
securityCase(
  "thread cap 256, no memory cap: 8 threads starting threads at once, 20 rounds, never past the cap",
  {
    policy: { fsReadable: ["${PROBE}", ...SHELL], maxProcesses: 4 },
    // (the pause: for 20 ms after a refusal every thread clone is refused without a /proc
    // pass, handlers/threads.ts, which would refuse the next round's first threads)
    cmd: ["/bin/sh", "-c", 'i=0; while [ $i -lt 20 ]; do "$0" thread-race 8 40; sleep 0.05; i=$((i+1)); done', "${PROBE}"],
    timeout: 60_000,
  },
  (o) => {
    const all = [...(o.result?.stdout ?? "").matchAll(/^threads (\d+) (\S+)$/gm)].map((m) => ({ made: Number(m[1]), err: m[2]! }));
    assert.equal(all.length, 20, o.result?.stdout ?? JSON.stringify(o.error));
    const room = Number(byView(o, "246", "245"));
    all.forEach((r, i) => {
      const bound = i === 0 ? room + 4 : room;
      assert.ok(r.made <= bound, `round ${i + 1} had ${r.made} threads where ${room} were left (bound ${bound}): ${JSON.stringify(all)}`);
      // The strict side: a recount counts a caller still in its clone with its thread.
      assert.ok(r.made >= room - 8, `round ${i + 1} started only ${r.made}: ${JSON.stringify(all)}`);
      assert.equal(r.err, "EAGAIN");
    });
  },
);

// At the cap, a thread made and joined one at a time (a pool that replaces its workers): the
// recount at each clone must not count the caller, which is in this clone, as still in its
// previous one on top of the thread that clone made (threads.ts; the twelfth review saw EAGAIN
// with a slot left). One slot left: the probe's thread and 254 waiting ones (253 and the
// init's in the kernel view) under the cap of 256; 200 made and joined in turn all succeed
// (before the fix: 1 in the supervised view, 2 in the kernel view). Control: with no slot
// left the first is refused; in the kernel view the second, as the count does not know the
// init's thread before its first recount (the documented bound: the threads of processes made
// since the last recount, handlers/threads.ts), so one thread passes the cap there first.
for (const [view, held, past] of [["supervised", 254, 0], ["kernel", 253, 1]] as const) {
  securityCase(
    `thread cap 256 (${view} view): with one slot left, 200 threads made and joined one at a time all get it`,
    { policy: { fsReadable: ["${PROBE}"], maxProcesses: 4, procView: view }, cmd: ["${PROBE}", "thread-churn", String(held), "200"], timeout: 30_000 },
    (o) => assert.equal(o.result?.stdout, "churn 200 none\n", JSON.stringify(o.result ?? o.error)),
  );
  securityCase(
    `control: thread cap 256 (${view} view) with no slot left refuses the first`,
    { policy: { fsReadable: ["${PROBE}"], maxProcesses: 4, procView: view }, cmd: ["${PROBE}", "thread-churn", String(held + 1), "200"], timeout: 30_000 },
    (o) => assert.equal(o.result?.stdout, `churn ${past} EAGAIN\n`, JSON.stringify(o.result ?? o.error)),
  );
}

securityCase(
  "positive control: the same under a cap it fits in starts all 320",
  { policy: { fsReadable: ["${PROBE}"], maxProcesses: 64 }, cmd: ["${PROBE}", "thread-race", "8", "40"], timeout: 30_000 },
  (o) => assert.equal(o.result?.stdout, "threads 320 none\n"),
);

test("the thread credit answers thread clones in C: of 200 threads, a handful reach TypeScript", async () => {
  const base = await fastCounts(["threads", "1"], {});
  const r = await fastCounts(["threads", "200"], {});
  assert.match(r.stdout, /^threads 200\nstatus 0\n$/);
  const fast = r.counts.fast - base.counts.fast;
  const js = r.counts.js - base.counts.js;
  assert.ok(fast >= 190, `continued in C: ${fast} (js ${js})`);
  assert.ok(js <= 5, `reached TypeScript: ${js}`);
});

test("control: under a memory cap, which charges each thread, every thread clone reaches TypeScript", async () => {
  const base = await fastCounts(["threads", "1"], { maxMemory: "1G" });
  const r = await fastCounts(["threads", "200"], { maxMemory: "1G" });
  assert.match(r.stdout, /^threads 200\nstatus 0\n$/);
  // 199 thread clones more than the base run, each one in TypeScript (the other calls of
  // the two runs differ by a few either way).
  assert.ok(r.counts.js - base.counts.js >= 190, `reached TypeScript: ${r.counts.js - base.counts.js}`);
});

/** Forks answered in C and notifications that reached TypeScript while the probe ran
 * `sequential N` (fork, reap, again) under maxProcesses `max`, as the sandbox's only process
 * (a shell above it, just past its fork of the probe and not yet waiting, would be counted
 * as a fork under way on top of the probe: the documented strict side, which made a CI run's
 * control below fail its second fork). */
async function counts(n: number, max: number): Promise<{ fast: number; js: number; stdout: string }> {
  const r = await fastCounts(["sequential", String(n)], { maxProcesses: max }, true);
  return { ...r.counts, stdout: r.stdout };
}

test("the credit continues forks in C: of 300 forks under the default limit, only the recounts' reach TypeScript", async () => {
  const base = await counts(1, 64);
  const r = await counts(300, 64);
  assert.match(r.stdout, /^sequential 300\nstatus 0\n$/);
  const fast = r.fast - base.fast;
  const js = r.js - base.js;
  // The credit is the room left (63, then after each recount the limit less the live
  // processes): a recount, in TypeScript, every sixty-odd forks.
  assert.ok(fast >= 280, `continued in C: ${fast} (js ${js})`);
  assert.ok(js <= 15, `reached TypeScript: ${js} (C ${fast})`);
});

// maxProcesses 2: the probe and its child use every slot, so each fork waits for a recount,
// and succeeds once the last child is reaped (the probe, deciding its own fork, is not
// counted as a fork under way on top of that child: processes.ts).
test("control: under maxProcesses 2 there is no room left, and the handlers decide every fork", async () => {
  const base = await counts(1, 2);
  const r = await counts(300, 2);
  assert.match(r.stdout, /^sequential 300\nstatus 0\n$/);
  const js = r.js - base.js;
  assert.ok(js >= 250, `reached TypeScript: ${js}`);
});
