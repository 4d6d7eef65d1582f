// Graceful stop: the library's kill(signal, {forceAfter}) and timeout killSignal (as root
// and as the test user), and the CLI forwarding SIGTERM: a trap runs and its file appears,
// the exit code is the command's own, a second signal or the grace period forces SIGKILL,
// which still reaches a daemon in another session.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { scriptCase } from "../helpers/harness.js";
import { CLI } from "../helpers/system.js";
import { pidOutside } from "../helpers/inner-pid.js";

scriptCase(
  "kill(SIGTERM, {forceAfter}): traps run (root and a setsid daemon, which may finish after the root exits); what ignores it is SIGKILLed after the grace, daemon included; a second kill() forces; kill() alone is SIGKILL (control); the timeout's killSignal",
  "dist/test/scripts/stop-case.js",
  [],
  (out) => {
    assert.deepEqual(out.trap, { status: "exited", exitCode: 143, signal: null, file: "cleaned\n" });
    assert.deepEqual(out.hard, { status: "killed", signal: "SIGKILL", file: null }, "control: SIGKILL, no trap");
    assert.deepEqual(out.daemon, { status: "exited", exitCode: 0, file: "daemon-cleaned\n", aliveBefore: true, aliveAfter: false });
    assert.deepEqual(out.ignored, { status: "killed", signal: "SIGKILL", aliveBefore: true, aliveAfter: false });
    assert.deepEqual(out.second, { status: "killed", signal: "SIGKILL" });
    assert.deepEqual(out.timeout, { status: "timeout", exitCode: 0, stdout: "stopped" });
    assert.deepEqual(out.byShortName, { status: "killed", signal: "SIGTERM" });
    assert.deepEqual(out.errors, [
      `SandboxError: kill: "SIGNOPE" is not a signal (a name such as "SIGTERM", or a number 1-64)`,
      `SandboxError: kill: 99 is not a signal (a name such as "SIGTERM", or a number 1-64)`,
      "SandboxError: kill: forceAfter: -1 must be a number of milliseconds from 0 to 2147483647, or Infinity",
      "SandboxError: kill: forceAfter: NaN must be a number of milliseconds from 0 to 2147483647, or Infinity",
      `SandboxError: killSignal: "TERMINATE" is not a signal (a name such as "SIGTERM", or a number 1-64)`,
    ]);
  },
);

const SYS = ["-r", "/usr", "-r", "/lib", "-r", "/lib64", "-r", "/bin", "-w", "/dev/null"];

/** Until process `pid` runs `name` (see stop-case.ts: a signal between a shell's fork and
 * exec is lost to the program). */
async function execed(find: () => number | undefined, name: string): Promise<void> {
  for (;;) {
    try {
      // The printed pid is the sandbox's: the kernel view's pid namespace numbers its own.
      const pid = find();
      if (pid !== undefined && readFileSync(`/proc/${pid}/comm`, "utf8") === `${name}\n`) return;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs the CLI; `signals` are sent to it, one after the other, once stdout has shown a
 * line: the pid of a sleep the script started, once that sleep runs. */
function cli(args: string[], signals: NodeJS.Signals[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // --status-fd 3: sandlock's "started" event comes once its signal guard forwards signals
  // to the running sandbox. The command's stdout is sandlock's own, so the pid can show
  // before sandlock has seen its spawn settle; a signal then kills the command as it starts
  // (sandlock exits 128+N: signals.ts attach), which is not what these cases test.
  const [sub, ...rest] = args;
  const child = spawn(process.execPath, [CLI, sub!, "--status-fd", "3", ...rest], { stdio: ["ignore", "pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let status = "";
  let sent = false;
  const started = new Promise<void>((up) =>
    child.stdio[3]!.on("data", (c: Buffer) => {
      status += c.toString();
      if (status.includes('"started"')) up();
    }),
  );
  child.stdout!.on("data", (c: Buffer) => {
    stdout += c.toString();
    if (!sent && stdout.includes("\n")) {
      sent = true;
      void Promise.all([started, execed(() => pidOutside(child.pid!, Number(stdout.split("\n")[0])), "sleep")]).then(() => {
        for (const s of signals) child.kill(s);
      });
    }
  });
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

test("SIGTERM to sandlock reaches the command: its trap writes the file, sandlock exits 143 as the script did", async () => {
  const dir = mkdtempSync("/tmp/sandlock-trap-");
  try {
    const r = await cli(["run", ...SYS, "-w", dir, "-e", `trap 'echo cleaned > ${dir}/f' TERM; sleep 1000 & echo $!; wait $!`], ["SIGTERM"]);
    assert.equal(r.code, 143, r.stderr);
    assert.equal(readFileSync(join(dir, "f"), "utf8"), "cleaned\n");
    // sandlock says nothing (the shell may report its own job: "Terminated" for the sleep,
    // which got the signal too, depending on when it reaps it).
    assert.doesNotMatch(r.stderr, /sandlock/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("control: with --kill-after 0 SIGTERM kills at once and the trap never runs", async () => {
  const dir = mkdtempSync("/tmp/sandlock-trap-");
  try {
    const r = await cli(["run", ...SYS, "-w", dir, "--kill-after", "0", "-e", `trap 'echo cleaned > ${dir}/f' TERM; sleep 1000 & echo $!; wait $!`], ["SIGTERM"]);
    assert.equal(r.code, 137, r.stderr);
    assert.equal(existsSync(join(dir, "f")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a command that ignores SIGTERM is killed after --kill-after, and sandlock says so", async () => {
  const r = await cli(["run", ...SYS, "--kill-after", "0.2", "-e", "trap '' TERM; sleep 1000 & echo $!; wait; sleep 1000"], ["SIGTERM"]);
  assert.equal(r.code, 137);
  assert.equal(r.stderr, "sandlock: SIGTERM: the sandbox did not stop within 0.2s (--kill-after): killed\n");
});

test("a second signal kills at once (--kill-after would wait for an hour)", async () => {
  const r = await cli(["run", ...SYS, "--kill-after", "3600", "-e", "trap '' TERM INT; sleep 1000 & echo $!; wait; sleep 1000"], ["SIGTERM", "SIGINT"]);
  assert.equal(r.code, 137);
  assert.equal(r.stderr, "");
});

test("-t sends SIGTERM first: the trap runs, the exit code is still 124", async () => {
  const r = await cli(["run", ...SYS, "-t", "0.3", "-e", "trap 'echo stopped; exit 0' TERM; sleep 1000 & echo $!; wait"], []);
  assert.equal(r.code, 124);
  assert.match(r.stdout, /^\d+\nstopped\n$/);
  assert.equal(r.stderr, "sandlock: timeout after 0.3s\n");
});

test("a bad --kill-after is a usage error naming the flag", async () => {
  for (const [v, why] of [["x", "is not a number of seconds (e.g. 5 or 0.5; 0 kills at once)"], ["-1", "is not a number of seconds (e.g. 5 or 0.5; 0 kills at once)"], ["9999999999", "is above 2147483 seconds (about 24.8 days), the longest wait supported"]]) {
    const r = await cli(["run", ...SYS, "--kill-after", v!, "--", "true"], []);
    assert.equal(r.code, 125);
    assert.equal(r.stderr.split("\n")[0], `sandlock: --kill-after: "${v}" ${why}`);
  }
});
