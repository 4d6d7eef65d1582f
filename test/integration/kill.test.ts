// The supervisor's kills on real processes (src/supervise/kill.ts): a process that is not
// the sandbox's is never killed, whatever pid the watchdog saw, even when it was given the
// very pid of a member that died (forced with ns_last_pid, as root); a pidfd taken before
// its process died signals nothing afterwards.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { native } from "../../src/confine/native.js";
import { descendsFrom, killMember } from "../../src/supervise/kill.js";
import { isRoot } from "../helpers/stage.js";

const ESRCH = 3;

function sleeper(): ChildProcess {
  return spawn("sleep", ["30"], { stdio: "ignore" });
}

const exited = (c: ChildProcess): Promise<string | null> => new Promise((r) => c.once("exit", (_code, signal) => r(signal)));

test("killMember leaves alone a process that does not descend from the sandbox's launcher", async () => {
  const outsider = sleeper();
  const launcher = sleeper(); // a process that is not the outsider's ancestor
  try {
    assert.equal(killMember(outsider.pid!, (p) => descendsFrom(p, launcher.pid!)), false);
    assert.equal(outsider.exitCode, null);
    assert.equal(outsider.signalCode, null);
    assert.equal(process.kill(outsider.pid!, 0), true, "still alive");
  } finally {
    outsider.kill("SIGKILL");
    launcher.kill("SIGKILL");
  }
});

test("positive control: killMember kills a process that descends from the given root", async () => {
  const member = sleeper();
  const gone = exited(member);
  assert.equal(killMember(member.pid!, (p) => descendsFrom(p, process.pid)), true);
  assert.equal(await gone, "SIGKILL");
});

test("a pidfd opened before its process died signals nothing after (the signal can never reach a later holder of the pid)", async () => {
  const first = sleeper();
  const pidfd = native().pidfdOpen(first.pid!);
  assert.ok(pidfd >= 0, `pidfd_open: ${pidfd}`);
  try {
    const gone = exited(first);
    first.kill("SIGKILL");
    await gone; // reaped: its pid is free for anyone
    const later = sleeper();
    try {
      assert.equal(native().pidfdSendSignal(pidfd, 9), -ESRCH);
      assert.equal(process.kill(later.pid!, 0), true, "the later process is untouched");
    } finally {
      later.kill("SIGKILL");
    }
  } finally {
    closeSync(pidfd);
  }
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The children of process pid (from /proc/<pid>/task/<pid>/children). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1").trim().split(/\s+/).filter(Boolean).map(Number);
}

/** A sleeping process given exactly `pid` (free now), or undefined when the host's own
 * forks kept taking it. */
function sleeperAt(pid: number): ChildProcess | undefined {
  for (let attempt = 0; attempt < 50; attempt++) {
    writeFileSync("/proc/sys/kernel/ns_last_pid", String(pid - 1));
    const c = sleeper();
    if (c.pid === pid) return c;
    c.kill("SIGKILL");
  }
  return undefined;
}

const ROOT_ONLY = { skip: isRoot ? false : "writing ns_last_pid needs root" };

test("a member that died and whose pid an outsider was given is not killed in its place (real pid reuse, forced with ns_last_pid)", ROOT_ONLY, async () => {
  // `root` stands for the launcher: its first child is a member; once that is dead and
  // reaped, a process outside root's tree is made to take the same pid. The host's own
  // forks can take that pid first (a CI run's shared part runs three files at once): the
  // scene is then set again with a new member, at most five times.
  for (let round = 1; ; round++) {
    const root = spawn("sh", ["-c", "sleep 30; sleep 30"], { stdio: "ignore" });
    try {
      let member: number | undefined;
      for (let i = 0; i < 200 && member === undefined; i++) {
        member = childrenOf(root.pid!)[0];
        if (member === undefined) await sleep(10);
      }
      assert.ok(member !== undefined, "the member started");
      assert.equal(descendsFrom(member, root.pid!), true);
      process.kill(member, "SIGKILL");
      // Reaped once root runs its second sleep.
      for (let i = 0; i < 200 && (childrenOf(root.pid!)[0] ?? member) === member; i++) await sleep(10);
      const outsider = sleeperAt(member);
      if (outsider === undefined && round < 5) continue;
      assert.ok(outsider !== undefined, `no outsider was given a dead member's pid in 5 rounds of 50 attempts (the host forks too much)`);
      try {
        assert.equal(descendsFrom(member, root.pid!), false, "the pid now names the outsider");
        assert.equal(killMember(member, (p) => descendsFrom(p, root.pid!)), false);
        assert.equal(process.kill(outsider.pid!, 0), true, "the outsider is alive");
      } finally {
        outsider.kill("SIGKILL");
      }
      return;
    } finally {
      root.kill("SIGKILL");
    }
  }
});

test("positive control: the pid reuse is real: a kill by the stale number (what the watchdog did) reaches the outsider", ROOT_ONLY, async () => {
  // As above, the host's forks can take the pid first (a CI run's shared part, once): the
  // scene is set again with a new first process, at most five times.
  for (let round = 1; ; round++) {
    const first = sleeper();
    const pid = first.pid!;
    const gone = exited(first);
    first.kill("SIGKILL");
    await gone;
    const outsider = sleeperAt(pid);
    if (outsider === undefined && round < 5) continue;
    assert.ok(outsider !== undefined, `no outsider was given a dead process's pid in 5 rounds of 50 attempts (the host forks too much)`);
    const killed = exited(outsider);
    process.kill(pid, "SIGKILL");
    assert.equal(await killed, "SIGKILL");
    return;
  }
});
