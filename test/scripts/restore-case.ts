// Runs one restore scenario against real processes, as whichever user runs it, and prints
// what it saw as one JSON line for test/integration/restore.test.ts to check.
// Usage: restore-case.js SCENARIO COUNTER (test/fixtures/checkpoint-counter.c built).

import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkpoint, CheckpointError, Sandbox, type PolicyInput } from "../../src/index.js";
import { CLI } from "../helpers/system.js";
import { editSavedCheckpoint } from "../helpers/saved-checkpoint.js";
import { useSealKeyName } from "../../src/checkpoint/seal.js";
import { SUPERVISED_WARNING } from "../../src/cli/restore.js";

const [scenario, counter] = process.argv.slice(2);
if (scenario === undefined || counter === undefined) throw new Error("usage: restore-case.js SCENARIO COUNTER");
const work = mkdtempSync(join(tmpdir(), "sl-restore-case-"));
const out = join(work, "out");
const secret = join(work, "secret");
mkdirSync(out);
mkdirSync(secret);
writeFileSync(join(secret, "s"), "secret\n");
const countFile = join(out, "count");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const base: PolicyInput = { fsReadable: [counter, secret], fsWritable: [out] };

function lines(file = countFile): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "latin1").split("\n").filter((l) => l !== "").map((l) => l.split(" "));
}

/** Says on stderr which step a case has reached, and when: a case the harness has to kill
 * for its time prints nothing else (a CI run's seal case did, after 60 s, once). */
const started = performance.now();
function stage(what: string): void {
  process.stderr.write(`restore-case: ${what} at ${Math.round(performance.now() - started)} ms\n`);
}

/** The files of the registry directory of runtime directory `dir` (a failed attempt's report). */
function registryFiles(dir: string): string[] {
  try {
    return readdirSync(join(dir, "sandlock"));
  } catch (e) {
    return [(e as NodeJS.ErrnoException).code ?? String(e)];
  }
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await sleep(10);
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

/** Runs argv, lets it work until ready(), pauses it (its files stay as captured), takes
 * the checkpoint, kills it. */
async function captured(argv: string[], ready: () => boolean, policy: PolicyInput = base): Promise<Checkpoint> {
  const sb = new Sandbox(policy);
  await sb.spawn(argv);
  await until("the program to work", ready);
  await sb.pause();
  const cp = await sb.checkpoint();
  await sb.kill();
  await sb.wait().catch(() => undefined);
  return cp;
}

/** Through the disk, as a user's restore would be. */
async function roundTrip(cp: Checkpoint, name: string): Promise<Checkpoint> {
  const dir = join(work, name);
  await cp.save(dir);
  return Checkpoint.load(dir);
}

function refusal(e: unknown) {
  if (!(e instanceof CheckpointError)) return { name: (e as Error).name, message: String((e as Error).message ?? e) };
  return { name: e.name, code: e.code, message: e.message, pid: e.pid ?? null, fd: e.fd ?? null };
}

/** One process's line of a hung run's report, short enough that several fit the few
 * hundred characters of npm test's closing list: pid<ppid, state, where it waits, the
 * call it is in (/proc/PID/syscall's number), its tracer, pending signals (thread's and
 * process's, when any) and its arguments' last words. */
function processLine(f: string[]): string {
  const [pid, ppid, , stat, wchan] = f;
  const read = (name: string): string => {
    try {
      return readFileSync(`/proc/${pid}/${name}`, "latin1");
    } catch {
      return "";
    }
  };
  const status = read("status");
  const field = (key: string): string => new RegExp(`^${key}:\\s*(\\S+)`, "m").exec(status)?.[1] ?? "?";
  const pending = [field("SigPnd"), field("ShdPnd")].map((v) => v.replace(/^0+/, "")).join("/");
  const args = f.slice(6).map((a) => a.split("/").pop()!).join(" ").slice(0, 60);
  return `${pid}<${ppid} ${stat} ${wchan} sc=${read("syscall").trim().split(" ")[0] || "?"} tr=${field("TracerPid")}${pending === "/" ? "" : ` pnd=${pending}`} ${args}`;
}

/** The processes that may hold a CLI's output open: this process's descendants and any
 * sandlock or sleep process elsewhere (a hung run's report, one line each, processLine). */
function processReport(): string {
  const ps = spawnSync("ps", ["-e", "-o", "pid=,ppid=,pgid=,stat=,wchan:24=,etimes=,args="], { encoding: "utf8" });
  const rows = ps.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => l.trim().split(/\s+/));
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const f of rows) {
      if (mine.has(Number(f[0])) || !mine.has(Number(f[1]))) continue;
      mine.add(Number(f[0]));
      grew = true;
    }
  }
  // This process's descendants first (the CLI and what it started), then the others,
  // which may be another test's (CI runs three files at once).
  const own = rows.filter((f) => Number(f[0]) !== process.pid && f[6] !== "ps" && mine.has(Number(f[0])));
  const others = rows.filter((f) => !mine.has(Number(f[0])) && /sandlock|sleep/.test(f.slice(6).join(" ")));
  return [...own, ...others].map(processLine).join("\n");
}

/** How long a CLI run may take before it is reported as hung and killed: the harness kills
 * the whole case at 60 s, with nothing said (one CI run's seal case hung in a CLI restore). */
const CLI_DEADLINE_MS = 40_000;

/** The sandlock CLI run with `args` (and `env`), to its end: its exit and the close of its
 * output. One not ended by CLI_DEADLINE_MS is killed; its code is then null and its stderr
 * says what had happened (exited or not, the processes holding on). */
function sandlock(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let exited = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("exit", (code, signal) => (exited = `exited (${code ?? signal}) at ${Math.round(performance.now() - t0)} ms`));
    const deadline = setTimeout(() => {
      stderr += `\n(not ended after ${CLI_DEADLINE_MS} ms; the CLI ${exited || "had not exited"}; processes:\n${processReport()})`;
      c.kill("SIGKILL");
      c.stdout.destroy();
      c.stderr.destroy();
      resolve({ code: null, stdout, stderr });
    }, CLI_DEADLINE_MS);
    c.on("close", (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}

async function refused(cp: Checkpoint, opts: Parameters<typeof Sandbox.restore>[1] = {}) {
  try {
    const sb = await Sandbox.restore(cp, opts);
    await sb.kill();
    return { name: "none", message: "restored" };
  } catch (e) {
    return refusal(e);
  }
}

async function run(): Promise<unknown> {
  switch (scenario) {
    case "count": {
      const cp = await roundTrip(await captured([counter, countFile], () => lines().length >= 20), "cp");
      const before = lines().length;
      const sb = await Sandbox.restore(cp);
      const pid = sb.pid;
      await until("20 more lines", () => lines().length >= before + 20);
      await sb.kill();
      const r = await sb.wait();
      return { before, values: lines().map((l) => Number(l[0])), originalPid: cp.processes[0]!.pid, restoredPid: pid, status: r.status };
    }
    case "kview": {
      // Under the kernel view's switch the capture is of the kernel view's sandbox (where
      // the host allows it); the restore runs in the view of the capture, whatever the
      // switch says by then.
      process.env.SANDLOCK_KERNEL_VIEW = "1";
      const sb0 = new Sandbox(base);
      await sb0.spawn([counter, countFile]);
      await until("10 lines", () => lines().length >= 10);
      await sb0.pause();
      const cp = await sb0.checkpoint();
      const originalView = sb0.procView;
      await sb0.kill();
      await sb0.wait().catch(() => undefined);
      const before = lines().length;
      process.env.SANDLOCK_KERNEL_VIEW = "0";
      const sb = await Sandbox.restore(cp);
      await until("10 more lines", () => lines().length >= before + 10);
      const restoredView = sb.procView;
      await sb.kill();
      await sb.wait();
      return { originalView, restoredView, before, values: lines().map((l) => Number(l[0])) };
    }
    case "handlers": {
      // Reading the handlers makes a thread of a paused sandbox run rt_sigaction: it must
      // be left exactly as it was (stopped, then counting on after resume).
      const sb = new Sandbox(base);
      await sb.spawn([counter, countFile, "thread"]);
      await until("5 lines", () => lines().length >= 5);
      await sb.pause();
      const atPause = lines().length;
      const cp = await sb.checkpoint();
      // Detached threads re-enter their group-stop (briefly traced or waking on the way).
      const states = (): string[] => readdirSync(`/proc/${sb.pid}/task`).map((t) => readFileSync(`/proc/${sb.pid}/task/${t}/stat`, "latin1").split(") ")[1]!.split(" ")[0]!);
      await until("both threads stopped again", () => states().every((x) => x === "T"));
      const stoppedLines = lines().length;
      await sb.resume();
      await until("5 more lines", () => lines().length >= atPause + 5);
      await sb.kill();
      await sb.wait().catch(() => undefined);
      const p = cp.processes[0]!;
      return { sigCaught: p.sigCaught, actions: (p.sigActions ?? []).map((a) => ({ sig: a.sig, handlerInText: p.maps.some((m) => m.perms[2] === "x" && m.start <= a.handler && a.handler < m.end) })), atPause, stoppedLines, values: lines().map((l) => Number(l[0])) };
    }
    case "thread": {
      // The counter with an idle second thread (pause() in a loop).
      const cp = await roundTrip(await captured([counter, countFile, "thread"], () => lines().length >= 10), "cp");
      const before = lines().length;
      const sb = await Sandbox.restore(cp);
      const tasks = readdirSync(`/proc/${sb.pid}/task`).length;
      await until("10 more lines", () => lines().length >= before + 10);
      await sb.kill();
      await sb.wait();
      return { before, threadsCaptured: cp.processes[0]!.threads.length, tasks, values: lines().map((l) => Number(l[0])) };
    }
    case "tree": {
      // The counter and its forked child, each counting into its own file.
      const child = `${countFile}.child`;
      const cp = await roundTrip(await captured([counter, countFile, "fork"], () => lines().length >= 10 && lines(child).length >= 10), "cp");
      const before = [lines().length, lines(child).length];
      const sb = await Sandbox.restore(cp);
      const kids = readFileSync(`/proc/${sb.pid}/task/${sb.pid}/children`, "latin1").trim().split(" ").filter((x) => x !== "");
      await until("10 more lines in each", () => lines().length >= before[0]! + 10 && lines(child).length >= before[1]! + 10);
      await sb.kill();
      await sb.wait();
      return { processes: cp.processes.length, children: kids.length, before, values: lines().map((l) => Number(l[0])), childValues: lines(child).map((l) => Number(l[0])) };
    }
    case "readloop": {
      const input = join(work, "in");
      let text = "";
      for (let i = 0; i < 150; i++) text += `r${String(i).padStart(7, "0")}\n`;
      writeFileSync(input, text);
      const copy = join(out, "copy");
      const size = (): number => (existsSync(copy) ? readFileSync(copy).length : 0);
      const cp = await captured([counter, "readloop", input, copy], () => size() >= 9 * 30, { ...base, fsReadable: [counter, work] });
      const before = size();
      const sb = await Sandbox.restore(cp);
      const r = await sb.wait();
      return { before, input: text, copy: readFileSync(copy, "latin1"), status: r.status, exitCode: r.exitCode };
    }
    case "confined": {
      const probe = join(secret, "s");
      const cp = await captured([counter, countFile, `probe=${probe}`], () => lines().length >= 10);
      const before = lines().length;
      // Stricter: the secret directory is no longer readable.
      const sb = await Sandbox.restore(cp, { policy: { fsReadable: [counter], fsWritable: [out] } });
      await until("10 more lines", () => lines().length >= before + 10);
      await sb.kill();
      await sb.wait();
      const all = lines();
      return { restoredView: sb.procView, before, errnosBefore: [...new Set(all.slice(0, before).map((l) => l[3]))], errnosAfter: [...new Set(all.slice(before).map((l) => l[3]))], values: all.map((l) => Number(l[0])) };
    }
    case "stoppending": {
      // SIGTSTP left queued for the thread and SIGTTIN for the process, both blocked: a
      // capture of the running sandbox keeps them (refused); one of the paused sandbox may
      // drop them, as the resume's SIGCONT does (checked on the original here).
      const file = join(out, "stop");
      const pending = (pid: number): string => {
        const masks = readdirSync(`/proc/${pid}/task`).map((t) => readFileSync(`/proc/${pid}/task/${t}/status`, "latin1"));
        return masks.map((m) => /^ShdPnd:\s*(\S+)/m.exec(m)![1] + "/" + /^SigPnd:\s*(\S+)/m.exec(m)![1]).join(" ");
      };
      const sb0 = new Sandbox(base);
      await sb0.spawn([counter, file, "stoppending"]);
      await until("3 lines", () => lines(file).length >= 3);
      const running = await sb0.checkpoint();
      await sb0.pause();
      const paused = await roundTrip(await sb0.checkpoint(), "stop");
      const whilePaused = pending(sb0.pid!);
      // Killed while paused, the file stays as captured; the resume is watched on a second run.
      await sb0.kill();
      await sb0.wait().catch(() => undefined);
      const sb1 = new Sandbox(base);
      await sb1.spawn([counter, join(out, "stop2"), "stoppending"]);
      await until("3 lines", () => lines(join(out, "stop2")).length >= 3);
      await sb1.pause();
      const beforeResume = pending(sb1.pid!);
      await sb1.resume();
      const afterResume = pending(sb1.pid!);
      await sb1.kill();
      await sb1.wait().catch(() => undefined);
      const p = paused.processes[0]!;
      const before = lines(file).length;
      const sb = await Sandbox.restore(paused);
      await until("5 more lines", () => lines(file).length >= before + 5);
      const restored = pending(sb.pid!);
      await sb.kill();
      await sb.wait().catch(() => undefined);
      return {
        running: await refused(running),
        captured: { stops: p.threads.map((t) => t.stop), shdPnd: p.sigSharedPending, sigPnd: p.threads.map((t) => t.sigPending) },
        whilePaused,
        beforeResume,
        afterResume,
        restored,
        before,
        values: lines(file).map((l) => Number(l[0])),
      };
    }
    case "refusals": {
      const result: Record<string, unknown> = {};
      // Each capture counts into a file of its own: a fresh process must have written.
      const socketCp = await captured([counter, join(out, "sock"), "socket"], () => lines(join(out, "sock")).length >= 3);
      result.socket = await refused(socketCp);
      const pipeCp = await captured([counter, join(out, "pipe"), "pipe"], () => lines(join(out, "pipe")).length >= 3);
      result.pipe = await refused(pipeCp);
      const pendingCp = await captured([counter, join(out, "pending"), "pending"], () => lines(join(out, "pending")).length >= 3);
      result.pending = await refused(pendingCp);
      const cp = await captured([counter, countFile], () => lines().length >= 3);
      const countBytes = readFileSync(countFile).length;
      result.ungranted = await refused(cp, { policy: { fsReadable: [counter, out] } });
      result.wider = await refused(cp, { policy: { ...base, fsWritable: [out, secret] } });
      result.widerLimit = await refused(cp, { policy: { ...base, maxProcesses: 100000 } });
      // Another kernel: the saved checkpoint.json edited, its checksum in the manifest redone.
      const dir = join(work, "other-kernel");
      await cp.save(dir);
      editSavedCheckpoint(dir, (meta) => void (meta.kernel = "2.6.32-other"));
      result.kernel = await refused(await Checkpoint.load(dir));
      // Nothing of the image ran in any refusal: the file is as captured.
      result.untouched = readFileSync(countFile).length === countBytes;
      appendFileSync(countFile, "more\n");
      result.changed = await refused(cp);
      // A mapped file (the program's own, a copy) changed after the capture: refused, named
      // by its first mapping; checkImage looks at each mapped file once.
      const copy = join(work, "counter-copy");
      writeFileSync(copy, readFileSync(counter), { mode: 0o755 });
      const mappedCp = await captured([copy, join(out, "mapped")], () => lines(join(out, "mapped")).length >= 3, { ...base, fsReadable: [copy, secret] });
      appendFileSync(copy, "x");
      result.mapChanged = await refused(mappedCp);
      return result;
    }
    case "cli": {
      // sandlock run --name, checkpoint NAME DIR, kill, restore DIR: a dynamically linked
      // sleep resumes (its nanosleep restarts) and exits 0; so does a tree.
      const env = { ...process.env, XDG_RUNTIME_DIR: work };
      const sh = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => sandlock(args, env);
      const ro = ["-r", "/usr", "-r", "/lib", "-r", "/lib64", "-r", "/bin", "-r", "/etc"];
      // The sandboxed sleeps last SLEEP seconds: long enough that a loaded host (each CLI
      // start can take a second there) still catches them running, and the restored copy
      // sleeps only what was left. A run that ends before its checkpoint is said so.
      // 3 s were not enough twice in CI's shared part (an attempt's CLI taking 3.4 s), now 5.
      const SLEEP = "5";
      const captureCli = async (name: string, cmd: string[]) => {
        let ended = false;
        const running = sh(["run", "--name", name, ...ro, ...cmd]).then((r) => ((ended = true), r));
        let c = { code: -1 as number | null, stdout: "", stderr: "" };
        const attempts: string[] = []; // each failed attempt's time and message, for a failure's report
        const t0 = performance.now();
        for (let i = 0; i < 100 && !ended; i++) {
          await sleep(100);
          const t1 = performance.now();
          c = await sh(["checkpoint", name, join(work, name)]);
          if (c.code === 0) break;
          attempts.push(`${Math.round(t1 - t0)}-${Math.round(performance.now() - t0)} ms: ${c.stderr.trim()} (registry: ${registryFiles(work).join(" ")})`);
        }
        await sh(["kill", "-s", "KILL", name]);
        const r = await running;
        if (c.code !== 0 && ended) c.stderr += `\n(the run ended at ${Math.round(performance.now() - t0)} ms before a checkpoint was taken: ${JSON.stringify(r)}; attempts: ${JSON.stringify(attempts)})`;
        return c;
      };
      const one = await captureCli("one", ["--", "sleep", SLEEP]);
      const restored = await sh(["restore", join(work, "one")]);
      // A shell waiting for its child: both restored; the sleep restarts, the shell's
      // wait4 too, and the shell then runs its second command.
      const tree = await captureCli("tree", ["-e", `sleep ${SLEEP}; echo after`]);
      const treeRestore = await sh(["restore", join(work, "tree")]);
      // Captured in the supervised view: restored there, with a warning on stderr.
      const supervised = await captureCli("sup", ["--proc-view", "supervised", "--", "sleep", SLEEP]);
      const supervisedRestore = await sh(["restore", join(work, "sup")]);
      const usage = await sh(["restore"]);
      return { one, restored, tree, treeRestore, supervised, supervisedRestore, warning: SUPERVISED_WARNING, usage };
    }
    case "seal": {
      // A checkpoint saved where another sandbox may write (not beneath the captured one's
      // own grants, which save refuses): that sandbox rewrites the saved policy to grant
      // itself `secret` writable, with manifest.json's size and SHA-256 put in step.
      const system = ["/usr", "/lib", "/lib64", "/bin", "/etc"].filter((p) => existsSync(p));
      const shared = join(work, "shared");
      mkdirSync(shared);
      const cp = await captured([counter, countFile], () => lines().length >= 5);
      stage("captured");
      const dir = join(shared, "cp");
      const result: Record<string, unknown> = { saved: await cp.save(dir), captured: cp.unverified ?? null };
      const fresh = await Checkpoint.load(dir);
      result.fresh = fresh.unverified ?? null;
      result.sealFile = readFileSync(join(dir, "seal"), "latin1");
      const TAMPER = `
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [dir, secret] = process.argv.slice(1);
const meta = JSON.parse(fs.readFileSync(path.join(dir, "checkpoint.json"), "utf8"));
meta.policy.fsWritable = [...(meta.policy.fsWritable ?? []), secret];
const data = Buffer.from(JSON.stringify(meta));
fs.writeFileSync(path.join(dir, "checkpoint.json"), data);
const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
for (const f of manifest.files) if (f.name === "checkpoint.json") Object.assign(f, { bytes: data.length, sha256: crypto.createHash("sha256").update(data).digest("hex") });
fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
console.log("rewritten");`;
      const node = process.execPath;
      const other: PolicyInput = { fsReadable: [...system, node], fsWritable: [shared] };
      stage("saved, tampering");
      const t = await Sandbox.run(other, [node, "-e", TAMPER, dir, secret], { timeout: 60_000 });
      stage(`tampered (${t.status})`);
      result.tamper = t.stdoutText.trim() || t.stderrText.trim().slice(0, 300);
      // Nor can it read the key to seal its own: the keyring is out of every sandbox's reach
      // (the search below, from this process, finds it).
      const SEARCH = `import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(250, 10, -4, b"user", b"sandlock:checkpoint-seal", 0)
print(r, ctypes.get_errno())`;
      const py = await Sandbox.run({ fsReadable: system }, ["/usr/bin/python3", "-c", SEARCH], { timeout: 60_000 });
      result.keyInSandbox = py.stdoutText.trim() || py.stderrText.trim().slice(0, 300);
      stage("key searched");
      const tampered = await Checkpoint.load(dir);
      result.tampered = tampered.unverified ?? null;
      result.tamperedPolicyGrants = tampered.policy.fsWritable.includes(secret);
      result.saved_ = await refused(tampered);
      // Given a policy (within the tampered one, as the check can only compare with it),
      // it runs under that policy: the counter counts on.
      const before = lines().length;
      stage("refused; restoring under a policy");
      const sb = await Sandbox.restore(tampered, { policy: base });
      await until("5 more lines", () => lines().length >= before + 5);
      await sb.kill();
      await sb.wait().catch(() => undefined);
      result.givenCounted = lines().length - before;
      stage("restored and killed");
      // The CLI: refused without a policy, with the reason; a profile naming a command, an
      // empty -p and an unknown profile are refused by name.
      const sh = async (args: string[]): Promise<{ code: number | null; stderr: string }> => {
        const { code, stderr } = await sandlock(args);
        return { code, stderr };
      };
      result.cli = await sh(["restore", dir]);
      const withCmd = join(work, "with-cmd.toml");
      writeFileSync(withCmd, `[program]\nexec = "/bin/true"\n`);
      result.cliWithCmd = await sh(["restore", "--profile-file", withCmd, dir]);
      result.cliEmpty = await sh(["restore", "-p", "", dir]);
      result.cliUnknown = await sh(["restore", "-p", "no-such-profile-here", dir]);
      // An unsealed checkpoint restored by the CLI under a profile: a sleep finishes (exit
      // 0); without one, refused.
      const sleeper = await captured(["/bin/sleep", "1"], () => true, { fsReadable: system });
      const dir3 = join(work, "cp3");
      await sleeper.save(dir3);
      rmSync(join(dir3, "seal"));
      const profile = join(work, "system.toml");
      writeFileSync(profile, `[filesystem]\nread = ${JSON.stringify(system)}\n`);
      stage("CLI refusals");
      result.cliProfile = await sh(["restore", "--profile-file", profile, dir3]);
      result.cliUnsealed = await sh(["restore", dir3]);
      // A seal removed, and a key this user does not hold (another user's, or one lost).
      rmSync(join(dir, "seal"));
      result.removed = (await Checkpoint.load(dir)).unverified ?? null;
      const dir2 = join(work, "cp2");
      await cp.save(dir2);
      const was = useSealKeyName("sandlock:checkpoint-seal-test-absent");
      try {
        result.lost = (await Checkpoint.load(dir2)).unverified ?? null;
      } finally {
        useSealKeyName(was);
      }
      result.found = (await Checkpoint.load(dir2)).unverified ?? null;
      // The place: two sealed checkpoints, each with its own policy, swapped by the other
      // sandbox (granted the directory they lie in).
      const a = join(shared, "a");
      const b = join(shared, "b");
      await cp.save(a);
      await sleeper.save(b);
      // The swap by renames, and a name made a symbolic link to another checkpoint.
      const SWAP = `const fs = require("fs"); const [a, b] = process.argv.slice(1);
fs.renameSync(a, a + ".t"); fs.renameSync(b, a); fs.renameSync(a + ".t", b);
fs.symlinkSync(b, a + ".link"); console.log("swapped");`;
      const swap = await Sandbox.run(other, [node, "-e", SWAP, a, b], { timeout: 60_000 });
      result.swap = swap.stdoutText.trim() || swap.stderrText.trim().slice(0, 300);
      const swapped = await Checkpoint.load(a);
      result.swapped = swapped.unverified ?? null;
      result.swappedPolicy = swapped.policy.fsReadable.includes("/usr");
      result.swappedRestore = await refused(swapped);
      result.linked = (await Checkpoint.load(`${a}.link`)).unverified ?? null;
      // The path after the HMAC rewritten to the new place: the HMAC, made for the old one, decides.
      writeFileSync(join(a, "seal"), Buffer.concat([readFileSync(join(a, "seal")).subarray(0, 65), Buffer.from(realpathSync(a))]));
      result.pathRewritten = (await Checkpoint.load(a)).unverified ?? null;
      // Even a link of the user's own on the way is not followed to a trusted checkpoint
      // (it cannot be told from one a sandbox made); named by its own path, it is trusted.
      await cp.save(join(shared, "d"));
      symlinkSync(shared, join(work, "link"));
      result.viaLink = (await Checkpoint.load(join(work, "link", "d"))).unverified ?? null;
      result.direct = (await Checkpoint.load(join(shared, "d"))).unverified ?? null;
      // Saved through the link, save names the real path, under which the seal is trusted.
      const savedViaLink = await cp.save(join(work, "link", "e"));
      result.savedViaLink = { ...savedViaLink, trusted: (await Checkpoint.load(savedViaLink.dir)).unverified ?? null, real: realpathSync(join(shared, "e")) };
      // A directory whose name is not UTF-8 text (reached through a link of plain text), and
      // one named with U+FFFD, the character such bytes are read as: neither is sealed.
      const odd = Buffer.concat([Buffer.from(`${work}/odd-`), Buffer.from([0xff])]);
      mkdirSync(odd);
      symlinkSync(odd, join(work, "odd"));
      const savedOdd = await cp.save(join(work, "odd", "g"));
      result.savedOdd = { sealed: savedOdd.sealed, why: savedOdd.why ?? null, loaded: (await Checkpoint.load(join(work, "odd", "g"))).unverified ?? null };
      mkdirSync(join(work, "odd-\uFFFD"));
      const savedReplacement = await cp.save(join(work, "odd-\uFFFD", "g"));
      result.savedReplacement = { sealed: savedReplacement.sealed, why: savedReplacement.why ?? null, sameText: savedReplacement.dir === savedOdd.dir };
      // A sealed checkpoint's files copied there, seal and all: not trusted at such a place.
      cpSync(join(shared, "d"), join(work, "odd-\uFFFD", "h"), { recursive: true });
      result.copiedSealed = (await Checkpoint.load(join(work, "odd-\uFFFD", "h"))).unverified ?? null;
      result.place = realpathSync(dir);
      return result;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

try {
  console.log(JSON.stringify(await run()));
} finally {
  rmSync(work, { recursive: true, force: true });
}
