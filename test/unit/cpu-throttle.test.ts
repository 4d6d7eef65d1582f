// The CPU throttle against a fake sandbox: it stops a sandbox that used more than its
// share, and when it cannot measure, stop or continue it tries again, then ends the run
// with the reason (never gives up quietly); a closed throttle reports nothing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { CpuThrottle, THROTTLE_ATTEMPTS, type Throttled } from "../../src/supervise/cpu-throttle.js";
import { Cmd } from "../../src/plan/protocol.js";

type Answer = number | Error;

/** A sandbox whose launcher answers each command from a script (the last answer repeats). */
function fake(script: Partial<Record<string, Answer[]>>): Throttled & { calls: string[]; failures: string[]; failed: Promise<string> } {
  const calls: string[] = [];
  const failures: string[] = [];
  let resolveFailed!: (why: string) => void;
  const failed = new Promise<string>((r) => (resolveFailed = r));
  return {
    calls,
    failures,
    failed,
    userPaused: false,
    command(cmd) {
      calls.push(cmd);
      const list = script[cmd] ?? [0];
      const a = list.length > 1 ? list.shift()! : list[0]!;
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
    fail(why) {
      failures.push(why);
      resolveFailed(why);
    },
  };
}

/** p, or "timeout" after ms (the timer cleared once p settles: left pending, it kept the
 * file's process alive that long after its last test). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

test("a sandbox over its share is stopped, then continued", async () => {
  // 1000 ms of CPU at once: far beyond 10% of the first 100 ms.
  const t = fake({ [Cmd.CPU]: [1000, 1000] });
  const throttle = new CpuThrottle(10, t);
  throttle.start();
  for (let i = 0; i < 50 && !t.calls.includes(Cmd.STOP); i++) await new Promise((r) => setTimeout(r, 20));
  throttle.close();
  assert.ok(t.calls.includes(Cmd.STOP), t.calls.join(","));
  assert.deepEqual(t.failures, []);
});

test("what the supervisor spent on the sandbox's behalf counts: an idle sandbox whose supervisor worked is stopped", async () => {
  // The sandbox's own CPU never moves; its supervisor reports 1000 ms at the first look.
  const t = fake({ [Cmd.CPU]: [0] });
  let owed = 1000;
  t.supervisorMs = () => {
    const ms = owed;
    owed = 0;
    return ms;
  };
  const throttle = new CpuThrottle(10, t);
  throttle.start();
  for (let i = 0; i < 50 && !t.calls.includes(Cmd.STOP); i++) await new Promise((r) => setTimeout(r, 20));
  throttle.close();
  assert.ok(t.calls.includes(Cmd.STOP), t.calls.join(","));
});

test("positive control: the same idle sandbox without supervisor work is never stopped", async () => {
  const t = fake({ [Cmd.CPU]: [0] });
  t.supervisorMs = () => 0;
  const throttle = new CpuThrottle(10, t);
  throttle.start();
  for (let i = 0; i < 5 && t.calls.filter((c) => c === Cmd.CPU).length < 3; i++) await new Promise((r) => setTimeout(r, 120));
  throttle.close();
  assert.ok(t.calls.filter((c) => c === Cmd.CPU).length >= 2, t.calls.join(","));
  assert.ok(!t.calls.includes(Cmd.STOP), t.calls.join(","));
});

test(`a reading that fails ${THROTTLE_ATTEMPTS} times in a row ends the run with the reason`, async () => {
  const t = fake({ [Cmd.CPU]: [new Error("sandbox CPU time failed: EMFILE")] });
  const throttle = new CpuThrottle(10, t);
  throttle.start();
  const why = await within(t.failed, 5000);
  throttle.close();
  assert.match(String(why), /^maxCpu: the sandbox was killed because its CPU use could not be measured 3 times in a row \(sandbox CPU time failed: EMFILE\)$/);
  assert.equal(t.calls.filter((c) => c === Cmd.CPU).length, THROTTLE_ATTEMPTS);
  assert.equal(t.failures.length, 1);
});

test("a reading that fails twice and then works does not end the run", async () => {
  const err = new Error("transient");
  const t = fake({ [Cmd.CPU]: [err, err, 0, 0] });
  const throttle = new CpuThrottle(10, t);
  throttle.start();
  for (let i = 0; i < 100 && t.calls.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
  throttle.close();
  assert.ok(t.calls.length >= 5, `kept measuring: ${t.calls.join(",")}`);
  assert.deepEqual(t.failures, []);
});

test("a sandbox that cannot be continued is not left frozen: the run ends", async () => {
  const t = fake({ [Cmd.CPU]: [1000], [Cmd.CONT]: [new Error("sandbox resume failed: ENOMEM")] });
  const throttle = new CpuThrottle(50, t);
  throttle.start();
  const why = await within(t.failed, 30_000);
  throttle.close();
  assert.match(String(why), /could not be released 3 times in a row \(sandbox resume failed: ENOMEM\)/);
});

test("after close (the sandbox ended) a failure reports nothing", async () => {
  let reject!: (e: Error) => void;
  const t = fake({});
  t.command = () => new Promise((_, r) => (reject = r));
  const throttle = new CpuThrottle(10, t);
  throttle.start();
  for (let i = 0; i < 50 && reject === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  throttle.close();
  reject(new Error("the sandbox launcher is gone"));
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(t.failures, []);
});
