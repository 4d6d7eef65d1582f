// The Sandbox API in-process: lifecycle errors, stdio options, abort and timeout, typed
// child-side failures, protection degradation, and what happens when the supervisor dies.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Writable } from "node:stream";
import { test } from "node:test";
import { ConfinementError, PolicyError, Sandbox, SandboxError } from "../../src/index.js";
import { overrideHost } from "../../src/kernel/probe.js";
import { alive } from "../helpers/proc.js";
import { ensureTestUser, isRoot, stagePackage } from "../helpers/stage.js";
import { SYSTEM_RO } from "../helpers/system.js";
import { viewOf } from "../helpers/view.js";

const { probe, dir } = stagePackage();
const policy = { fsReadable: [probe] };
const shell = { fsReadable: [probe, ...SYSTEM_RO] };

test("spawn resolves after exec with the pid; wait gives the result", async () => {
  const sb = new Sandbox(policy);
  assert.equal(sb.state, "created");
  assert.equal(sb.pid, undefined);
  await sb.spawn([probe, "exit", "7"]);
  assert.ok(sb.pid! > 0);
  const r = await sb.wait();
  assert.equal(r.exitCode, 7);
  assert.equal(r.pid, sb.pid);
  assert.equal(sb.state, "stopped");
});

test("lifecycle misuse is a SandboxError with a clear message", async () => {
  const sb = new Sandbox(policy);
  await assert.rejects(sb.pause(), { name: "SandboxError", message: "pause: not running (spawn first)" });
  await assert.rejects(sb.resume(), { name: "SandboxError", message: "resume: not running (spawn first)" });
  await assert.rejects(sb.kill(), { name: "SandboxError", message: "kill: not running (spawn first)" });
  await assert.rejects(sb.wait(), { name: "SandboxError", message: "wait: not running (spawn first)" });
  await sb.spawn([probe, "exit", "0"]);
  await assert.rejects(sb.spawn([probe, "exit", "0"]), {
    name: "SandboxError",
    message: "spawn: this sandbox was already spawned; create a new Sandbox",
  });
  await sb.wait();
  await assert.rejects(sb.pause(), { name: "SandboxError", message: "pause: not running (the sandbox has exited)" });
  await assert.rejects(sb.kill(), (e: unknown) => e instanceof SandboxError && e.code === "SANDBOX_STATE");
});

test("a pause or resume racing the sandbox's end is refused as one after the end is, never as a launcher failure", async () => {
  // The command reaches the launcher as its command exits: the launcher ends with it
  // unanswered (before the fix: "the sandbox launcher exited without reporting its
  // command's exit", a SupervisorError, though the exit was reported).
  const refusals = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const sb = new Sandbox(policy);
    await sb.spawn([probe, "exit", "0"]);
    let ended = false;
    const done = sb.wait().finally(() => (ended = true));
    while (!ended) {
      await new Promise((wake) => setImmediate(wake));
      for (const step of [() => sb.pause(), () => sb.resume()]) {
        await step().catch((e: Error) => refusals.set(`${e.name}: ${e.message}`, (refusals.get(`${e.name}: ${e.message}`) ?? 0) + 1));
      }
    }
    assert.equal((await done).exitCode, 0);
  }
  for (const what of refusals.keys()) assert.match(what, /^SandboxError: (pause|resume): not running \(the sandbox has exited\)$/, JSON.stringify([...refusals]));
});

test("a second spawn while the first waits for its workdir's module is refused; the first runs", { skip: !isRoot ? "the workdir's overlay needs root in-process" : false }, async () => {
  // A workdir run imports the copy-on-write module before it launches (sandbox.ts): the
  // first spawn has not started a process yet when the second call comes.
  const work = mkdtempSync("/tmp/sandlock-spawn-twice-");
  const storage = mkdtempSync("/tmp/sandlock-spawn-twice-store-");
  try {
    const sb = new Sandbox({ ...policy, workdir: work, fsStorage: storage, onExit: "abort" });
    const first = sb.spawn([probe, "exit", "0"]);
    await assert.rejects(sb.spawn([probe, "exit", "0"]), { name: "SandboxError", message: "spawn: this sandbox was already spawned; create a new Sandbox" });
    await first; // the control: the first call launches and runs to its end
    const r = await sb.wait();
    assert.equal(r.exitCode, 0);
    assert.equal(r.workdir?.action, "aborted");
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(storage, { recursive: true, force: true });
  }
});

test("bad commands and options are refused before any process starts", async () => {
  await assert.rejects(Sandbox.run(policy, []), { message: "cmd must be a non-empty array of strings (argv)" });
  await assert.rejects(Sandbox.run(policy, [probe, "a\0b"]), { message: 'cmd: argument "a\\u0000b" contains a NUL byte' });
  await assert.rejects(Sandbox.run(policy, [probe], { timeout: -1 }), { message: "timeout: -1 must be a positive number of milliseconds" });
  const aborted = AbortSignal.abort();
  await assert.rejects(Sandbox.run(policy, [probe], { signal: aborted }), { message: "spawn: the AbortSignal is already aborted" });
});

test("a command that does not exist is ConfinementError execve ENOENT", async () => {
  await assert.rejects(Sandbox.run(policy, ["no-such-command-sandlock"]), (e: unknown) => {
    assert.ok(e instanceof ConfinementError);
    assert.equal(e.errno, "ENOENT");
    assert.equal(e.step, "execve(no-such-command-sandlock)");
    assert.equal(e.message, "execve(no-such-command-sandlock): ENOENT (command not found in PATH)");
    return true;
  });
});

test("a program outside the grants fails at execve with EACCES, named", async () => {
  await assert.rejects(Sandbox.run({}, [probe, "exit", "0"]), (e: unknown) => {
    assert.ok(e instanceof ConfinementError);
    assert.equal(e.code, "CONFINEMENT_STEP_FAILED");
    const dir = probe.slice(0, probe.lastIndexOf("/"));
    // The errno of the view in force (docs/kernel-view.md, "errno"), the same advice; no
    // preset grants the staged probe's directory, so none is suggested.
    const why = viewOf({}) === "kernel" ? "ENOENT (not granted, so absent from the kernel view's root: it is" : "EACCES (it is";
    assert.equal(e.message, `execve(${probe}): ${why} not under fsReadable/fsWritable: grant ${dir} (-r ${dir}))`);
    return true;
  });
});

test("a child-side step failure names the step and errno (chdir)", async () => {
  await assert.rejects(Sandbox.run({ ...policy, cwd: "/nonexistent-sandlock-dir" }, [probe, "exit", "0"]), (e: unknown) => {
    assert.ok(e instanceof ConfinementError);
    assert.equal(e.step, "chdir(/nonexistent-sandlock-dir)");
    assert.equal(e.errno, "ENOENT");
    assert.equal(e.message, "chdir(/nonexistent-sandlock-dir): ENOENT (the working directory does not exist)");
    return true;
  });
});

test("maxOpenFiles above this process's hard limit runs at the hard limit (never EPERM)", async () => {
  const nrOpen = Number(readFileSync("/proc/sys/fs/nr_open", "utf8"));
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))![1]!;
  const r = await Sandbox.run({ ...policy, maxOpenFiles: nrOpen + 1 }, [probe, "rlimit", "nofile"]);
  assert.equal(r.exitCode, 0, r.stderrText);
  assert.equal(r.stdoutText, `${hard} ${hard}`);
  assert.deepEqual(r.adjustments, [{ field: "maxOpenFiles", requested: nrOpen + 1, applied: Number(hard), reason: `above this process's hard RLIMIT_NOFILE (${hard})` }]);
  assert.deepEqual(r.toJSON().adjustments, r.adjustments);
  const within = await Sandbox.run({ ...policy, maxOpenFiles: 64 }, [probe, "rlimit", "nofile"]);
  assert.deepEqual(within.adjustments, []);
});

test("a missing fsReadable path is a PolicyError naming it", async () => {
  await assert.rejects(Sandbox.run({ fsReadable: ["/nonexistent-sandlock"] }, [probe]), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.equal(e.field, "fsReadable");
    assert.equal(e.message, 'fsReadable: "/nonexistent-sandlock" does not exist');
    return true;
  });
});

test("input as a string and a Buffer; stdout into a Writable", async () => {
  const cat = ["/bin/cat"];
  assert.equal((await Sandbox.run(shell, cat, { input: "hello" })).stdoutText, "hello");
  assert.equal((await Sandbox.run(shell, cat, { input: Buffer.from([0, 255, 10]) })).stdout!.toString("hex"), "00ff0a");
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const r = await Sandbox.run(shell, ["/bin/echo", "to-stream"], { stdout: sink });
  assert.equal(r.stdout, null);
  assert.equal(Buffer.concat(chunks).toString(), "to-stream\n");
  const ignored = await Sandbox.run(shell, ["/bin/echo", "x"], { stdout: "ignore" });
  assert.equal(ignored.stdout, null);
});

test("spawn with stdin pipe exposes a writable stream", async () => {
  const sb = new Sandbox(shell);
  await sb.spawn(["/bin/cat"], { stdin: "pipe" });
  sb.stdin!.end("through the pipe");
  assert.equal((await sb.wait()).stdoutText, "through the pipe");
});

test("an AbortSignal kills the sandbox: killed, or timeout for AbortSignal.timeout", async () => {
  const ac = new AbortController();
  const p = Sandbox.run(policy, [probe, "sleep", "30"], { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const r = await p;
  assert.equal(r.status, "killed");
  const t = await Sandbox.run(policy, [probe, "sleep", "30"], { signal: AbortSignal.timeout(100) });
  assert.equal(t.status, "timeout");
});

test("await using disposes: the sandbox is killed at the end of the scope", async () => {
  let pid: number | undefined;
  {
    await using sb = new Sandbox(policy);
    await sb.spawn([probe, "sleep", "30"]);
    pid = sb.pid;
  }
  assert.throws(() => process.kill(pid!, 0), { code: "ESRCH" });
});

test("strict by default: a protection the kernel lacks fails the spawn", async () => {
  overrideHost({ landlockAbi: 3 });
  try {
    await assert.rejects(Sandbox.run(policy, [probe, "exit", "0"]), (e: unknown) => {
      assert.ok(e instanceof ConfinementError);
      assert.equal(e.protection, "net-tcp");
      assert.equal(e.requiredAbi, 4);
      assert.equal(e.hostAbi, 3);
      assert.match(e.message, /^protection "net-tcp" \(TCP bind and connect ports\) needs Landlock ABI 4, this kernel has ABI 3/);
      return true;
    });
    const r = await Sandbox.run(
      { ...policy, protection: { allowDegraded: ["net-tcp", "ioctl-dev", "scopes"] } },
      [probe, "exit", "0"],
    );
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.enforcement, {
      "fs": "active",
      "fs-refer": "active",
      "fs-truncate": "active",
      "net-tcp": "degraded",
      "ioctl-dev": "degraded",
      "scopes": "degraded",
    });
  } finally {
    overrideHost(undefined);
  }
});

test("disable switches a protection off and the result says so", async () => {
  const r = await Sandbox.run({ ...policy, protection: { disable: ["fs"] } }, [probe, "read", "/etc/hostname"]);
  assert.equal(r.stdoutText, "ok");
  assert.equal(r.enforcement.fs, "disabled");
});

/** Starts a supervising Node process (as `user` when given), kills it with SIGKILL, and
 * checks that the sandbox's root and its daemon die with it. */
async function supervisorDies(asUser: boolean): Promise<void> {
  const script = `${dir}/dist/test/helpers/supervisor-child.js`;
  const stagedProbe = `${dir}/sl-probe`;
  const [file, args] = asUser
    ? (() => {
        const u = ensureTestUser();
        return ["setpriv", [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups", "--", process.execPath, script, stagedProbe]];
      })()
    : [process.execPath, [script, stagedProbe]];
  const child = spawn(file as string, args as string[], { stdio: ["ignore", "pipe", "inherit"], cwd: "/" });
  const line = await new Promise<string>((resolve) => {
    let buf = "";
    child.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      if (buf.includes("\n")) resolve(buf.trim());
    });
  });
  const { root, daemon } = JSON.parse(line) as { root: number; daemon: number };
  assert.ok(alive(root) && alive(daemon), "both run before the supervisor dies");
  child.kill("SIGKILL");
  for (let i = 0; i < 200 && (alive(root) || alive(daemon)); i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(alive(root), false, "the root died with the supervisor");
  assert.equal(alive(daemon), false, "the daemon died with the supervisor");
}

test("if the supervising process dies, its sandbox dies with it [root]", { skip: isRoot ? false : "not root" }, () => supervisorDies(false));
test("if the supervising process dies, its sandbox dies with it [user]", () => supervisorDies(isRoot));
