// Runs one checkpoint scenario against real processes, as whichever user runs it, and
// prints what it saw as one JSON line for test/integration/checkpoint.test.ts to check.
// Usage: checkpoint-case.js SCENARIO COUNTER, COUNTER being test/fixtures/checkpoint-counter.c built.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { PerformanceObserver } from "node:perf_hooks";
import { Checkpoint, Sandbox, pcAndSp, type ProcessImage } from "../../src/index.js";
import { native } from "../../src/confine/native.js";
import { descendantsOf, parentOf } from "../../src/supervise/members.js";
import { holdForks } from "../../src/supervise/handler.js";
import { loopThreadSched } from "../helpers/proc.js";
import { SYSTEM_RO } from "../helpers/system.js";

const [scenario, counter] = process.argv.slice(2);
if (scenario === undefined || counter === undefined) throw new Error("usage: checkpoint-case.js SCENARIO COUNTER");
const work = mkdtempSync(join(tmpdir(), "sl-cp-case-"));
// Where checkpoints are saved: not beneath the sandbox's writable grant (`work`), which a
// save refuses (the sandbox could rewrite the policy a restore runs under).
const images = mkdtempSync(join(tmpdir(), "sl-cp-images-"));
const countFile = join(work, "count");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The counter's lines so far, as [value, forksOk, forksFailed]. */
function lines(file = countFile): number[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "latin1")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split(" ").map(Number));
}

async function untilLines(n: number, file = countFile): Promise<void> {
  for (let i = 0; i < 500 && lines(file).length < n; i++) await sleep(10);
  if (lines(file).length < n) throw new Error(`the counter wrote fewer than ${n} lines to ${file}`);
}

/** Until the counter's forks-done column has not moved for `ms` while forks are held: its
 * fork thread is then inside a held fork (one already past the hold has landed). A fixed
 * wait was not enough on a loaded machine for that thread to reap its last child, count it
 * and reach its next fork. */
async function untilForksStill(ms: number): Promise<void> {
  let seen = lines().at(-1)?.[1];
  let since = Date.now();
  for (const end = Date.now() + 20_000; Date.now() - since < ms; await sleep(10)) {
    if (Date.now() > end) throw new Error("the counter's forks did not stop while held (20 s)");
    const now = lines().at(-1)?.[1];
    if (now !== seen) [seen, since] = [now, Date.now()];
  }
}

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** Every field of a checkpoint, byte buffers as length and digest: equal summaries, equal checkpoints. */
function summary(cp: Checkpoint): unknown {
  return JSON.parse(
    JSON.stringify(
      { createdAt: cp.createdAt, arch: cp.arch, kernel: cp.kernel, policy: cp.policyJSON, appState: cp.appState, processes: cp.processes },
      (_k, v: unknown) => {
        if (typeof v === "bigint") return `0x${v.toString(16)}`;
        if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer") {
          const b = Buffer.from((v as { data: number[] }).data);
          return `${b.length}:${sha(b)}`;
        }
        return v;
      },
    ),
  );
}

const mapOf = (p: ProcessImage, addr: bigint) => p.maps.find((m) => m.start <= addr && addr < m.end);

/** What the tests check about one captured process. */
function describe(cp: Checkpoint, p: ProcessImage) {
  return {
    pid: p.pid,
    ppid: p.ppid,
    comm: p.comm,
    exe: p.exe,
    cwd: p.cwd,
    cmdline: p.cmdline,
    mapPaths: p.maps.map((m) => m.path),
    stack: p.maps.filter((m) => m.path === "[stack]").map((m) => m.perms),
    heapBytes: p.memory
      .filter((s) => p.maps.some((m) => m.path === "[heap]" && m.start <= s.start && s.start < m.end))
      .reduce((n, s) => n + s.data.length, 0),
    memoryBytes: p.memory.reduce((n, s) => n + s.data.length, 0),
    fds: p.fds,
    threads: p.threads.map((t) => {
      const { pc, sp } = pcAndSp(cp.arch, t);
      const prstatus = t.regsets[0]!.data;
      return {
        tid: t.tid,
        stop: t.stop,
        regsets: Object.fromEntries(t.regsets.map((r) => [r.name, r.data.length])),
        nonZeroRegs: [...Array(prstatus.length / 8).keys()].filter((i) => prstatus.readBigUInt64LE(i * 8) !== 0n).length,
        pcMap: mapOf(p, pc)?.perms ?? null,
        pcPath: mapOf(p, pc)?.path ?? null,
        spMap: mapOf(p, sp)?.perms ?? null,
        spPath: mapOf(p, sp)?.path ?? null,
        // x86_64 struct user_regs_struct: rax is register 10, orig_rax register 15.
        rax: cp.arch === "x64" ? prstatus.readBigInt64LE(80).toString() : null,
        origRax: cp.arch === "x64" ? prstatus.readBigInt64LE(120).toString() : null,
      };
    }),
  };
}

/** The counter's value in its heap block (after the marker "SLCOUNT!"), from the captured memory. */
function heapCounter(p: ProcessImage): number | null {
  for (const s of p.memory) {
    const at = s.data.indexOf("SLCOUNT!");
    if (at >= 0 && at + 16 <= s.data.length) return Number(s.data.readBigInt64LE(at + 8));
  }
  return null;
}

async function roundTrip(cp: Checkpoint): Promise<{ before: unknown; after: unknown; appStateAfter: string | null; files: string[] }> {
  const dir = join(images, "image");
  await cp.save(dir);
  const loaded = await Checkpoint.load(dir);
  const { readdirSync } = await import("node:fs");
  return { before: summary(cp), after: summary(loaded), appStateAfter: loaded.appState?.toString("hex") ?? null, files: readdirSync(dir).sort() };
}

async function run(): Promise<unknown> {
  switch (scenario) {
    case "sleep": {
      const sb = new Sandbox({ fsReadable: [...SYSTEM_RO] });
      await sb.spawn(["sleep", "30"]);
      await sleep(100);
      const cp = await sb.checkpoint();
      const out = { state: sb.state, rootPid: sb.pid, processes: cp.processes.map((p) => describe(cp, p)), ...(await roundTrip(cp)) };
      await sb.kill();
      return out;
    }
    case "auxvpage": {
      // The process says its pages are 2 MiB (its own auxv, rewritten without privilege)
      // over a 1 GiB reserve it never touched: the capture must read only what it has.
      const sb = new Sandbox({ fsReadable: [counter, "/proc"] });
      await sb.spawn([counter, "auxvpage", String(2 << 20), "1"], { buffer: false });
      for await (const line of sb.lines()) if (line === "ready") break;
      const rss0 = process.memoryUsage().rss;
      const cp = await sb.checkpoint();
      const rssGrew = process.memoryUsage().rss - rss0;
      await sb.kill();
      const p = cp.processes[0]!;
      return { pageSize: p.pageSize, imageBytes: p.memory.reduce((n, m) => n + m.data.length, 0), rssGrew, procView: sb.procView };
    }
    case "bigargs": {
      // The process makes its argument area a 1 GiB reserve it never touched, so that
      // /proc/PID/cmdline reads as 1 GiB: the capture refuses it by name, a listing of the
      // sandbox's processes shows its first 4 KiB, and neither reads the rest.
      const sb = new Sandbox({ fsReadable: [counter, "/proc"] });
      await sb.spawn([counter, "bigargs", "1"], { buffer: false });
      for await (const line of sb.lines()) if (line === "ready") break;
      const rss0 = process.memoryUsage().rss;
      let error: { code?: string; message: string } | undefined;
      try {
        await sb.checkpoint();
      } catch (e) {
        error = { code: (e as { code?: string }).code, message: (e as Error).message };
      }
      const { sandboxProcesses } = await import("../../src/registry/processes.js");
      const ppid = (p: number): number => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, "latin1"))![1]);
      // The launcher: the command's parent, or under the kernel view its init's.
      const launcher = sb.procView === "kernel" ? ppid(ppid(sb.pid!)) : ppid(sb.pid!);
      const rows = await sandboxProcesses(launcher, sb);
      const rssGrew = process.memoryUsage().rss - rss0;
      const state = sb.state;
      await sb.kill();
      return { error, commands: rows.map((r) => ({ length: r.command.length, tail: r.command.slice(-3) })), rssGrew, state };
    }
    case "counter": {
      const sb = new Sandbox({ fsReadable: [counter], fsWritable: [work] });
      await sb.spawn([counter, countFile, "thread", "fork"]);
      await untilLines(5);
      await untilLines(5, `${countFile}.child`);
      const appState = Buffer.from([0, 0xff, 0x00, 0x41, 0xff, 0xfe, 0x00]);
      const cp = await sb.checkpoint({ appState });
      const root = cp.processes.find((p) => p.pid === sb.pid)!;
      // Runs on: well past the capture (bounded waits by count here and below: a fixed
      // 200-300 ms on a loaded machine could pass before the counter was scheduled again).
      await untilLines(lines().length + 12);
      const content = readFileSync(countFile, "latin1");
      const out = {
        state: sb.state,
        rootPid: sb.pid,
        countFile,
        processes: cp.processes.map((p) => describe(cp, p)),
        heapCounter: heapCounter(root),
        fileAfter: content,
        childAfter: lines(`${countFile}.child`).map((l) => l[0]),
        appStateBefore: cp.appState?.toString("hex") ?? null,
        ...(await roundTrip(cp)),
      };
      await sb.kill();
      return out;
    }
    case "paused": {
      const sb = new Sandbox({ fsReadable: [counter], fsWritable: [work] });
      await sb.spawn([counter, countFile, "thread"]);
      await untilLines(3);
      await sb.pause();
      await sleep(50);
      const atPause = lines().length;
      const cp = await sb.checkpoint();
      await sleep(200);
      const afterCheckpoint = lines().length;
      const stateAfterCheckpoint = sb.state;
      await sb.resume();
      await untilLines(atPause + 6);
      const afterResume = lines().map((l) => l[0]);
      await sb.kill();
      return { atPause, afterCheckpoint, stateAfterCheckpoint, afterResume, stops: cp.processes.flatMap((p) => p.threads.map((t) => t.stop)) };
    }
    case "untraceable": {
      const sb = new Sandbox({ fsReadable: [counter], fsWritable: [work] });
      await sb.spawn([counter, countFile, "fork"]);
      await untilLines(3);
      await untilLines(3, `${countFile}.child`);
      const child = descendantsOf(sb.pid!).at(-1)!;
      // Tracing the child first makes the checkpoint's own PTRACE_SEIZE of it fail (EPERM:
      // a thread has one tracer), after it has already frozen the parent.
      const seized = native().ptraceSeize(child);
      let error: Record<string, unknown> | null = null;
      try {
        await sb.checkpoint();
      } catch (e) {
        const err = e as Error & Record<string, unknown>;
        error = { name: err.name, code: err.code, message: err.message, pid: err.pid, errno: err.errno, syscall: err.syscall };
      }
      const before = [lines().length, lines(`${countFile}.child`).length];
      await untilLines(before[0]! + 11);
      await untilLines(before[1]! + 11, `${countFile}.child`);
      const after = [lines().length, lines(`${countFile}.child`).length];
      const parentStat = readFileSync(`/proc/${sb.pid}/status`, "latin1");
      const out = { seized, child, error, state: sb.state, before, after, parentTracer: /TracerPid:\s*(\d+)/.exec(parentStat)?.[1] };
      // Let the child go again: a traced process that dies waits for its tracer to reap it.
      native().ptraceInterrupt(child);
      for (let i = 0; i < 1000 && native().ptraceWaitStop(child)[0] !== child; i++) await sleep(1);
      native().ptraceDetach(child, 0);
      await sb.kill();
      return out;
    }
    case "trapped": {
      // maxProcesses routes fork to the supervisor. Holding forks here (as a checkpoint
      // does, and for longer) leaves the fork thread blocked in its trapped clone, in a
      // killable wait, when the checkpoint interrupts it.
      const sb = new Sandbox({ fsReadable: [counter], fsWritable: [work], maxProcesses: 16 });
      await sb.spawn([counter, countFile, "forkloop"]);
      await untilLines(3);
      // The launcher: the command's parent, or under the kernel view its init's parent.
      const hold = holdForks(sb.procView === "kernel" ? parentOf(parentOf(sb.pid!)!)! : parentOf(sb.pid!)!);
      await untilForksStill(300);
      const cp = await sb.checkpoint();
      const heldForks = lines().at(-1)![1]!;
      await sleep(100);
      const stillHeld = lines().at(-1)![1]!;
      hold.release();
      for (const end = Date.now() + 10_000; lines().at(-1)![1]! <= stillHeld && Date.now() < end; ) await sleep(10);
      const last = lines().at(-1)!;
      const out = {
        state: sb.state,
        threads: describe(cp, cp.processes[0]!).threads,
        heldForks,
        stillHeld,
        forksAfter: last[1],
        failedAfter: last[2],
        values: lines().map((l) => l[0]),
      };
      await sb.kill();
      return out;
    }
    case "forkstress":
    case "forkstress-untrapped": {
      // Checkpoints in a row of a process forking without pause: with maxProcesses its
      // forks are trapped (and held, then restarted, by each freeze); without, the
      // repeated passes over the tree catch every child that appears.
      const trapped = scenario === "forkstress";
      const sb = new Sandbox({ fsReadable: [counter], fsWritable: [work], ...(trapped ? { maxProcesses: 16 } : {}) });
      await sb.spawn([counter, countFile, "forkloop"]);
      await untilLines(3);
      const captured: number[] = [];
      const forksSeen: number[] = [];
      for (let i = 0; i < 20; i++) {
        const cp = await sb.checkpoint();
        captured.push(cp.processes.length);
        forksSeen.push(lines().at(-1)![1]!);
        await sleep(10);
      }
      await sleep(200);
      const last = lines().at(-1)!;
      const out = { state: sb.state, captured, forksSeen, forksAfter: last[1], failedAfter: last[2], values: lines().map((l) => l[0]) };
      await sb.kill();
      return out;
    }
    case "vforkstress": {
      // A process starting children with vfork without pause (each works 2 ms before it
      // exits), like dash running commands: a vfork parent waits, killable but not
      // interruptible, until its child has called exec or exited. A freeze that stopped the
      // child first waited for the parent until its deadline ("did not stop within 5000 ms
      // (state D, inside system call 58...)").
      const sb = new Sandbox({ fsReadable: [counter], fsWritable: [work] });
      await sb.spawn([counter, countFile, "vforkloop"]);
      await untilLines(3);
      const captured: number[] = [];
      const errors: string[] = [];
      const t0 = Date.now();
      for (let i = 0; i < 40; i++) {
        try {
          captured.push((await sb.checkpoint()).processes.length);
        } catch (e) {
          errors.push((e as Error).message);
        }
        await sleep(5); // a capture holds the forks: the next child starts after it
      }
      const ms = Date.now() - t0;
      const before = lines().at(-1)![1]!;
      await sleep(200);
      const last = lines().at(-1)!;
      const out = { state: sb.state, captured, errors, ms, forksBefore: before, forksAfter: last[1], failedAfter: last[2], values: lines().map((l) => l[0]) };
      await sb.kill();
      return out;
    }
    case "lag": {
      // A process holding 256 MiB of its own memory, 60,000 mappings of one file, an epoll
      // file of 200,000 watches (made on duplicates of eventfds, closed after: a watch
      // outlives its descriptor) and 3,000 separate opens of one file, one of them
      // duplicated. The capture read the memory in one step per mapping, the maps and every
      // fdinfo on the event loop (with a stat per file mapping), and compared each
      // descriptor with every earlier one of its target: 900 MiB held the loop 4.3 s, a
      // million watches 1.9 s, 3,000 opens 11 s. Now in turns of the loop, on Node's pool,
      // and sorted by kcmp's order.
      const HOLD = `import ctypes, os, resource, select, sys
b = b"x" * (256 << 20)
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
passwd = os.open("/etc/passwd", os.O_RDONLY)
for _ in range(60000):
    # PROT_READ, MAP_PRIVATE, offset 0 each time: no two of them merge.
    if libc.mmap(None, 4096, 1, 2, passwd, 0) in (None, 2**64 - 1): sys.exit("mmap failed")
os.close(passwd)
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))
files = [os.open("/etc/hostname", os.O_RDONLY) for _ in range(min(3000, hard - 1500))]
dup = os.dup(files[0])
ep = select.epoll()
made = 0
keep = []
while made < 200000:
    e = os.eventfd(0)
    keep.append(e)
    ds = [os.dup(e) for _ in range(1000)]
    for d in ds:
        ep.register(d, select.EPOLLIN)
    made += 1000
    for d in ds:
        os.close(d)
print("ready", ep.fileno(), len(files), files[0], dup, flush=True)
sys.stdin.read()
`;
      const sb = new Sandbox({ fsReadable: [...SYSTEM_RO] });
      await sb.spawn(["/usr/bin/python3", "-c", HOLD], { stdin: "pipe", stdout: "pipe" });
      let said = "";
      sb.stdout!.setEncoding("utf8");
      sb.stdout!.on("data", (d: string) => (said += d));
      for (let i = 0; i < 3000 && !said.includes("\n"); i++) await sleep(10);
      const [epfd, opened, first, dup] = (/^ready (\d+) (\d+) (\d+) (\d+)/.exec(said) ?? []).slice(1).map(Number) as [number, number, number, number];
      // Each gap between two turns of a 2 ms timer, less the time this thread waited for a
      // CPU within it (schedstat's run delay): the loop held by work, which is what the
      // capture must not do, rather than by the three test files beside it on two CPUs.
      // For a failure's message: of the worst held gap, the time this thread spent on a CPU
      // (the rest it was blocked in the kernel, or its vCPU was taken by the host) and the
      // garbage collector's pauses that overlapped it.
      let last = performance.now();
      let lastSched = loopThreadSched();
      let worstGapMs = 0;
      let worstHeldMs = 0;
      let worstAt: [number, number, number] = [0, 0, 0]; // start, end, ran
      const gcs: [number, number][] = [];
      const gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) gcs.push([e.startTime, e.startTime + e.duration]);
      });
      gcObserver.observe({ entryTypes: ["gc"] });
      const timer = setInterval(() => {
        const now = performance.now();
        const sched = loopThreadSched();
        worstGapMs = Math.max(worstGapMs, now - last);
        const held = now - last - (sched.waitedMs - lastSched.waitedMs);
        if (held > worstHeldMs) [worstHeldMs, worstAt] = [held, [last, now, sched.ranMs - lastSched.ranMs]];
        last = now;
        lastSched = sched;
      }, 2);
      const t0 = performance.now();
      const cp = await sb.checkpoint();
      const captureMs = performance.now() - t0;
      // A timer's turn after the capture: a step that held the loop to its very end is seen.
      await sleep(5);
      const [gapMs, heldMs, [heldFrom, heldTo, heldRanMs]] = [worstGapMs, worstHeldMs, worstAt];
      const heldGcMs = gcs.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, heldTo) - Math.max(a, heldFrom)), 0);
      gcObserver.disconnect();
      // Control: the loop held by 150 ms of this thread's CPU is seen as such, loaded or not.
      // (This thread's own time on a CPU, schedstat's first field: process.cpuUsage counts
      // every thread of the process, and with the pool's and the collector's threads busy
      // 150 ms of it were 127 ms of this one in a CI run.)
      [worstGapMs, worstHeldMs] = [0, 0];
      const ran0 = loopThreadSched().ranMs;
      while (loopThreadSched().ranMs - ran0 < 150);
      await sleep(5);
      const controlHeldMs = worstHeldMs;
      clearInterval(timer);
      await sb.kill();
      await sb.wait().catch(() => undefined);
      const fds = cp.processes[0]!.fds;
      const epoll = fds.find((f) => f.fd === epfd);
      const shared = fds.filter((f) => f.sharedWith !== undefined).map((f) => [f.fd, f.sharedWith!.fd]);
      return { said: said.trim(), opened, mappings: cp.processes[0]!.maps.filter((m) => m.path === "/etc/passwd").length, memoryMiB: Math.floor(cp.memoryBytes / 2 ** 20), epoll: epoll?.target ?? null, shared, expectShared: [[dup, first]], compared: cp.processes[0]!.fdsCompared ?? null, captureMs: Math.round(captureMs), worstGapMs: Math.round(gapMs), worstHeldMs: Math.round(heldMs), worstHeldRanMs: Math.round(heldRanMs), worstHeldGcMs: Math.round(heldGcMs), controlHeldMs: Math.round(controlHeldMs) };
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

try {
  console.log(JSON.stringify(await run()));
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(images, { recursive: true, force: true });
}
