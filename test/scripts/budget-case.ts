// Measures, from the supervising process itself, what a flooding sandbox makes it hold or
// spend, and whether another sandbox of the same process still works meanwhile. Prints
// one JSON line. Usage: budget-case.js MODE PROBE ARGS...
//   connect PROBE N     N threads blocked in performed connects (descriptors during and
//                       after, a second sandbox's own performed calls)
//   errors PROBE ROUNDS the error paths of performed calls (descriptors before and after)
//   netlink PROBE MS HOW [CPU]  a netlink dump flood (this process's CPU and event-loop lag)
//   urandom PROBE MS [CPU]  a seeded /dev/urandom spliced into /dev/null (the same measures)
//   hold PROBE WHAT PROCS N MS  PROCS processes holding N descriptors, mappings or shared mappings each
//                       under maxMemory for MS (the memory watchdog's looks: the same measures)
//   epoll PROBE PROCS N MS [pass]  PROCS processes each holding an epoll file of N watches
//                       under maxMemory for MS, passing it over a socket pair of their own
//                       in a loop with "pass" (the watchdog counts the watches; the same measures)
//   epoll-call PROBE N MS timerfd|pidfd  an epoll file of N watches given for MS, in a loop,
//                       to timerfd_settime under timeStart, or to pidfd_send_signal on a
//                       kernel taken for one without Landlock's signal scope (every signal
//                       supervised): what the supervisor reads of it (the same measures)
//   listeners PROBE N M  under portRemap, N listeners of the sandbox on one port, then M
//                       connects to a remapped port (each asks who listens there)
//   netread PROBE PROCS FDS MS  PROCS processes holding FDS descriptors each read the
//                       supervised /proc/self/net/unix in a loop for MS (the same measures)
//   netread-pairs PROBE PROCS FDS MS  the same, each process's descriptors socket pairs of
//                       its own (the host's socket table grows with them)
//   ptys PROBE PROCS FDS MS [T]  PROCS processes holding FDS descriptors each open, in T
//                       threads each (1), their own terminal and one held outside, in
//                       turn, for MS (the same measures)
//   dirs PROBE N MS     under deterministicDirs, a directory of N names changed and listed
//                       whole from its start in a loop for MS (the same measures)
//   dirs-killed PROBE N  the same loop killed after 2.5 s (descriptors before, most, after)
//   dir-threads PROBE N T R  under deterministicDirs, T threads each listing a directory of N
//                       names R times (read afresh each time), each listing checked whole
//                       and sorted; dir-threads-unsorted: the same without the flag (a control)
//   busy PROBE MS       a control: this process blocks its own event loop for MS

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { Sandbox } from "../../src/index.js";
import { overrideHost } from "../../src/kernel/probe.js";
import { watchSlices } from "../../src/supervise/slices.js";
import { loopThreadSched } from "../helpers/proc.js";

const [mode, probe, ...args] = process.argv.slice(2) as [string, string, ...string[]];

const fds = (): number => readdirSync("/proc/self/fd").length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The descriptor count once it is back to at most `target` (or after 10 s, whatever it is). */
async function settledFds(target: number): Promise<number> {
  for (let i = 0; i < 100 && fds() > target; i++) await sleep(100);
  return fds();
}

/** The first line the sandbox prints on stdout. */
function firstLine(sb: Sandbox): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    sb.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    sb.stdout!.on("end", () => resolve(out.trim()));
  });
}

async function connectFlood(n: string, dir: string): Promise<object> {
  // Warm up: the first sandbox of a process opens descriptors that stay (worker pool...).
  await Sandbox.run({ fsReadable: [probe], fsWritable: [dir] }, [probe, "budget-errors", "1", dir]);
  const before = fds();
  const sb = new Sandbox({ fsReadable: [probe], fsWritable: [dir] });
  await sb.spawn([probe, "budget-connect-flood", n, dir], { stdout: "pipe" });
  const line = await firstLine(sb);
  const during = fds();
  // Another sandbox of this process, with performed calls of its own, while the flood waits.
  const other = mkdtempSync(join(tmpdir(), "sl-budget-"));
  let second: string;
  try {
    const r = await Sandbox.run({ fsReadable: [probe], fsWritable: [other] }, [probe, "budget-errors", "1", other], { timeout: 30_000 });
    second = `${r.status} ${r.stdoutText}`;
  } catch (e) {
    second = `${(e as Error).name}: ${(e as Error).message}`;
  }
  rmSync(other, { recursive: true, force: true });
  await sb.kill();
  await sb.wait();
  return { line, before, during, after: await settledFds(before), second };
}

async function errorFlood(rounds: string, dir: string): Promise<object> {
  const policy = { fsReadable: [probe], fsWritable: [dir] };
  await Sandbox.run(policy, [probe, "budget-errors", "1", dir]);
  // A descriptor passed: the sender starts (native/sender.c), and its socket stays with
  // this process for the sends to come, as the worker threads do.
  await Sandbox.run(policy, [probe, "unix-self", dir]);
  const before = fds();
  const r = await Sandbox.run(policy, [probe, "budget-errors", rounds, dir], { timeout: 50_000 });
  // A sandbox killed while its senders wait in performed calls: what they held goes too.
  const sb = new Sandbox({ fsReadable: [probe] });
  await sb.spawn([probe, "red-rights-flood", "20"], { stdout: "pipe" });
  const flood = await firstLine(sb);
  await sleep(500);
  const during = fds();
  await sb.kill();
  await sb.wait();
  return { line: r.stdoutText, status: r.status, flood, before, during, after: await settledFds(before) };
}

async function netlinkFlood(ms: string, how: string, cpu?: string): Promise<object> {
  return flood({ fsReadable: [probe], ...(cpu === undefined ? {} : { maxCpu: Number(cpu) }) }, ["budget-netlink-flood", ms, how]);
}

async function urandomFlood(ms: string, cpu?: string): Promise<object> {
  const policy = { fsReadable: [probe, "/dev/urandom"], fsWritable: ["/dev/null"], randomSeed: 1, ...(cpu === undefined ? {} : { maxCpu: Number(cpu) }) };
  return flood(policy, ["budget-urandom-splice", ms]);
}

async function hold(what: string, procs: string, n: string, ms: string): Promise<object> {
  return flood({ fsReadable: [probe], maxMemory: "1G", maxProcesses: Number(procs) + 1 }, ["budget-hold", what, procs, n, ms]);
}

async function epollHold(procs: string, n: string, ms: string, pass?: string): Promise<object> {
  return flood({ fsReadable: [probe], maxMemory: "1G", maxProcesses: Number(procs) + 1 }, ["budget-epoll", procs, n, ms, ...(pass === undefined ? [] : [pass])]);
}

async function epollCall(n: string, ms: string, call: string): Promise<object> {
  if (call === "pidfd") overrideHost({ landlockAbi: 5 }); // as signals-case.ts
  const policy = call === "timerfd" ? { fsReadable: [probe], timeStart: new Date(2000, 0, 1) } : { fsReadable: [probe], protection: { allowDegraded: ["scopes" as const] }, procView: "supervised" as const };
  return flood(policy, ["budget-epoll-call", n, ms, call]);
}

/** A new directory in /dev/shm, when it is a writable tmpfs; undefined otherwise. */
function shmDir(): string | undefined {
  try {
    return statfsSync("/dev/shm").type === 0x01021994 ? mkdtempSync("/dev/shm/sl-budget-") : undefined;
  } catch {
    return undefined;
  }
}

async function dirs(dir: string, n: string, ms: string): Promise<object> {
  return flood({ fsReadable: [probe], fsWritable: [dir], deterministicDirs: true }, ["dir-churn", join(dir, "d"), n, ms]);
}

/** A sandbox listing a directory of N names in parts, killed meanwhile: what the supervisor
 * held for its listings (descriptors) is let go. */
async function dirsKilled(dir: string, n: string): Promise<object> {
  const policy = { fsReadable: [probe], fsWritable: [dir], deterministicDirs: true };
  await Sandbox.run(policy, [probe, "exit", "0"]);
  const before = fds();
  const sb = new Sandbox(policy);
  await sb.spawn([probe, "dir-churn", join(dir, "d"), n, "60000"], { stdout: "pipe" });
  // Past the files' making (about 1 s for 100,000 on tmpfs), into the loop of listings.
  let most = 0;
  for (let i = 0; i < 25; i++) {
    await sleep(100);
    most = Math.max(most, fds());
  }
  await sb.kill();
  const r = await sb.wait();
  return { status: r.status, before, most, after: await settledFds(before) };
}

async function dirThreads(dir: string, n: string, threads: string, rounds: string, sorted: boolean): Promise<object> {
  mkdirSync(join(dir, "d"));
  const r = await Sandbox.run({ fsReadable: [probe], fsWritable: [dir], deterministicDirs: sorted, maxProcesses: 4 }, [probe, "dir-threads", join(dir, "d"), n, threads, rounds], { timeout: 120_000 });
  return { line: r.stdoutText.trim(), status: r.status, stderr: r.stderrText };
}

async function netRead(procs: string, fds: string, ms: string, pairs = false): Promise<object> {
  return flood({ fsReadable: [probe, "/proc"], procView: "supervised", maxProcesses: Number(procs) + 1 }, ["budget-net-read", procs, fds, ms, ...(pairs ? ["pairs"] : [])]);
}

async function ptys(procs: string, fds: string, ms: string, threads = "1"): Promise<object> {
  // A terminal held outside the sandbox: the probe's "hold-pty" prints its number.
  const holder = spawn(probe, ["hold-pty"], { stdio: ["pipe", "pipe", "inherit"] });
  const other = await new Promise<string>((resolve) => holder.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())));
  try {
    return await flood({ fsReadable: [probe], fsWritable: ["/dev"], maxProcesses: Number(procs) + 1 }, ["pty-flood", procs, fds, ms, other, threads]);
  } finally {
    holder.stdin.end();
  }
}

/** A port a host listener holds (so the sandbox's bind there is remapped), and the listener. */
async function hostPort(): Promise<{ port: number; close: () => void }> {
  const server = createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function listeners(n: string, m: string): Promise<object> {
  const taken = await hostPort();
  const other = await hostPort();
  other.close(); // a port free on the host, for the sandbox's crowd of listeners
  const program = `
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", ${taken.port})); s.listen(64)
crowd = []
for i in range(${Number(n)}):
    x = socket.socket(); x.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    x.bind(("127.0.0.1", ${other.port})); x.listen(1); crowd.append(x)
t0 = time.monotonic()
for i in range(${Number(m)}):
    c = socket.create_connection(("127.0.0.1", ${taken.port})); a, _ = s.accept(); a.close(); c.close()
print("connected", ${Number(m)}, "listeners", len(crowd), "ms", round((time.monotonic() - t0) * 1000), flush=True)
`;
  try {
    const policy = { fsReadable: [probe, "/usr", "/lib", "/lib64", "/bin", "/etc"], netAllowBind: [taken.port, other.port], netAllow: [`tcp://127.0.0.1:${taken.port}`], portRemap: true };
    return await flood(policy, ["/usr/bin/python3", "-c", program], false);
  } finally {
    taken.close();
  }
}

/** The worst stall's report: its length, the part of it spent waiting for a CPU, and how
 * much of it slices of the supervisor's work in slices (slices.ts) and the garbage
 * collector took. Each is an overlap with the gap and they may overlap each other (a
 * collection inside a slice counts in both); what none covers is other work on the loop
 * (the supervisor's answers, the launcher's messages). */
export interface Stall {
  ms: number;
  waitingMs: number;
  /** The longest gap less the timer's period and what its thread waited for a CPU within
   * it (possibly another gap than `ms`'s): the loop held, as measured() takes it. */
  heldMs: number;
  slicesMs: number;
  longestSliceMs: number;
  gcMs: number;
}

/**
 * The longest gap between turns of this process's event loop while it runs, with how much
 * of it the main thread spent waiting for a CPU (the run-queue delay of
 * /proc/self/task/PID/schedstat), in slices and in garbage collection: a diagnosis for a
 * failed lag bound, telling a loop kept busy (and by what) from a process the machine did
 * not schedule. Not part of any assertion.
 */
function stallWatch(): () => Stall {
  const waited = (): number => {
    try {
      return loopThreadSched().waitedMs;
    } catch {
      return Number.NaN;
    }
  };
  const slices: [number, number][] = [];
  const gcs: [number, number][] = [];
  watchSlices((at, ms) => slices.push([at, ms]));
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime, e.duration]);
  });
  gc.observe({ entryTypes: ["gc"] });
  let last = performance.now();
  let lastWait = waited();
  const worst = { ms: 0, waitingMs: 0, from: 0, to: 0 };
  let held = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const wait = waited();
    held = Math.max(held, now - last - 5 - (wait - lastWait));
    if (now - last > worst.ms) Object.assign(worst, { ms: now - last, waitingMs: wait - lastWait, from: last, to: now });
    last = now;
    lastWait = wait;
  }, 5);
  /** Milliseconds of [at, at + ms) spans within the worst gap, and the longest overlap. */
  const within = (spans: [number, number][]): { sum: number; longest: number } => {
    let sum = 0;
    let longest = 0;
    for (const [at, ms] of spans) {
      const o = Math.min(at + ms, worst.to) - Math.max(at, worst.from);
      if (o <= 0) continue;
      sum += o;
      longest = Math.max(longest, o);
    }
    return { sum, longest };
  };
  return () => {
    clearInterval(timer);
    watchSlices(undefined);
    for (const e of gc.takeRecords()) gcs.push([e.startTime, e.duration]);
    gc.disconnect();
    const s = within(slices);
    return { ms: Math.round(worst.ms), waitingMs: Math.round(worst.waitingMs), heldMs: Math.round(held), slicesMs: Math.round(s.sum), longestSliceMs: Math.round(s.longest), gcMs: Math.round(within(gcs).sum) };
  };
}

/** The probe's op under `policy`, with this process's CPU and event-loop lag measured from
 * the sandbox's start to its report. */
async function flood(policy: object, op: string[], isProbeOp = true): Promise<object> {
  await Sandbox.run(policy, [probe, "exit", "0"]);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const sb = new Sandbox(policy);
  await sb.spawn(isProbeOp ? [probe, ...op] : op, { stdout: "pipe" });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  lag.enable();
  const stalls = stallWatch();
  const line = await firstLine(sb);
  lag.disable();
  // A handler that failed answered EPERM (fail closed) and noted why in the supervisor's
  // own stats (nothing reports them): the first thing to read when the line is an errno.
  const failures = (sb as unknown as { supervisor?: { stats: { failures: string[] } } }).supervisor?.stats.failures.slice(0, 5);
  const worstStall = stalls();
  const c = process.cpuUsage(c0);
  const wallMs = Math.round(performance.now() - t0);
  const r = await sb.wait();
  return {
    line,
    status: r.status,
    failures,
    wallMs,
    cpuMs: Math.round((c.user + c.system) / 1000),
    lagMaxMs: Math.round(lag.max / 1e6),
    lagP99Ms: Math.round(lag.percentile(99) / 1e6),
    worstStall,
  };
}

/** A control: this process's own event loop blocked for `ms` once, and busy for a while,
 * as the measurement above must see it. */
async function busyControl(ms: string): Promise<object> {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  lag.enable();
  const stalls = stallWatch();
  await sleep(200);
  // Until this process has burnt `ms` of CPU, not of wall time: on a loaded machine the
  // loop is preempted, and the control must still show what the assertion bounds. Counted
  // from the spin's start, and for at least `ms` of wall time too: counted from the start,
  // the CPU of Node's other threads meanwhile (the start's compiles, the collector) ended
  // the spin early once in CI (a worst lag of 193 ms for 300).
  const c1 = process.cpuUsage();
  const w1 = performance.now();
  const spent = (): number => {
    const u = process.cpuUsage(c1);
    return (u.user + u.system) / 1000;
  };
  while (spent() < Number(ms) || performance.now() - w1 < Number(ms));
  await sleep(200);
  lag.disable();
  const worstStall = stalls();
  const c = process.cpuUsage(c0);
  return { wallMs: Math.round(performance.now() - t0), cpuMs: Math.round((c.user + c.system) / 1000), lagMaxMs: Math.round(lag.max / 1e6), worstStall };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sl-budget-"));
  try {
    let out: object;
    if (mode === "connect") out = await connectFlood(args[0]!, dir);
    else if (mode === "errors") out = await errorFlood(args[0]!, dir);
    else if (mode === "netlink") out = await netlinkFlood(args[0]!, args[1]!, args[2]);
    else if (mode === "urandom") out = await urandomFlood(args[0]!, args[1]);
    else if (mode === "hold") out = await hold(args[0]!, args[1]!, args[2]!, args[3]!);
    else if (mode === "epoll-call") out = await epollCall(args[0]!, args[1]!, args[2]!);
    else if (mode === "epoll") out = await epollHold(args[0]!, args[1]!, args[2]!, args[3]);
    else if (mode === "listeners") out = await listeners(args[0]!, args[1]!);
    else if (mode === "netread" || mode === "netread-pairs") out = await netRead(args[0]!, args[1]!, args[2]!, mode === "netread-pairs");
    else if (mode === "ptys") out = await ptys(args[0]!, args[1]!, args[2]!, args[3]);
    else if (mode === "busy") out = await busyControl(args[0]!);
    else if (mode === "dirs" || mode === "dirs-killed") {
      // On a tmpfs where there is one (making 100,000 files on a disk took 3 to 10 s here).
      const shm = shmDir();
      try {
        mkdirSync(join(shm ?? dir, "d"));
        out = mode === "dirs" ? await dirs(shm ?? dir, args[0]!, args[1]!) : await dirsKilled(shm ?? dir, args[0]!);
      } finally {
        if (shm !== undefined) rmSync(shm, { recursive: true, force: true });
      }
    } else if (mode === "dir-threads" || mode === "dir-threads-unsorted") out = await dirThreads(dir, args[0]!, args[1]!, args[2]!, mode === "dir-threads");
    else throw new Error(`budget-case: unknown mode ${mode}`);
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
