// Runs integration cases in a Node process of their own, as whichever user started it:
// sets up the fixtures a case names (listeners, victims, directories), runs the scenario,
// and prints one JSON line of observations for the test to assert on. One case read whole
// from stdin; with --serve, one case per line of stdin, each answered by a line in turn
// (harness.ts keeps such a runner per user for the cases that need no fresh process).

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Sandbox } from "../../src/index.js";
import type { PolicyInput } from "../../src/index.js";
import type { CaseSpec, CaseOutcome, Fixture } from "./case-types.js";
import { alive, descendants, hostPidIn, statOf } from "./proc.js";

type Vars = Record<string, string>;

function substitute<T>(value: T, vars: Vars): T {
  if (typeof value === "string") {
    return value.replace(/\$\{(\w+)\}/g, (_, k: string) => {
      if (!(k in vars)) throw new Error(`case template uses unknown variable ${k}`);
      return vars[k]!;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)])) as T;
  }
  return value;
}

const cleanups: (() => void)[] = [];
const counters: Record<string, () => unknown> = {};

function listen(server: Server, opts: object): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts, () => resolve());
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await listen(s, { host: "127.0.0.1", port: 0 });
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function setup(fixture: Fixture, vars: Vars): Promise<void> {
  switch (fixture) {
    case "dirs": {
      const base = mkdtempSync("/tmp/sandlock-case-");
      cleanups.push(() => rmSync(base, { recursive: true, force: true }));
      for (const d of ["data", "write", "secret"]) mkdirSync(join(base, d));
      writeFileSync(join(base, "data", "file"), "data\n");
      writeFileSync(join(base, "secret", "file"), "secret\n");
      vars.BASE = base;
      vars.DATA = join(base, "data");
      vars.WRITE = join(base, "write");
      vars.SECRET = join(base, "secret");
      counters.secret = () => readFileSync(join(base, "secret", "file"), "utf8");
      break;
    }
    case "victim": {
      // A process of the same user outside the sandbox: only Landlock's signal scope
      // stands between the sandbox and it.
      const child = spawn("sleep", ["1000"], { stdio: "ignore" });
      await new Promise((r) => child.once("spawn", r));
      vars.VICTIM_PID = String(child.pid);
      let exited = false;
      child.once("exit", () => (exited = true));
      counters.victimAlive = () => !exited;
      cleanups.push(() => child.kill("SIGKILL"));
      break;
    }
    case "abstract": {
      const name = `sandlock-test-${process.pid}-${Date.now()}`;
      let accepted = 0;
      const server = createServer((s) => {
        accepted++;
        s.destroy();
      });
      await listen(server, { path: `\0${name}` });
      vars.ABSTRACT_NAME = name;
      counters.abstractAccepted = () => accepted;
      cleanups.push(() => server.close());
      break;
    }
    case "tcp": {
      for (const which of ["TCP_OK", "TCP_DENIED"]) {
        let accepted = 0;
        const server = createServer((s) => {
          accepted++;
          s.on("data", (d) => s.end(d));
          s.on("error", () => undefined);
        });
        await listen(server, { host: "127.0.0.1", port: 0 });
        vars[which] = String((server.address() as AddressInfo).port);
        counters[`${which}_accepted`] = () => accepted;
        cleanups.push(() => server.close());
      }
      break;
    }
    case "tcp6": {
      // A TCP echo server on ::1, for IPv6 destinations.
      const server = createServer((s) => {
        s.on("data", (d) => s.end(d));
        s.on("error", () => undefined);
      });
      await listen(server, { host: "::1", port: 0 });
      vars.TCP6_OK = String((server.address() as AddressInfo).port);
      cleanups.push(() => server.close());
      break;
    }
    case "udp": {
      // Two UDP echo servers on 127.0.0.1, counting the datagrams that reach them.
      const { createSocket } = await import("node:dgram");
      for (const which of ["UDP_OK", "UDP_DENIED"]) {
        let received = 0;
        const sock = createSocket("udp4", (msg, from) => {
          received++;
          sock.send(msg, from.port, from.address);
        });
        await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
        vars[which] = String(sock.address().port);
        counters[`${which}_received`] = () => received;
        cleanups.push(() => sock.close());
      }
      break;
    }
    case "unix": {
      // Unix stream echo servers on the host: one under the directory a test grants
      // writable (in), one under a read-only grant (ro), one outside every grant (out),
      // counting connections; a symlink in the writable directory points outside.
      const base = mkdtempSync("/tmp/sandlock-unix-");
      cleanups.push(() => rmSync(base, { recursive: true, force: true }));
      for (const d of ["write", "ro", "out"]) mkdirSync(join(base, d));
      for (const [which, path] of [["unixIn", join(base, "write", "in.sock")], ["unixRo", join(base, "ro", "ro.sock")], ["unixOut", join(base, "out", "out.sock")]] as const) {
        let accepted = 0;
        const server = createServer((s) => {
          accepted++;
          s.on("data", (d) => s.end(d));
          s.on("error", () => undefined);
        });
        await listen(server, { path });
        counters[`${which}_accepted`] = () => accepted;
        cleanups.push(() => server.close());
      }
      symlinkSync(join(base, "out", "out.sock"), join(base, "write", "link"));
      Object.assign(vars, { UNIX_WRITE: join(base, "write"), UNIX_RO: join(base, "ro"), UNIX_OUT: join(base, "out") });
      break;
    }
    case "ports":
      vars.BIND_OK = String(await freePort());
      // The kernel may hand the same free port out twice in a row: the denied one must differ.
      do vars.BIND_DENIED = String(await freePort());
      while (vars.BIND_DENIED === vars.BIND_OK);
      break;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lines(buf: Buffer[]): string[] {
  return Buffer.concat(buf).toString().split("\n").filter(Boolean);
}

async function scenario(spec: CaseSpec, policy: PolicyInput, cmd: string[], out: CaseOutcome): Promise<void> {
  switch (spec.scenario ?? "run") {
    case "run": {
      const r = await Sandbox.run(policy, cmd, spec.timeout !== undefined ? { timeout: spec.timeout } : {});
      out.result = r.toJSON();
      out.observed.procView = r.procView; // the errno a check expects depends on it (byView)
      return;
    }
    case "bare": {
      // No sandbox at all, same user and command: shows what the attack gets when nothing stops it.
      const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", timeout: spec.timeout ?? 30_000 });
      out.result = { status: r.signal === null ? "exited" : "signaled", exitCode: r.status, stdout: r.stdout, stderr: r.stderr };
      return;
    }
    case "daemon-kill": {
      // The root stays; its daemonised grandchild escaped with setsid and a double fork.
      const sb = new Sandbox(policy);
      await sb.spawn(cmd, { stdout: "pipe" });
      const chunks: Buffer[] = [];
      sb.stdout!.on("data", (c: Buffer) => chunks.push(c));
      for (let i = 0; i < 200 && lines(chunks).length === 0; i++) await sleep(10);
      // Under the kernel view the daemon names itself by its namespace's pid.
      const printed = Number(lines(chunks)[0]);
      const daemon = sb.procView === "kernel" && sb.pid !== undefined ? (hostPidIn(sb.pid, printed) ?? -1) : printed;
      out.observed.daemonPid = daemon;
      out.observed.aliveBeforeKill = alive(daemon);
      await sb.kill();
      out.observed.aliveAfterKill = alive(daemon);
      out.observed.rootAliveAfterKill = sb.pid !== undefined && alive(sb.pid);
      out.result = (await sb.wait()).toJSON();
      return;
    }
    case "daemon-exit": {
      const r = await Sandbox.run(policy, cmd);
      const daemon = Number(r.stdoutText.split("\n")[0]);
      out.observed.daemonPid = daemon;
      // Under the kernel view that pid is the namespace's, gone with it: nothing the launcher
      // started may be left at all (the daemon was reparented to the init, its descendant).
      out.observed.aliveAfterExit = r.procView === "kernel" ? descendants(process.pid).length > 0 : alive(daemon);
      out.result = r.toJSON();
      return;
    }
    case "fifty": {
      // Fifty sandboxes supervised at once by this one process, each at its own limit.
      const results = await Promise.all(Array.from({ length: 50 }, () => Sandbox.run(policy, cmd, { timeout: 30_000 })));
      out.observed.answers = results.map((r) => r.stdoutText);
      out.observed.statuses = results.map((r) => r.status);
      return;
    }
    case "forkbomb": {
      // Sample the sandbox's size and this event loop's lag while the bomb runs.
      const sb = new Sandbox(policy);
      await sb.spawn(cmd, { stdout: "ignore", stderr: "ignore", timeout: spec.timeout ?? 2000 });
      let peak = 0;
      let maxLag = 0;
      // The launcher, and under the kernel view its init (sandlock's, not the command's:
      // maxProcesses leaves it out, docs/kernel-view.md "The init").
      const ours = sb.procView === "kernel" ? 2 : 1;
      let last = performance.now();
      // The launcher's own CPU time (it counts the processes when a fork meets the limit:
      // outside the sandbox, so what the bomb makes it spend must stay bounded), from the
      // first sample that finds it to the last, as a share of that wall time (a clock tick is
      // 10 ms: USER_HZ is 100 on every Linux architecture Node runs on here).
      let launcher: { pid: number; t0: number; ticks0: number; t1: number; ticks1: number } | undefined;
      const timer = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 25);
        last = now;
        const mine = descendants(process.pid);
        peak = Math.max(peak, mine.length - ours);
        if (launcher === undefined) {
          const pid = mine.find((p) => statOf(p)?.ppid === process.pid);
          const st = pid === undefined ? undefined : statOf(pid);
          if (pid !== undefined && st !== undefined) launcher = { pid, t0: now, ticks0: st.cpuTicks, t1: now, ticks1: st.cpuTicks };
        } else {
          const st = statOf(launcher.pid);
          if (st !== undefined) Object.assign(launcher, { t1: now, ticks1: st.cpuTicks });
        }
      }, 25);
      out.result = (await sb.wait()).toJSON();
      clearInterval(timer);
      await sleep(100);
      const launcherCpuShare = launcher === undefined || launcher.t1 - launcher.t0 < 500 ? -1 : ((launcher.ticks1 - launcher.ticks0) * 10) / (launcher.t1 - launcher.t0);
      Object.assign(out.observed, { peak, maxLagMs: Math.round(maxLag), leftover: descendants(process.pid).length, launcherCpuShare });
      return;
    }
    case "pause": {
      const sb = new Sandbox(policy);
      await sb.spawn(cmd, { stdout: "pipe" });
      const chunks: Buffer[] = [];
      sb.stdout!.on("data", (c: Buffer) => chunks.push(c));
      // Waits bounded by count, not fixed sleeps: on a loaded machine 300 or 400 ms could
      // pass with the counter not yet running or not yet scheduled again.
      const untilLines = async (n: number): Promise<void> => {
        for (const end = performance.now() + 10_000; lines(chunks).length < n && performance.now() < end; ) await sleep(10);
      };
      await untilLines(3);
      await sb.pause();
      out.observed.state = sb.state;
      await sleep(50); // output already in flight reaches us
      const atPause = lines(chunks).length;
      await sleep(400);
      const afterWait = lines(chunks).length;
      await sb.resume();
      out.observed.stateAfterResume = sb.state;
      await untilLines(afterWait + 6);
      const afterResume = lines(chunks).length;
      Object.assign(out.observed, { atPause, afterWait, afterResume });
      await sb.kill();
      out.result = (await sb.wait()).toJSON();
      return;
    }
  }
}

async function runOne(spec: CaseSpec): Promise<CaseOutcome> {
  for (const k of Object.keys(counters)) delete counters[k];
  // The runner itself: a process outside the sandbox that tests can aim at.
  const vars: Vars = { RUNNER_PID: String(process.pid), ...spec.vars };
  const out: CaseOutcome = { observed: {} };
  try {
    for (const f of spec.fixtures ?? []) await setup(f, vars);
    const policy = substitute(spec.policy, vars);
    const cmd = substitute(spec.cmd, vars);
    if (spec.prepare) {
      for (const [op, ...args] of substitute(spec.prepare, vars)) prepare(op!, args);
    }
    await scenario(spec, policy, cmd, out);
  } catch (e) {
    const err = e as Error & Record<string, unknown>;
    out.error = { name: err.name, message: err.message, code: err.code, step: err.step, errno: err.errno };
  }
  // Datagrams already sent may still wait in a fixture's socket: let them be counted.
  if (spec.fixtures?.includes("udp")) await sleep(100);
  // A signal the sandbox sent reaches the victim, and its exit this process's event loop,
  // a little later than the sandbox's own exit: wait for it, bounded.
  for (let i = 0; i < 50 && counters.victimAlive?.() === true; i++) await sleep(10);
  for (const [k, f] of Object.entries(counters)) {
    try {
      out.observed[k] = f();
    } catch (e) {
      out.observed[k] = `unreadable: ${(e as Error).message}`;
    }
  }
  out.vars = vars;
  for (const c of cleanups.splice(0)) c();
  return out;
}

const print = (out: CaseOutcome): Promise<void> => new Promise((done) => process.stdout.write(JSON.stringify(out) + "\n", () => done()));

async function main(): Promise<void> {
  if (process.argv.includes("--serve")) {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      if (line !== "") await print(await runOne(JSON.parse(line) as CaseSpec));
    }
    process.exit(0);
  }
  const out = await runOne(JSON.parse(readFileSync(0, "utf8")) as CaseSpec);
  // Exit only once the (possibly large) line is flushed into the pipe.
  await print(out);
  process.exit(0);
}

/** File operations done outside the sandbox before it runs (fixtures for escape tests). */
function prepare(op: string, args: string[]): void {
  switch (op) {
    case "write":
      writeFileSync(args[0]!, args[1] ?? "x\n");
      break;
    case "mkdir":
      mkdirSync(args[0]!, { recursive: true });
      break;
    default:
      throw new Error(`unknown prepare op ${op}`);
  }
}

void main();
