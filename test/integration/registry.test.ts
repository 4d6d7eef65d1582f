// Running named sandboxes (sandlock ps, inspect, kill), as root and as the test user: each
// run gets its own XDG_RUNTIME_DIR, so the registry it sees holds only what it started.
// Bad runtime directories, stale entries, other users and sandboxed processes are refused.

import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { Checkpoint } from "../../src/index.js";
import { entryFile } from "../../src/registry/protocol.js";
import { ensureTestUser, isRoot, stagePackage } from "../helpers/stage.js";
import { SYSTEM_RO } from "../helpers/system.js";

type Who = "root" | "user";
const WHO: readonly Who[] = ["root", "user"];
const RO = SYSTEM_RO.filter((p) => p !== "/etc").flatMap((p) => ["-r", p]);
const skipFor = (who: Who): string | false => (who === "root" && !isRoot ? "tests are not running as root" : false);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Started {
  child: ChildProcess;
  done: Promise<Ran>;
  stdout: () => string;
  stderr: () => string;
}

const uidOf = (who: Who): number => (who === "user" && isRoot ? ensureTestUser().uid : process.getuid!());
const gidOf = (who: Who): number => (who === "user" && isRoot ? ensureTestUser().gid : process.getgid!());

/** A directory owned by `who`, mode 0700 (a fresh XDG_RUNTIME_DIR or work directory). */
const made: string[] = [];
process.on("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function dirFor(who: Who, prefix: string): string {
  const d = mkdtempSync(`/tmp/${prefix}-`);
  chownSync(d, uidOf(who), gidOf(who));
  made.push(d);
  return d;
}

function launch(who: Who, file: string, args: readonly string[], env: NodeJS.ProcessEnv): Started {
  const [f, a] = who === "user" && isRoot
    ? ["setpriv", [`--reuid=${uidOf(who)}`, `--regid=${gidOf(who)}`, "--clear-groups", "--", file, ...args]]
    : [file, [...args]];
  const child = spawn(f, a, { cwd: "/", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const done = new Promise<Ran>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code: code ?? (signal === null ? null : 128), stdout, stderr }));
  });
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

const cliPath = (): string => join(stagePackage().dir, "bin", "sandlock.cjs");
const startCli = (who: Who, args: readonly string[], env: NodeJS.ProcessEnv): Started => launch(who, process.execPath, [cliPath(), ...args], env);
const cli = (who: Who, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Ran> => startCli(who, args, env).done;
/** A library program running one named sandbox (test/scripts/registry-owner.ts). */
const startOwner = (who: Who, name: string, cmd: readonly string[], env: NodeJS.ProcessEnv): Started =>
  launch(who, process.execPath, [join(stagePackage().dir, "dist", "test", "scripts", "registry-owner.js"), name, ...cmd], env);

async function waitFor(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function psJson(who: Who, env: NodeJS.ProcessEnv): Promise<Record<string, any>[]> {
  const r = await cli(who, ["ps", "--json"], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, any>[];
}

/** The files of a registry directory but its lock file (src/registry/lock.ts), which stays. */
const registryFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f !== ".lock");

const listed = async (who: Who, env: NodeJS.ProcessEnv, name: string): Promise<boolean> => (await psJson(who, env)).some((r) => r.name === name && r.state === "running");

for (const who of WHO) {
  test(`ps lists a CLI-started and a library-started named sandbox, not an unnamed one [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    const byCli = startCli(who, ["run", "--name", "from-cli", ...RO, "--", "sleep", "1000"], env);
    const byLib = startOwner(who, "from-lib", ["/bin/sleep", "1000"], env);
    const unnamed = startCli(who, ["run", ...RO, "--", "sleep", "1000"], env);
    try {
      await waitFor(async () => (await psJson(who, env)).length >= 2 && byLib.stdout().includes("ready"), "both sandboxes listed");
      const rows = await psJson(who, env);
      assert.deepEqual(rows.map((r) => r.name), ["from-cli", "from-lib"], "named ones only, sorted");
      const libPid = (JSON.parse(byLib.stdout().split("\n")[0]!) as { ready: number }).ready;
      assert.equal(rows[1]!.pid, libPid);
      for (const r of rows) assert.equal(r.state, "running");
      assert.deepEqual(rows[0]!.command, ["sleep", "1000"]);
      assert.equal(rows[1]!.policy.maxMemory, String(256 * 2 ** 20));
      const text = await cli(who, ["ps"], env);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.trimEnd().split("\n");
      assert.match(lines[0]!, /^NAME +PID +AGE +STATE +POLICY$/);
      assert.match(lines[1]!, /^from-cli +\d+ +\d+s +running +read \d+, no network$/);
      assert.match(lines[2]!, new RegExp(`^from-lib +${libPid} +\\d+s +running +read \\d+, no network, memory 256 MiB$`));
    } finally {
      for (const s of [byCli, byLib, unnamed]) s.child.kill("SIGTERM");
      await Promise.all([byCli.done, byLib.done, unnamed.done]);
    }
  });

  test(`inspect shows the policy, enforcement, processes and usage against limits [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    // bash, not sh: dash's forks can fail with EINTR on a loaded host (a known limit of the
    // supervisor, interrupted.test.ts); bash restarts them (SA_RESTART on SIGCHLD).
    const run = startCli(who, ["run", "--name", "insp", ...RO, "-w", "/dev/null", "-P", "10", "--", "/bin/bash", "-c", "sleep 1000 & sleep 1001 & wait"], env);
    try {
      await waitFor(async () => {
        const r = await cli(who, ["inspect", "--json", "insp"], env);
        return r.code === 0 && (JSON.parse(r.stdout) as { processes: unknown[] }).processes.length === 3;
      }, "the shell and both sleeps").catch((e: Error) => {
        throw new Error(`${e.message} (sandlock run's stderr: ${run.stderr().slice(-500)})`);
      });
      const d = JSON.parse((await cli(who, ["inspect", "--json", "insp"], env)).stdout) as Record<string, any>;
      assert.equal(d.name, "insp");
      assert.equal(d.state, "running");
      assert.deepEqual(d.policy.fsWritable, ["/dev/null"]);
      assert.equal(d.policy.maxProcesses, 10);
      assert.equal(d.enforcement.fs, "active");
      const commands = (d.processes as { command: string; pid: number; ppid: number }[]).map((p) => p.command).sort();
      assert.deepEqual(commands, ["/bin/bash -c sleep 1000 & sleep 1001 & wait", "sleep 1000", "sleep 1001"]);
      assert.equal(d.usage.processes, 3);
      assert.equal(d.usage.maxProcesses, 10);
      assert.ok(d.usage.memoryBytes > 0, "anonymous memory is counted");
      assert.equal(d.usage.maxMemory, null);
      const text = await cli(who, ["inspect", "insp"], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^name +insp$/m);
      assert.match(text.stdout, /^ {2}fsWritable +\/dev\/null$/m);
      assert.match(text.stdout, /^ {2}fs active, fs-refer /m);
      assert.match(text.stdout, /^processes \(3\)$/m);
      assert.match(text.stdout, /^ {2}\d+ +\d+ +S +sleep 1001$/m);
      assert.match(text.stdout, /^ {2}processes {2}3 of 10 \(maxProcesses\)$/m);
      assert.match(text.stdout, /^ {2}memory {5}\d+ KiB anonymous, no limit$/m);
    } finally {
      run.child.kill("SIGTERM");
      await run.done;
    }
  });

  test(`kill stops gracefully: the command's trap runs, sandlock run exits with the command's code [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    const work = dirFor(who, "sl-work");
    const run = startCli(who, ["run", "--name", "graceful", ...RO, "-w", "/dev/null", "-w", work, "-e", `trap "echo trapped > ${work}/trap; exit 3" TERM; sleep 1000 & wait`], env);
    await waitFor(async () => {
      const r = await cli(who, ["inspect", "--json", "graceful"], env);
      return r.code === 0 && (JSON.parse(r.stdout) as { processes: unknown[] }).processes.length === 2;
    }, "the shell and its sleep");
    const k = await cli(who, ["kill", "graceful"], env);
    assert.equal(k.code, 0, k.stderr);
    // Both got it, unless the shell's trap ended the run before the second signal went.
    assert.match(k.stdout, /^graceful: stopped after SIGTERM \(sent to (2 processes|1 process)\); the command exited with code 3\n$/);
    const r = await run.done;
    assert.equal(r.code, 3, r.stderr);
    assert.equal(readFileSync(join(work, "trap"), "utf8"), "trapped\n");
    assert.deepEqual(await psJson(who, env), [], "the entry went with the sandbox");
    assert.deepEqual(registryFiles(join(env.XDG_RUNTIME_DIR, "sandlock")), []);
  });

  test(`checkpoint NAME DIR: the owner captures the running sandbox and saves it; it runs on; refusals name why [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    const out = dirFor(who, "sl-cp");
    const run = startCli(who, ["run", "--name", "cp", ...RO, "-e", "while :; do sleep 0.05; done"], env);
    try {
      await waitFor(() => listed(who, env, "cp"), "listed");
      const c = await cli(who, ["checkpoint", "cp", join(out, "one")], env);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, new RegExp(`^cp: \\d+ process(es)?, \\d+\\.\\d MiB of memory, saved to ${out}/one\\n$`));
      const cp = await Checkpoint.load(join(out, "one"));
      assert.ok(cp.processes.length >= 1);
      assert.ok(cp.processes.some((p) => p.cmdline[0] === "/bin/sh"), `the shell was captured: ${JSON.stringify(cp.processes.map((p) => p.cmdline))}`);
      assert.ok(await listed(who, env, "cp"), "the sandbox runs on after its checkpoint");
      const again = await cli(who, ["checkpoint", "cp", join(out, "one")], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^sandlock checkpoint: "cp": checkpoint save .*\/one: already exists; a checkpoint is never overwritten, choose a new directory\n$/);
      const none = await cli(who, ["checkpoint", "nosuch", join(out, "two")], env);
      assert.equal(none.code, 1);
      assert.equal(none.stderr, `sandlock checkpoint: no running sandbox named "nosuch" (sandlock ps lists the running ones)\n`);
      const usage = await cli(who, ["checkpoint", "cp"], env);
      assert.equal(usage.code, 125);
      assert.match(usage.stderr, /^sandlock checkpoint: give a sandbox name and a directory to save to \(got 1 argument\)\n/);
    } finally {
      run.child.kill("SIGTERM");
      await run.done;
    }
  });

  test(`kill forces after the grace period; a library-started sandbox gets the signal asked for [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    const run = startCli(who, ["run", "--name", "stubborn", ...RO, "-e", `trap "" TERM; sleep 1000`], env);
    const lib = startOwner(who, "lib", ["/bin/sleep", "1000"], env);
    // Listed is not enough: the name is claimed before the command starts, and a SIGTERM
    // before the shell's trap would end it at once. Its sleep runs once the trap is set.
    const trapSet = async (): Promise<boolean> => {
      const r = await cli(who, ["inspect", "--json", "stubborn"], env);
      return r.code === 0 && (JSON.parse(r.stdout) as { processes: { command: string }[] }).processes.some((p) => p.command === "sleep 1000");
    };
    await waitFor(async () => (await trapSet()) && (await listed(who, env, "lib")), "both listed, the stubborn one's trap set");
    const k = await cli(who, ["kill", "--kill-after", "0.5", "stubborn"], env);
    assert.equal(k.code, 0, k.stderr);
    assert.equal(k.stdout, "stubborn: still running 0.5s after SIGTERM, killed (SIGKILL); the command ended by SIGKILL\n");
    assert.equal((await run.done).code, 137);
    const k2 = await cli(who, ["kill", "-s", "INT", "lib"], env);
    assert.equal(k2.code, 0, k2.stderr);
    assert.equal(k2.stdout, "lib: stopped after SIGINT (sent to 1 process); the command ended by SIGINT\n");
    const out = (await lib.done).stdout.trim().split("\n");
    assert.deepEqual(JSON.parse(out[1]!), { status: "signaled", exitCode: null, signal: "SIGINT" });
  });

  test(`an entry whose owner was SIGKILLed is stale: ps removes it and does not list it [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    const lib = startOwner(who, "doomed", ["/bin/sleep", "1000"], env);
    await waitFor(() => listed(who, env, "doomed"), "listed");
    const dir = join(env.XDG_RUNTIME_DIR, "sandlock");
    lib.child.kill("SIGKILL"); // setpriv execs node: this is the owner itself
    await lib.done;
    assert.deepEqual(registryFiles(dir), [entryFile("doomed")], "control: the entry outlived its owner");
    assert.deepEqual(await psJson(who, env), []);
    assert.deepEqual(registryFiles(dir), [], "ps removed the stale entry");
    const again = await cli(who, ["run", "--name", "doomed", ...RO, "--", "true"], env);
    assert.equal(again.code, 0, again.stderr);
  });

  test(`a name already running is refused; free again once it stopped [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    const first = startCli(who, ["run", "--name", "dup", ...RO, "--", "sleep", "1000"], env);
    await waitFor(() => listed(who, env, "dup"), "listed");
    const second = await cli(who, ["run", "--name", "dup", ...RO, "--", "true"], env);
    assert.equal(second.code, 125);
    assert.match(second.stderr, /^sandlock: spawn: name "dup" is in use by a running sandbox of this user \(owner process \d+\); choose another name, or stop that one first: sandlock kill dup\n$/);
    assert.equal((await cli(who, ["kill", "--signal", "KILL", "dup"], env)).stdout, "dup: killed (SIGKILL); the command ended by SIGKILL\n");
    await first.done;
    assert.equal((await cli(who, ["run", "--name", "dup", ...RO, "--", "true"], env)).code, 0);
  });

  test(`a sandboxed process that reaches the registry socket cannot take the token or act [${who}]`, { skip: skipFor(who) }, async () => {
    const env = { XDG_RUNTIME_DIR: dirFor(who, "sl-xdg") };
    const probe = stagePackage().probe;
    const victim = startCli(who, ["run", "--name", "victim", ...RO, "--", "sleep", "1000"], env);
    try {
      await waitFor(() => listed(who, env, "victim"), "listed");
      const entry = join(env.XDG_RUNTIME_DIR, "sandlock", entryFile("victim"));
      // The whole runtime directory writable, /proc readable: the socket is reachable.
      const attack = await cli(who, ["run", "-r", probe, "-r", "/proc", "-w", env.XDG_RUNTIME_DIR, "--", probe, "registry-steal", entry, "stop"], env);
      assert.equal(attack.code, 0, attack.stderr);
      assert.match(attack.stdout, /^token E[A-Z]+ getfd E[A-Z]+ refused\n$/, "neither /proc nor pidfd_getfd gives the token");
      assert.ok(await listed(who, env, "victim"), "the victim still runs");
      // The client itself, run inside a sandbox, is refused the same way.
      const nested = await cli(who, ["run", ...SYSTEM_RO.flatMap((p) => ["-r", p]), "-r", stagePackage().dir, "-r", "/proc", "-w", env.XDG_RUNTIME_DIR, "--", process.execPath, cliPath(), "kill", "victim"], env);
      assert.equal(nested.code, 1);
      // The inner sandlock's own message, then the outer run's account of what its /proc view refused.
      assert.match(nested.stderr, /^sandlock kill: "victim" did not answer: cannot read its token \(\/proc\/\d+\/fd\/\d+: E[A-Z]+\)\n(sandlock: refused: open \/proc\/\d+\/fd\/\d+: EACCES, another process's \/proc entry \(the \/proc view\)\n)?$/);
      // Positive control: the same probe outside any sandbox gets the token and is answered.
      const bare = await launch(who, probe, ["registry-steal", entry, "info"], env).done;
      assert.equal(bare.stdout, "token ok getfd ok accepted\n");
    } finally {
      victim.child.kill("SIGTERM");
      await victim.done;
    }
  });

  test(`a runtime directory that is a symlink, someone else's or group-accessible is refused; the run goes on [${who}]`, { skip: skipFor(who) || (!isRoot ? "planting needs root" : false) }, async () => {
    const other = who === "root" ? ensureTestUser().uid : 0;
    const cases: [string, (d: string) => void, RegExp][] = [
      ["symlink", (d) => {
        mkdirSync(join(d, "real"), { mode: 0o700 });
        chownSync(join(d, "real"), uidOf(who), gidOf(who));
        symlinkSync(join(d, "real"), join(d, "sandlock"));
        lchownSync(join(d, "sandlock"), other, other);
      }, /is a symbolic link \(refusing to follow it: someone else may have planted it\)/],
      ["foreign", (d) => {
        mkdirSync(join(d, "sandlock"), { mode: 0o700 });
        chownSync(join(d, "sandlock"), other, other);
      }, new RegExp(`is owned by uid ${other}, not by this user \\(uid ${uidOf(who)}\\): someone else may have created it first`)],
      ["loose", (d) => {
        mkdirSync(join(d, "sandlock"));
        chmodSync(join(d, "sandlock"), 0o777);
        chownSync(join(d, "sandlock"), uidOf(who), gidOf(who));
      }, /has mode 0777; it must be 0700 \(chmod 700 /],
    ];
    for (const [what, plant, why] of cases) {
      const xdg = dirFor(who, "sl-xdg");
      plant(xdg);
      const env = { XDG_RUNTIME_DIR: xdg };
      const bad = join(xdg, "sandlock").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      const r = await cli(who, ["run", "--name", "x", ...RO, "--", "true"], env);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^sandlock: warning: sandbox "x" runs without a registry entry \\(sandlock ps, inspect and kill will not see it\\): ${bad} ${why.source}`), what);
      const ps = await cli(who, ["ps"], env);
      assert.equal(ps.code, 1, what);
      assert.match(ps.stderr, new RegExp(`^sandlock ps: ignoring registry directory ${bad}: ${why.source}`), what);
      if (what === "symlink") assert.deepEqual(readdirSync(join(xdg, "real")), [], "nothing was created through the link");
    }
  });
}

test("another user cannot see, inspect or stop your sandboxes; root reaching a user's entry is refused [root]", { skip: isRoot ? false : "needs root and the test user" }, async () => {
  const rootEnv = { XDG_RUNTIME_DIR: dirFor("root", "sl-xdg") };
  const userEnv = { XDG_RUNTIME_DIR: dirFor("user", "sl-xdg") };
  const mine = startCli("root", ["run", "--name", "secret", ...RO, "--", "sleep", "1000"], rootEnv);
  const theirs = startCli("user", ["run", "--name", "theirs", ...RO, "--", "sleep", "1000"], userEnv);
  try {
    await waitFor(async () => (await listed("root", rootEnv, "secret")) && (await listed("user", userEnv, "theirs")), "both listed by their owners");
    assert.deepEqual((await psJson("user", userEnv)).map((r) => r.name), ["theirs"], "the user sees only their own");
    // The user pointed at root's registry: refused as someone else's directory.
    const ps = await cli("user", ["ps"], rootEnv);
    assert.equal(ps.code, 1);
    assert.match(ps.stderr, /^sandlock ps: ignoring registry directory \/tmp\/sl-xdg-\w+\/sandlock: cannot be examined \(lstat: EACCES\): a directory above it is not open to this user\n$/);
    assert.equal(ps.stdout, "NAME  PID  AGE  STATE  POLICY\n");
    for (const cmd of ["inspect", "kill"]) {
      const r = await cli("user", [cmd, "secret"], rootEnv);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^sandlock ${cmd}: no running sandbox named "secret"`, "m"));
    }
    // Straight at the socket: the directory (0700) stops the user; root passes it, and the
    // owner refuses a peer of another uid (SO_PEERCRED).
    const ask = join(stagePackage().dir, "dist", "test", "scripts", "registry-ask.js");
    const rootEntry = join(rootEnv.XDG_RUNTIME_DIR, "sandlock", entryFile("secret"));
    const userEntry = join(userEnv.XDG_RUNTIME_DIR, "sandlock", entryFile("theirs"));
    const byUser = JSON.parse((await launch("user", process.execPath, [ask, rootEntry, "stop"], {}).done).stdout) as { kind: string; why?: string };
    assert.deepEqual(byUser, { kind: "failed", why: "EACCES" });
    const byRoot = JSON.parse((await launch("root", process.execPath, [ask, userEntry, "stop"], {}).done).stdout) as { kind: string; why?: string };
    assert.equal(byRoot.kind, "failed");
    assert.ok(await listed("root", rootEnv, "secret") && await listed("user", userEnv, "theirs"), "both still run");
    // Control: each owner's own user is answered.
    const ok = JSON.parse((await launch("root", process.execPath, [ask, rootEntry, "info"], {}).done).stdout) as { kind: string };
    assert.equal(ok.kind, "answered");
  } finally {
    mine.child.kill("SIGTERM");
    theirs.child.kill("SIGTERM");
    await Promise.all([mine.done, theirs.done]);
  }
});

test("without XDG_RUNTIME_DIR the registry is /tmp/sandlock-<uid>; one planted there by root is refused [user]", { skip: isRoot ? false : "planting needs root" }, async () => {
  const uid = uidOf("user");
  const planted = `/tmp/sandlock-${uid}`;
  rmSync(planted, { recursive: true, force: true });
  symlinkSync("/tmp", planted);
  try {
    const r = await cli("user", ["run", "--name", "x", ...RO, "--", "true"], {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^sandlock: warning: sandbox "x" runs without a registry entry .*: /tmp/sandlock-${uid} is a symbolic link`));
  } finally {
    rmSync(planted, { force: true });
  }
  // Control: with nothing planted the user's own directory is made, 0700.
  const r = await cli("user", ["run", "--name", "x", ...RO, "--", "true"], {});
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.ok(existsSync(planted));
  rmSync(planted, { recursive: true, force: true });
});

test("ps, inspect, kill: bad input gets a clear error naming the flag or value", async () => {
  const env = { XDG_RUNTIME_DIR: dirFor("root", "sl-xdg") };
  const usage = async (args: string[], first: string | RegExp): Promise<void> => {
    const r = await cli("root", args, env);
    assert.equal(r.code, 125, r.stderr);
    const line = r.stderr.split("\n")[0]!;
    if (typeof first === "string") assert.equal(line, first);
    else assert.match(line, first);
  };
  await usage(["inspect"], "sandlock inspect: no sandbox name given (sandlock ps lists the running ones)");
  await usage(["kill", "a", "b"], `sandlock kill: one name only (got 2: "a" "b")`);
  await usage(["inspect", "a b"], `sandlock inspect: NAME: "a b" contains U+0020 at position 1 (control characters and whitespace are not allowed in a name)`);
  await usage(["kill", "--signal", "FOO", "x"], `sandlock: --signal: "FOO" is not a signal name or number 1-64 (e.g. TERM, INT, HUP, KILL or 15)`);
  await usage(["kill", "--kill-after", "soon", "x"], `sandlock: --kill-after: "soon" is not a number of seconds (e.g. 10, 0.5 or 0)`);
  await usage(["kill", "--kill-after"], "sandlock kill: --kill-after needs a value (SECS)");
  await usage(["ps", "--jsn"], "sandlock ps: unknown flag --jsn (did you mean --json?)");
  await usage(["ps", "web"], `sandlock ps: unexpected argument "web" (to show one sandbox: sandlock inspect NAME)`);
  for (const cmd of ["inspect", "kill"]) {
    const r = await cli("root", [cmd, "nosuch"], env);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `sandlock ${cmd}: no running sandbox named "nosuch" (sandlock ps lists the running ones)\n`);
  }
  for (const args of [["ps", "--help"], ["help", "inspect"], ["kill", "-h"]]) {
    const r = await cli("root", args, env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^sandlock ${args[0] === "help" ? args[1] : args[0]}\n\nUsage:\n`));
  }
});
