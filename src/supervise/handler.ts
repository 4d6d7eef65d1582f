// The contract of a handler module: one concern (processes, network, /proc...), the
// syscalls it answers, and the per-sandbox state it keeps.

import type { DomainProxy } from "../proxy/proxy.js";
import type { LimitExceeded } from "../result.js";
import type { Action } from "./action.js";
import type { ChildMemory } from "./child-memory.js";
import type { Notification } from "./notification.js";
import type { PortMapping } from "./handlers/port-remap.js";
import type { ChildSocket } from "./handlers/net-socket.js";
import type { DynamicFiles } from "./policy-files.js";

/**
 * What the supervisor saw, told to whoever watches the sandbox (learn mode records it; a
 * refusal is reported in the RunResult). Evidence only: nothing is decided on it.
 */
export type Observation =
  /** An IP destination checked for a connect or a send, and the answer. */
  | { kind: "destination"; op: "connect" | "send"; protocol: string; address: string; port: number; allowed: boolean }
  /** The payload of a UDP send the supervisor performs (learn mode reads DNS questions in it). */
  | { kind: "datagram"; data: Buffer }
  /** A call the supervisor refused, with what it named and why: "connect", "93.184.216.34:443
   * over tcp", "not allowed by netAllow". */
  | { kind: "refused"; syscall: string; errno: number; target: string; why: string };

/** What a handler may use of its sandbox. */
/** Limits policyFn may lower while the sandbox runs (never raise). */
export interface DynamicLimits {
  lowerMemory?: (bytes: number) => void;
  lowerProcesses?: (n: number) => void;
  /** Set by the process handlers: how many forks the sandbox has been let make so far
   * (asking folds in the ones the native credit continued), and how many of them may still
   * be under way (their caller still in the call: the child may not exist yet). The thread
   * cap reads it to know whether its last pass over the host's /proc still lists every
   * process of the sandbox. */
  forks?: () => { made: number; underWay: number };
  /** Set by the pipe budget (handlers/pipes.ts): the supervisor received these pipes (by
   * inode) the sandbox passed (a fork group's clones' outputs): no longer passed away. */
  pipesReceived?: (inodes: readonly number[]) => void;
}

export interface SupervisorContext {
  /** Told of destinations checked and calls refused (see Observation). */
  observe(o: Observation): void;
  /** portRemap: the ports the sandbox was given elsewhere on the host, all of them so far. */
  portsChanged(ports: readonly PortMapping[]): void;
  readonly memory: ChildMemory;
  /** Live processes of the sandbox, counted by the launcher from /proc. */
  countProcesses(): Promise<number>;
  /** SIGKILL process pid (a thread-group id) if it is still one of the sandbox's: through
   * a pidfd, membership checked once the pidfd pins it (kill.ts), never by number. */
  killProcess(pid: number): void;
  /** The sandbox's launcher pid: every process of the sandbox descends from it. */
  readonly launcherPid: number;
  /** Every thread of the sandbox stopped by the launcher, its tracer where timeStart or
   * policyFn trace it (Launcher.holdThreads); resolves with the release. */
  holdTraced(interrupted: () => () => void, timeoutMs: number): Promise<() => Promise<void>>;
  /** The zygote's pid once the sandbox is a fork group (its clones are accounted apart). */
  forkParent(): number | undefined;
  /** A fork group's pipes for its clones' outputs: two for each clone alive or asked for
   * (0 outside a fork group). */
  forkPipes(): number;
  /** Domain rules: the filtering proxy TCP connects are steered to (handlers/net-proxy.ts). */
  readonly proxy?: DomainProxy;
  /** Registers cleanup (timers, descriptors) to run when the supervisor closes. */
  onClose(fn: () => void): void;
  /** Records that a limit killed a process of the sandbox (its RunResult reports the first). */
  limitExceeded(hit: LimitExceeded): void;
  /** The same for a process of a fork group's clone (`unit`: the clone's pid, members.ts
   * cloneUnit): the clone's RunResult reports it. */
  cloneLimitExceeded(unit: number, hit: LimitExceeded): void;
  /** Charges milliseconds the supervisor spent on the sandbox's behalf outside a
   * notification (answering requests it wrote to an emulated socket) to its maxCpu. */
  chargeCpu(ms: number): void;
  /** maxMemory's credit in the native fast path (native/memcredit.c): growth calls within
   * it never reach the handlers. */
  readonly memoryCredit: MemoryCredit;
  /** maxProcesses' credit in the native fast path (native/proccredit.c): forks within it
   * never reach the handlers; each is handed over by take(). */
  readonly procsCredit?: ProcsCredit;
  /** The thread cap's credit in the same fast path, where no memory cap charges threads. */
  readonly threadsCredit?: ProcsCredit;
  /** The epoll watch budget's credit of epoll_ctl adds in the same fast path. */
  readonly epollCredit?: ProcsCredit;
  /** The pipe budget's credit of pipes (pipe, pipe2) in the same fast path. */
  readonly pipesCredit?: ProcsCredit;
  /** The pipe budget's threads with a splice pipe: grant(tid) has the fast path continue that
   * thread's sendfile and copy_file_range, grant(0) forgets them all. */
  readonly spliceThreads?: ProcsCredit;
  /** timeStart: the offset from CLOCK_MONOTONIC to the sandbox's wall clock in ns (the
   * launcher's, reported before the command runs). */
  clockOffsetNs?(): bigint | undefined;
  /** policyFn's ctx.restrictMaxMemory / restrictMaxProcesses: set by the memory and
   * process handlers when the policy has them, each lowering its limit from then on. */
  readonly limits: DynamicLimits;
  /** maxDisk: this process's descriptor of the copy-on-write stage's tmpfs (the
   * launcher's, handed over before the command runs): memory the sandbox fills. */
  readonly stageFd?: number | undefined;
  /** policyFn: asked before the supervisor connects an IP socket to the destination it
   * copied (handlers/policy-net.ts): the errno to refuse with, or undefined to go on. */
  gateConnect?: (n: Notification, sock: ChildSocket, copied: Buffer) => Promise<number | undefined> | undefined;
  /** policyFn: the same for a datagram the supervisor sends to a destination (`name`: the
   * checked copy it hands the kernel; `syscall`: sendto, sendmsg or sendmmsg), and for a
   * bind it makes (the local address copied). */
  gateSend?: (n: Notification, sock: ChildSocket, name: Buffer, syscall: string) => Promise<number | undefined> | undefined;
  gateBind?: (n: Notification, sock: ChildSocket, name: Buffer) => Promise<number | undefined> | undefined;
  /** policyFn with policyFnFiles: asked before the supervisor performs an open (handlers/
   * names-open.ts) with the real path it pinned; the errno to refuse with, or undefined. */
  gateFile?: (n: Notification, syscall: string, path: string, denied: boolean) => Promise<number | undefined>;
  /** policyFn's ctx.denyPath/allowPath rules (policy-files.ts), with policyFnFiles. */
  files?: DynamicFiles;
}

/** What the memory handlers tell the fast path's credit (native/memcredit.c). */
export interface MemoryCredit {
  /** Bytes of growth the fast path continued since its last grant. */
  spent(): number;
  /** One forwarded growth call (mmap, mremap, brk) is decided: every one must be settled
   * exactly once. `grant` bytes become the credit once none is left undecided. */
  settle(grant: number): void;
  /** No credit, until the next settle (the watchdog's period, a fork group). */
  revoke(): void;
}

export interface ProcsCredit {
  /** From now on `n` forks may be continued in C (the room left; native/proccredit.c keeps
   * at most SL_PROCS_CREDIT_MAX, 256, of a grant). */
  grant(n: number): void;
  /** Ends the credit and returns the forks continued in C since the last take: the
   * caller's thread id and the syscall number of each. */
  take(): [tid: number, nr: number][];
}

/**
 * Answers a notification, or returns undefined when it is not this concern's business
 * (an openat of a path the concern does not virtualise): the next concern's handler for
 * the same syscall is asked, and when none answers, the call continues.
 */
export type Handler = (n: Notification) => Action | Promise<Action> | undefined;

/** A concern's handlers, keyed by syscall name, created for one sandbox. */
export type HandlerTable = Readonly<Record<string, Handler>>;

/**
 * Holding a sandbox's forks while a checkpoint freezes it. A held fork's caller sits in
 * a killable wait (the listener has SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), which
 * PTRACE_INTERRUPT cannot end; so once the freeze has interrupted a caller, restart()
 * answers its fork with ERESTARTNOINTR: the pending interrupt makes the kernel stop the
 * thread on its way out and then re-enter the fork from scratch, the process never sees
 * the code. Forks still held at release() go on as usual.
 */
export interface ForkHold {
  /** Restarts the held forks of these threads (each must have a ptrace interrupt pending). */
  restart(tids: ReadonlySet<number>): void;
  /** Restarts every held fork and parked call, and every one that comes until the
   * function returned is called: the launcher's hold has interrupted every thread (each
   * has an interrupt pending until it stops, and none can call while stopped). */
  restartAll(): () => void;
  /** Whether this thread's fork is held now. */
  isHeld(tid: number): boolean;
  release(): void;
}

interface Held {
  tid: number;
  resume: (restart: boolean) => void;
}

/** Keyed by launcher pid (our unreaped child while the hold lasts, so not reused). */
const forkHolds = new Map<number, { holders: number; held: Held[] }>();
/** Launchers whose every thread has an interrupt pending (ForkHold.restartAll): their
 * forks and parked calls are restarted as they come. */
const restarting = new Set<number>();

/** What a sandbox's fork counter does when a hold starts (processes.ts: end the native
 * fork credit, so every fork comes to the handlers and finds the hold). */
const onHoldStart = new Map<number, () => void>();

/** Registers `fn` to run when a hold of this launcher's forks starts; returns the undo. */
export function whenForksHeld(launcherPid: number, fn: () => void): () => void {
  onHoldStart.set(launcherPid, fn);
  return () => {
    if (onHoldStart.get(launcherPid) === fn) onHoldStart.delete(launcherPid);
  };
}

/** Whether forks of this launcher's sandbox are held now. */
export function forksHeld(launcherPid: number): boolean {
  return forkHolds.has(launcherPid);
}

export function holdForks(launcherPid: number): ForkHold {
  let hold = forkHolds.get(launcherPid);
  if (hold === undefined) {
    hold = { holders: 0, held: [] };
    forkHolds.set(launcherPid, hold);
    onHoldStart.get(launcherPid)?.();
  }
  const h = hold;
  h.holders++;
  let released = false;
  /** Restarts the held forks and parked calls of the threads `picked`. */
  const restartWhere = (picked: (tid: number) => boolean): void => {
    const keep: Held[] = [];
    for (const x of h.held) {
      if (picked(x.tid)) x.resume(true);
      else keep.push(x);
    }
    h.held = keep;
    for (const x of [...(parked.get(launcherPid) ?? [])]) if (picked(x.tid)) x.resume(true);
  };
  return {
    restart: (tids) => restartWhere((tid) => tids.has(tid)),
    restartAll() {
      restarting.add(launcherPid);
      restartWhere(() => true);
      return () => restarting.delete(launcherPid);
    },
    isHeld: (tid) => h.held.some((x) => x.tid === tid),
    release() {
      if (released) return;
      released = true;
      if (--h.holders > 0) return;
      forkHolds.delete(launcherPid);
      for (const x of h.held.splice(0)) x.resume(false);
    },
  };
}

/** While forks are held: a promise for when this caller may go on (true: restart its call). */
export function forkHeld(launcherPid: number, tid: number): Promise<boolean> | undefined {
  const hold = forkHolds.get(launcherPid);
  if (hold === undefined) return undefined;
  if (restarting.has(launcherPid)) return Promise.resolve(true);
  return new Promise((resume) => hold.held.push({ tid, resume }));
}

/** Calls a handler holds until the supervisor has done something for the sandbox (an epoll
 * count), by launcher pid: like a held fork, each is restarted by a freeze that interrupts
 * its thread (ForkHold.restart), else a freeze would wait for it and it for the freeze. */
const parked = new Map<number, Held[]>();

/**
 * Holds the call of thread `tid` until `until` settles (false: decide it now) or a freeze
 * interrupts the thread (true: answer ERESTARTNOINTR, the kernel re-enters the call once
 * the thread is let go).
 */
export function parkCall(launcherPid: number, tid: number, until: Promise<unknown>): Promise<boolean> {
  if (restarting.has(launcherPid)) return Promise.resolve(true);
  return new Promise((resolve) => {
    let list = parked.get(launcherPid);
    if (list === undefined) parked.set(launcherPid, (list = []));
    const own = list;
    let done = false;
    const x: Held = {
      tid,
      resume(restart) {
        if (done) return;
        done = true;
        const at = own.indexOf(x);
        if (at >= 0) own.splice(at, 1);
        if (own.length === 0 && parked.get(launcherPid) === own) parked.delete(launcherPid);
        resolve(restart);
      },
    };
    own.push(x);
    const go = (): void => x.resume(false);
    until.then(go, go);
  });
}
