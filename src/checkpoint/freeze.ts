// Freezing a sandbox for a checkpoint with ptrace alone: every thread of every process is
// seized and interrupted (no signal is sent, so neither the processes nor their parents
// see a stop), until a pass over the tree finds nothing new; thawing detaches each one,
// which leaves it as it was (running, or still group-stopped when the sandbox was paused).

import { readdirSync, readFileSync } from "node:fs";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { CheckpointError } from "../errors.js";
import { SYSCALLS } from "../kernel/syscalls.js";
import { holdForks, type ForkHold } from "../supervise/handler.js";
import { descendantsOf } from "../supervise/members.js";
import { parseStat, parseStatus } from "./procfs.js";
import type { ThreadImage } from "./image.js";
import { pollTurn } from "./turns.js";

const ESRCH = 3;
const EPERM = 1;
const ECHILD = 10;
const SIGTRAP = 5;
const PTRACE_EVENT_STOP = 128;
const CLONE_VFORK = 0x4000n;
/** The calls a vfork parent waits in, by number (arm64 has no vfork; clone takes its flags first on both). */
const VFORK_CALLS: { vfork: number; clone: number; clone3: number } =
  process.arch === "arm64" ? { vfork: -1, clone: 220, clone3: 435 } : { vfork: SYSCALLS.vfork!, clone: SYSCALLS.clone!, clone3: SYSCALLS.clone3! };
/** Polls of a freeze's stops before a thread still running is looked at for a vfork wait. */
const POLLS_BEFORE_VFORK_LOOK = 10;

export interface StoppedThread {
  pid: number;
  tid: number;
  stop: ThreadImage["stop"];
  /** A signal that arrived while the thread was held: delivered again on detach. */
  signal: number;
}

interface Traced extends StoppedThread {
  state: "running" | "stopped" | "gone";
}


/** The state letter of a thread ("R", "S", "D", "Z"...), or undefined when it is gone. */
function threadState(pid: number, tid: number): string | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1")).state;
  } catch {
    return undefined;
  }
}

/** The live threads of a process (zombie threads cannot be traced and hold nothing). */
function threadsOf(pid: number): number[] {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // exited
  }
  return names.map(Number).filter((tid) => {
    const s = threadState(pid, tid);
    return s !== undefined && s !== "Z" && s !== "X";
  });
}

/** The words of /proc/<tid>/syscall (the call's number, then its arguments), or undefined. */
function syscallFields(pid: number, tid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/syscall`, "latin1").split(" ");
  } catch {
    return undefined;
  }
}

/** The system call a blocked thread is in (/proc/<tid>/syscall), or undefined. */
function syscallOf(pid: number, tid: number): number | undefined {
  const nr = Number(syscallFields(pid, tid)?.[0]);
  return Number.isInteger(nr) && nr >= 0 ? nr : undefined;
}

/**
 * True when the thread waits in vfork (or clone with CLONE_VFORK, or clone3, whose flags
 * are in its memory) for its child to call exec or exit. That wait is killable but not
 * interruptible, so no ptrace stop lands before it ends: with the child stopped, never.
 * A thread in a trapped fork the supervisor holds or is deciding waits in the same state
 * and call: its kernel wait is seccomp's (wchan), where the vfork wait is the clone's.
 */
function inVforkWait(pid: number, tid: number): boolean {
  if (threadState(pid, tid) !== "D") return false;
  try {
    if (readFileSync(`/proc/${pid}/task/${tid}/wchan`, "latin1").includes("seccomp")) return false;
  } catch {
    return false;
  }
  const fields = syscallFields(pid, tid);
  if (fields === undefined) return false;
  const nr = Number(fields[0]);
  if (nr === VFORK_CALLS.vfork || nr === VFORK_CALLS.clone3) return true;
  if (nr !== VFORK_CALLS.clone || fields[1] === undefined) return false;
  try {
    return (BigInt(fields[1]) & CLONE_VFORK) !== 0n;
  } catch {
    return false;
  }
}

function vforkTimeout(pid: number, tid: number, ms: number): CheckpointError {
  return new CheckpointError(
    "CHECKPOINT_FAILED",
    `checkpoint: thread ${tid} of process ${pid} waits in vfork for a child that has not called exec or exited within ${ms} ms (it cannot stop before)`,
    { pid },
  );
}

function tracerOf(tid: number): number {
  try {
    return Number(parseStatus(readFileSync(`/proc/${tid}/status`, "latin1")).get("TracerPid") ?? 0);
  } catch {
    return 0;
  }
}

/** Takes one pending wait status of t, if any; true once t is stopped or gone. */
function pollStop(t: Traced): boolean {
  const [rc, status] = native().ptraceWaitStop(t.tid);
  if (rc === 0) return false;
  if (rc < 0) {
    if (rc !== -ECHILD) throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: waitpid(${t.tid}, __WALL): ${errnoName(-rc)}`, { pid: t.pid, syscall: "waitpid", errno: errnoName(-rc) });
    t.state = "gone";
    return true;
  }
  if ((status & 0xff) !== 0x7f) {
    t.state = "gone"; // exited or killed (SIGKILL cannot be held off)
    return true;
  }
  const sig = (status >> 8) & 0xff;
  const event = status >>> 16;
  t.state = "stopped";
  if (event === PTRACE_EVENT_STOP) {
    // The interrupt's trap; with a stop signal instead of SIGTRAP, the group was stopped.
    t.stop = sig === SIGTRAP ? "interrupt" : "group-stop";
  } else {
    // A signal reached the thread first: it stops for its delivery, which serves as well.
    t.stop = "signal";
    t.signal = sig;
  }
  return true;
}

/**
 * Threads a thaw could not let go: seized, never stopped (a vfork parent whose child neither
 * exec'd nor exited). Polled in the background until they stop, then detached; a later
 * freeze of the sandbox takes them over (it would get EPERM seizing them: traced already,
 * by this process).
 */
const leftovers = new Map<number, Traced>();
let leftoverTimer: NodeJS.Timeout | undefined;

function pollLeftovers(): void {
  for (const [tid, t] of leftovers) {
    try {
      pollStop(t);
    } catch {
      t.state = "gone";
    }
    if (t.state === "stopped") {
      native().ptraceDetach(t.tid, t.signal);
      t.state = "gone";
    }
    if (t.state === "gone") leftovers.delete(tid);
  }
  if (leftovers.size === 0 && leftoverTimer !== undefined) {
    clearInterval(leftoverTimer);
    leftoverTimer = undefined;
  }
}

/** The freezes of a sandbox (a checkpoint's, an epoll count's) take turns, by launcher pid:
 * a thread has one tracer, and a second freeze's seize of it would fail. */
const freezeTurns = new Map<number, Promise<void>>();

/** Waits for the sandbox's earlier freezes to end; returns the end of this one's turn. */
export async function freezeTurn(launcherPid: number): Promise<() => void> {
  const before = freezeTurns.get(launcherPid) ?? Promise.resolve();
  let end!: () => void;
  const mine = before.then(() => new Promise<void>((resolve) => (end = resolve)));
  freezeTurns.set(launcherPid, mine);
  await before;
  await Promise.resolve(); // `end` is set once `before` has run its continuation
  return () => {
    end();
    if (freezeTurns.get(launcherPid) === mine) freezeTurns.delete(launcherPid);
  };
}

/**
 * Runs `fn` with every thread of the sandbox stopped: forks held, a freeze in its turn,
 * then a thaw whatever happened (a checkpoint's capture; the epoll count's walk of every
 * descriptor table, which must read one instant). Throws what the freeze or `fn` threw,
 * else `thawFailed` of the thaw's failures, if any.
 */
export async function whileFrozen<T>(launcherPid: number, stopTimeoutMs: number, fn: (frozen: Map<number, StoppedThread[]>) => Promise<T>, thawFailed: (failures: string[]) => Error): Promise<T> {
  const { out, thawFailures } = await inTurn(launcherPid, async (forks) => {
    const freezer = new Freezer(launcherPid, stopTimeoutMs, (tids) => forks.restart(tids), (tid) => forks.isHeld(tid));
    let out: { value: T } | { failure: unknown };
    try {
      out = { value: await fn(await freezer.freeze()) };
    } catch (e) {
      out = { failure: e };
    }
    return { out, thawFailures: await freezer.thaw() };
  });
  if ("failure" in out) throw out.failure;
  if (thawFailures.length > 0) throw thawFailed(thawFailures);
  return out.value;
}

/** Runs `fn` in the sandbox's freeze turn with its forks held, both ended whatever happened. */
async function inTurn<T>(launcherPid: number, fn: (forks: ForkHold) => Promise<T>): Promise<T> {
  const endTurn = await freezeTurn(launcherPid);
  const forks = holdForks(launcherPid);
  try {
    return await fn(forks);
  } finally {
    forks.release();
    endTurn();
  }
}

/**
 * whileFrozen where the launcher is the sandbox's tracer (timeStart, policyFn: a thread has
 * one tracer, so the supervisor cannot seize it): `hold` stops every thread through the
 * launcher (SupervisorContext.holdTraced), forks and parked calls are restarted as the
 * interrupts reach their threads, and `fn` runs with the sandbox's processes (none can
 * start or end while all are stopped), then the release, whatever happened.
 */
export function whileHeld<T>(launcherPid: number, stopTimeoutMs: number, hold: (interrupted: () => () => void, timeoutMs: number) => Promise<() => Promise<void>>, fn: (pids: readonly number[]) => Promise<T>): Promise<T> {
  return inTurn(launcherPid, async (forks) => {
    const release = await hold(() => forks.restartAll(), stopTimeoutMs);
    try {
      return await fn(descendantsOf(launcherPid, true));
    } finally {
      await release();
    }
  });
}

export class Freezer {
  private readonly traced = new Map<number, Traced>();

  /**
   * restartHeld(tids) is called whenever threads have an interrupt pending: it ends the
   * held fork notifications of those threads (see ForkHold), whose killable wait the
   * interrupt alone cannot end.
   */
  constructor(
    private readonly launcherPid: number,
    private readonly stopTimeoutMs: number,
    private readonly restartHeld: (tids: ReadonlySet<number>) => void = () => undefined,
    private readonly forkHeld: (tid: number) => boolean = () => false,
  ) {}

  /** A thread waiting in vfork for its child (see inVforkWait), not one in a held fork. */
  private waitsInVfork(pid: number, tid: number): boolean {
    return !this.forkHeld(tid) && inVforkWait(pid, tid);
  }

  private interrupted(): Set<number> {
    const out = new Set<number>();
    for (const t of this.traced.values()) if (t.state === "running") out.add(t.tid);
    return out;
  }

  /**
   * Stops every thread of the sandbox; resolves with them grouped by process. A process
   * that forks before its stop lands shows its child in the next pass, which stops it too;
   * a pass that finds no new thread ends the loop (every known thread is stopped then).
   */
  async freeze(): Promise<Map<number, StoppedThread[]>> {
    const deadline = Date.now() + this.stopTimeoutMs;
    for (let waits = 0; ; ) {
      const fresh: [number, number][] = [];
      // Zombies too: a process whose main thread exited is one while its other threads run.
      for (const pid of descendantsOf(this.launcherPid, true)) {
        for (const tid of threadsOf(pid)) if (!this.traced.has(tid)) fresh.push([pid, tid]);
      }
      // A thread waiting in vfork stops only once its child has called exec or exited, and a
      // seized thread that never stops can never be let go: while one waits, no thread is
      // seized (its child is among them, whatever its parent: with CLONE_PARENT it is a
      // sibling), and after a few turns every stopped process is let go, in case the child
      // was seized in the instant before its parent's wait began.
      const waiter = fresh.find(([pid, tid]) => this.waitsInVfork(pid, tid)) ?? this.seizedWaiter();
      if (waiter !== undefined) {
        if (Date.now() > deadline) throw vforkTimeout(waiter[0], waiter[1], this.stopTimeoutMs);
        if (waits >= POLLS_BEFORE_VFORK_LOOK) this.releaseStopped();
        await pollTurn(waits++);
        continue;
      }
      waits = 0;
      let added = 0;
      for (const [pid, tid] of fresh) if (this.seize(pid, tid)) added++;
      await this.collectStops(deadline);
      if (added === 0 && this.seizedWaiter() === undefined) break;
    }
    return this.byProcess((t) => t.state === "stopped");
  }

  /** Seizes and interrupts one thread; false when it is already gone. */
  private seize(pid: number, tid: number): boolean {
    const left = leftovers.get(tid);
    if (left !== undefined) {
      // Seized by an earlier freeze, its interrupt still pending: taken over.
      leftovers.delete(tid);
      if (left.state !== "running") return false;
      this.traced.set(tid, left);
      return true;
    }
    const n = native();
    let rc = n.ptraceSeize(tid);
    if (rc === -ESRCH) return false;
    if (rc === -EPERM) {
      const state = threadState(pid, tid);
      if (state === undefined || state === "Z" || state === "X") return false; // exited meanwhile
    }
    if (rc < 0) {
      const tracer = rc === -EPERM ? tracerOf(tid) : 0;
      const why = tracer !== 0 ? `it is already traced by process ${tracer}` : "the caller may not trace it (another user, or not dumpable)";
      throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: process ${pid} cannot be traced: ptrace(PTRACE_SEIZE) on thread ${tid}: ${errnoName(-rc)} (${why})`, {
        pid,
        syscall: "ptrace(PTRACE_SEIZE)",
        errno: errnoName(-rc),
      });
    }
    this.traced.set(tid, { pid, tid, state: "running", stop: "interrupt", signal: 0 });
    rc = n.ptraceInterrupt(tid);
    if (rc === -ESRCH) {
      this.traced.get(tid)!.state = "gone";
      return false;
    }
    if (rc < 0) {
      throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: ptrace(PTRACE_INTERRUPT) on thread ${tid} of process ${pid}: ${errnoName(-rc)}`, {
        pid,
        syscall: "ptrace(PTRACE_INTERRUPT)",
        errno: errnoName(-rc),
      });
    }
    return true;
  }

  private async collectStops(deadline: number): Promise<void> {
    for (let polls = 0; ; polls++) {
      this.restartHeld(this.interrupted());
      let pending: Traced | undefined;
      for (const t of this.traced.values()) if (t.state === "running" && !pollStop(t)) pending = t;
      if (pending === undefined) return;
      // Seized threads that wait in vfork are the freeze loop's (see freeze).
      if (polls >= POLLS_BEFORE_VFORK_LOOK && this.onlyWaitersRunning()) return;
      if (Date.now() > deadline) {
        const state = threadState(pending.pid, pending.tid) ?? "gone";
        const nr = syscallOf(pending.pid, pending.tid);
        const why =
          state !== "D" ? "" : nr !== undefined ? `, inside system call ${nr}: a supervised call not answered yet, or an uninterruptible wait` : ", uninterruptible sleep";
        throw new CheckpointError(
          "CHECKPOINT_FAILED",
          `checkpoint: thread ${pending.tid} of process ${pending.pid} did not stop within ${this.stopTimeoutMs} ms (state ${state}${why})`,
          { pid: pending.pid },
        );
      }
      await pollTurn(polls);
    }
  }

  /** The seized threads `keep` accepts, by process. */
  private byProcess(keep: (t: Traced) => boolean): Map<number, Traced[]> {
    const byPid = new Map<number, Traced[]>();
    for (const t of this.traced.values()) {
      if (!keep(t)) continue;
      const list = byPid.get(t.pid);
      if (list) list.push(t);
      else byPid.set(t.pid, [t]);
    }
    return byPid;
  }

  /** A seized thread not stopped yet that waits in vfork, as [pid, tid]. */
  private seizedWaiter(): [number, number] | undefined {
    for (const t of this.traced.values()) if (t.state === "running" && this.waitsInVfork(t.pid, t.tid)) return [t.pid, t.tid];
    return undefined;
  }

  /** Whether some seized thread is not stopped yet and every such thread waits in vfork. */
  private onlyWaitersRunning(): boolean {
    let some = false;
    for (const t of this.traced.values()) {
      if (t.state !== "running") continue;
      if (!this.waitsInVfork(t.pid, t.tid)) return false;
      some = true;
    }
    return some;
  }

  /**
   * Lets go (detaches and forgets) every process all of whose seized threads are stopped,
   * so that the child a vfork waits for runs on to its exec or exit if it was one of them
   * (nothing tells it apart without comparing address spaces: a vfork child made with
   * CLONE_PARENT is its parent's sibling). The next pass seizes them all again. Before, the
   * freeze held such a child stopped and waited for its parent until the deadline (a shell's
   * loop: dash starts each command with vfork).
   */
  private releaseStopped(): void {
    for (const [pid, threads] of this.byProcess((t) => t.state !== "gone")) {
      if (!threads.every((t) => t.state === "stopped")) continue;
      for (const t of threads) {
        const rc = native().ptraceDetach(t.tid, t.signal);
        if (rc < 0 && rc !== -ESRCH) {
          throw new CheckpointError("CHECKPOINT_FAILED", `checkpoint: ptrace(PTRACE_DETACH) on thread ${t.tid} of process ${pid} (let go while a vfork waits): ${errnoName(-rc)}`, {
            pid,
            syscall: "ptrace(PTRACE_DETACH)",
            errno: errnoName(-rc),
          });
        }
        this.traced.delete(t.tid);
      }
    }
  }

  /**
   * Lets every thread go. A thread seized but not yet stopped (a failure cut the freeze
   * short) must stop before it can be detached: its stop is awaited for a while, then in
   * the background, so it never stays held.
   * Returns the detach failures other than "gone".
   */
  async thaw(): Promise<string[]> {
    const failures: string[] = [];
    const detach = (t: Traced): void => {
      const rc = native().ptraceDetach(t.tid, t.signal);
      if (rc < 0 && rc !== -ESRCH) failures.push(`ptrace(PTRACE_DETACH) on thread ${t.tid}: ${errnoName(-rc)}`);
      t.state = "gone";
    };
    const settle = (): Traced[] => {
      const left: Traced[] = [];
      for (const t of this.traced.values()) {
        if (t.state === "running") {
          try {
            pollStop(t);
          } catch {
            t.state = "gone";
          }
        }
        if (t.state === "stopped") detach(t);
        else if (t.state === "running") left.push(t);
      }
      return left;
    };
    const deadline = Date.now() + 1000;
    for (let polls = 0; settle().length > 0 && Date.now() < deadline; polls++) await pollTurn(polls);
    if (settle().length > 0) {
      for (const t of this.traced.values()) if (t.state === "running") leftovers.set(t.tid, t);
      this.traced.clear();
      leftoverTimer ??= setInterval(pollLeftovers, 10);
      leftoverTimer.unref(); // if Node exits first, the kernel detaches every tracee itself
    }
    return failures;
  }
}
