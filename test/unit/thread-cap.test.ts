// The thread cap's wait at the cap (src/supervise/handlers/threads.ts), on real processes:
// two sleeping children of this test stand for a sandbox whose launcher is the test, so the
// recount reads their real Threads: from /proc. A thread that pthread_join has seen end is
// still counted by the kernel until it is released, which under load can come after the
// next clone's recount (CI saw a pool replacing its workers at the cap get EAGAIN once): a
// clone that finds the count at the cap is decided only after the count has had a few
// milliseconds to drop. Here a sleep killed 3 ms after the clone plays the late release.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { SETTLE_MS, threadHandlers } from "../../src/supervise/handlers/threads.js";
import type { DynamicLimits, SupervisorContext } from "../../src/supervise/handler.js";
import { NOTIF_BYTES, Notification } from "../../src/supervise/notification.js";
import { CLONE_THREAD } from "../../src/plan/seccomp.js";
import { CONTINUE, type Action } from "../../src/supervise/action.js";

const SYS_clone = 56;
const SYS_clock_nanosleep = 230;

const syscallOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/syscall`, "latin1").split(" ", 1)[0]);
const EAGAIN = 11;

/** A thread clone by `tid`. The handler counts a clone it let go as under way (its thread
 * about to exist) while /proc/TID/syscall shows the caller still in call `nr`; by default the
 * caller does not exist, so only the processes' own Threads: count. */
function threadClone(tid = 0x3ffffff0, nr = SYS_clone): Notification {
  const b = Buffer.alloc(NOTIF_BYTES);
  b.writeUInt32LE(tid, 8);
  b.writeInt32LE(nr, 16);
  b.writeUInt32LE(CLONE_THREAD, 32);
  return new Notification(b);
}

/** Two sleeping children of this process, which stands for the launcher (its descendants
 * are the "sandbox"; it reaps a killed one at once, from its own event loop). */
async function twoSleeps(): Promise<{ children: ChildProcess[]; sleeps: number[] }> {
  const children = [spawn("sleep", ["30"], { stdio: "ignore" }), spawn("sleep", ["30"], { stdio: "ignore" })];
  const sleeps = children.map((c) => c.pid!);
  // Until both sleep (clock_nanosleep): a sleep still starting changes its Threads: and call.
  for (let i = 0; i < 1000 && !sleeps.every((pid) => syscallOf(pid) === SYS_clock_nanosleep); i++) await sleep(2);
  return { children, sleeps };
}

/** Thread handlers for a cap of 2 over this process's children, the count already at the cap. */
function atCap(limits: DynamicLimits = {}): (n: Notification) => Action | Promise<Action> | undefined {
  const { clone } = threadHandlers(2, { launcherPid: process.pid, limits } as SupervisorContext);
  assert.equal(clone!(threadClone()), undefined, "the first thread is allowed on the count alone");
  return clone!;
}

const errnoOf = (a: Action | undefined): number | undefined => (a !== undefined && a.kind === "errno" ? a.errno : undefined);

test("a clone that finds the count at the cap is let go when a thread is released a few milliseconds later", async () => {
  const { children, sleeps } = await twoSleeps();
  try {
    const clone = atCap();
    const started = performance.now();
    const decided = clone(threadClone());
    assert.ok(decided instanceof Promise, `decided at once where the count was at the cap: ${JSON.stringify(decided)}`);
    await sleep(3);
    process.kill(sleeps[0]!, "SIGKILL");
    assert.deepEqual(await decided, CONTINUE);
    assert.ok(performance.now() - started >= 3, "let go before the slot was freed");
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
});

test("control: a clone at the cap with nothing released is refused after the wait, and the next one at once", async () => {
  const { children } = await twoSleeps();
  try {
    const clone = atCap();
    const started = performance.now();
    assert.equal(errnoOf(await clone(threadClone())), EAGAIN);
    const waited = performance.now() - started;
    assert.ok(waited >= SETTLE_MS - 1, `refused after ${waited.toFixed(1)} ms, before the wait was over`);
    const next = clone(threadClone());
    assert.ok(!(next instanceof Promise), "the next clone waited again within the refusal's reuse window");
    assert.equal(errnoOf(next), EAGAIN);
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
});

test("two clones waiting at the cap when one slot is freed: one is let go, the other refused", async () => {
  const { children, sleeps } = await twoSleeps();
  try {
    const clone = atCap();
    // Callers that stay in their call: the surviving sleep, with the call it sleeps in, stands
    // for a thread still in the clone the first waiter is let into, whose thread is not yet
    // in any Threads: count. (Two callers of one thread cannot both be waiting in reality;
    // the count does not depend on that.)
    const survivor = sleeps[1]!;
    const both = [clone(threadClone(survivor, SYS_clock_nanosleep)), clone(threadClone(survivor, SYS_clock_nanosleep))];
    await sleep(3);
    process.kill(sleeps[0]!, "SIGKILL");
    const actions = await Promise.all(both);
    assert.deepEqual(actions[0], CONTINUE);
    assert.equal(errnoOf(actions[1]), EAGAIN);
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
});

// The recount's pass over the host's /proc (its cost grows with the host) is made again only
// when the process handlers have let a process be made since the last one. A sleep started
// behind the handlers' back shows it: not seen while "made" stays, seen once it moves.
test("the recount lists the processes again only when one was made since the last pass over /proc", async () => {
  const { children } = await twoSleeps();
  children[1]!.kill("SIGKILL");
  await new Promise((gone) => children[1]!.once("exit", gone));
  let made = 0;
  let underWay = 0;
  const clone = atCap({ forks: () => ({ made, underWay }) });
  let late: ChildProcess | undefined;
  try {
    // At the cap (atCap's clone): the first pass lists one sleep, which leaves a slot.
    assert.deepEqual(clone(threadClone()), undefined);
    late = spawn("sleep", ["30"], { stdio: "ignore" });
    await new Promise((up) => late!.once("spawn", up));
    // The count is at the cap again; the same listing (one sleep) still leaves a slot.
    assert.deepEqual(clone(threadClone()), undefined, "the second sleep was seen without a process made");
    made++;
    underWay = 1;
    // Listed again: two sleeps fill the cap of 2 (refused after the wait, each re-read listing
    // again: a fork was under way at the pass).
    assert.equal(errnoOf(await clone(threadClone())), EAGAIN);
    // A list made while a fork was under way is not kept: the fork's child may not be in it.
    // The second sleep gone, the reuse window over: a pass lists one sleep, a slot is left.
    late.kill("SIGKILL");
    await new Promise((gone) => late!.once("exit", gone));
    await sleep(25);
    assert.deepEqual(clone(threadClone()), undefined);
    // The fork under way makes its child (a third sleep; "made" stays): counted.
    late = spawn("sleep", ["30"], { stdio: "ignore" });
    await new Promise((up) => late!.once("spawn", up));
    assert.equal(errnoOf(await clone(threadClone())), EAGAIN, "a list made while a fork was under way was kept");
  } finally {
    for (const c of [...children, late]) c?.kill("SIGKILL");
  }
});
