// The notification loop of one sandbox: driven by a poll handle on the listener, it
// receives one notification per readiness event (RECV blocks even on a non-blocking fd),
// dispatches by syscall number, and answers exactly once. Never blocks the event loop.

import { monotonicMs } from "../kernel/clock.js";
import { closeSync } from "node:fs";
import { errnoName } from "../confine/errno.js";
import { native } from "../confine/native.js";
import { SYSCALLS } from "../kernel/syscalls.js";
import type { Action } from "./action.js";
import type { Handler, HandlerTable, MemoryCredit, ProcsCredit } from "./handler.js";
import { SIGKILL, signalCaller } from "./kill.js";
import type { FastPathSpec } from "./fast-path.js";
import { NOTIF_BYTES, Notification } from "./notification.js";

const UV_READABLE = 1;
const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
const SECCOMP_ADDFD_FLAG_SEND = 1 << 1;
const O_CLOEXEC = 0o2000000;
const ENOENT = 2;
const EINTR = 4;
const EPERM = 1;
const POLLHUP = 0x10;

/** Handler failures kept as text (the rest are counted). */
export const MAX_FAILURES_KEPT = 64;

export interface SupervisorStats {
  notifications: number;
  /** Handler failures, answered with EPERM (fail closed): the first MAX_FAILURES_KEPT;
   * `failureCount` counts them all. */
  failures: string[];
  failureCount: number;
}

export class Supervisor {
  readonly stats: SupervisorStats = { notifications: 0, failures: [], failureCount: 0 };
  /** Per syscall number, the handlers of every concern that traps it, in table order. */
  private readonly table = new Map<number, Handler[]>();
  private readonly buf = Buffer.alloc(NOTIF_BYTES);
  private handle: object | undefined;
  private closed = false;
  /** Nanoseconds of the fast path already charged to maxCpu. */
  private fastNsCharged = 0;
  /** Run once when the supervisor closes (the handlers' own cleanup). */
  onClose: (() => void) | undefined;
  /** Told of each handler failure (the call got EPERM): the syscall's number and why. */
  onFailure: ((nr: number, message: string) => void) | undefined;

  /**
   * `chargeCpu`, when given (the sandbox has maxCpu), is told the milliseconds each
   * notification cost the supervisor, receive to answer: work done on the sandbox's
   * behalf counts against its share of the CPU. Wall time of the synchronous handling
   * (monotonicMs(), about 0.1 us, where reading this thread's CPU clock costs 1.4 us):
   * on a loaded host a preempted handler charges the sandbox for the wait too.
   */
  constructor(
    private readonly listener: number,
    tables: readonly HandlerTable[],
    private readonly chargeCpu?: (ms: number) => void,
    fast?: FastPathSpec,
  ) {
    for (const t of tables) {
      for (const [name, h] of Object.entries(t)) {
        const nr = SYSCALLS[name];
        if (nr === undefined) throw new Error(`supervisor: handler for unknown syscall ${name}`);
        const chain = this.table.get(nr);
        if (chain) chain.push(h);
        else this.table.set(nr, [h]);
      }
    }
    const n = native();
    // Best effort: without it (kernels before 6.6) each round trip costs a cross-CPU wake-up.
    n.notifSetSyncWakeup(listener);
    const charge = this.chargeCpu;
    this.handle = n.pollFd(
      listener,
      charge === undefined
        ? (status, events, received) => this.onReady(status, events, received)
        : (status, events, received) => {
            const t0 = monotonicMs();
            try {
              this.onReady(status, events, received);
            } finally {
              charge(monotonicMs() - t0);
            }
          },
    );
    // From here on the handle receives each notification into buf (on a thread of its
    // own) and answers in C what needs no decision (fast-path.ts); the others arrive here
    // with `received` set.
    if (fast !== undefined && (fast.opens || fast.getdents || fast.threaded || fast.memory || fast.procs)) {
      n.pollFast(this.handle, this.buf, fast.trees, fast.exacts, fast.procDevs, fast.opens, fast.getdents, fast.threaded, fast.memory, fast.writeOpens, fast.procs);
    }
  }

  /** The fast path's credit of process forks, of thread clones, and of epoll_ctl adds (an
   * empty take and a no-op grant without one, or once closed). */
  readonly procsCredit: ProcsCredit = this.forkCredit(0);
  readonly threadsCredit: ProcsCredit = this.forkCredit(2);
  readonly epollCredit: ProcsCredit = this.forkCredit(4);
  readonly pipesCredit: ProcsCredit = this.forkCredit(6);
  /** Not a credit: grant(tid) makes a thread one whose sendfile and copy_file_range the fast
   * path continues (grant(0): none); take() is empty. */
  readonly spliceThreads: ProcsCredit = this.forkCredit(8);

  private forkCredit(op: 0 | 2 | 4 | 6 | 8): ProcsCredit {
    return {
      grant: (count) => {
        if (this.handle !== undefined) native().pollProcs(this.handle, op, count);
      },
      take: () => {
        if (this.handle === undefined) return [];
        const flat = native().pollProcs(this.handle, (op + 1) as 1 | 3 | 5 | 7 | 9, 0);
        const out: [number, number][] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
        return out;
      },
    };
  }

  /** The fast path's memory credit (a no-op without one, or once closed). */
  readonly memoryCredit: MemoryCredit = {
    spent: () => (this.handle === undefined ? 0 : (native().pollMemory(this.handle, 2, 0) ?? 0)),
    settle: (grant) => {
      if (this.handle !== undefined) native().pollMemory(this.handle, 0, grant);
    },
    revoke: () => {
      if (this.handle !== undefined) native().pollMemory(this.handle, 1, 0);
    },
  };

  /** Notifications answered by the native fast path, never seen here. */
  get fastAnswered(): number {
    return this.handle === undefined ? 0 : native().pollFastStats(this.handle)[0];
  }

  /** Milliseconds the fast path spent since the last call (charged to maxCpu like the
   * handlers' time). */
  takeFastMs(): number {
    if (this.handle === undefined) return 0;
    const ns = native().pollFastStats(this.handle)[1];
    const ms = (ns - this.fastNsCharged) / 1e6;
    this.fastNsCharged = ns;
    return ms;
  }

  private onReady(status: number, events: number, received?: number): void {
    if (this.closed) return;
    if (status < 0 || (events & UV_READABLE) === 0) {
      // HUP alone: no task uses the filter any more.
      this.close();
      return;
    }
    // With the fast path the handle has received already (one RECV per readiness event).
    const rc = received ?? native().notifRecv(this.listener, this.buf);
    if (rc === -ENOENT || rc === -EINTR) {
      // Either that caller died before we got to it, or no task uses the filter any more:
      // libuv reports the hang-up as readable, so ask the kernel which it is.
      if ((native().pollNow(this.listener) & POLLHUP) !== 0) this.close();
      return;
    }
    if (rc < 0) {
      this.noteFailure(`SECCOMP_IOCTL_NOTIF_RECV: ${errnoName(-rc)}`);
      this.close();
      return;
    }
    this.stats.notifications++;
    const n = new Notification(this.buf);
    const chain = this.table.get(n.nr);
    if (chain === undefined) {
      // A trapped syscall nobody answers for is a bug in the plan: fail closed.
      this.fail(n, new Error("no handler for it (a bug of the plan)"));
      return;
    }
    let action: Action | Promise<Action> | undefined;
    try {
      for (const h of chain) {
        action = h(n);
        if (action !== undefined) break;
      }
    } catch (e) {
      this.fail(n, e);
      return;
    }
    // No concern claimed it: the call runs as asked.
    action ??= { kind: "continue" };
    if (action instanceof Promise) {
      action.then((a) => this.respond(n, a), (e: unknown) => this.fail(n, e));
    } else {
      this.respond(n, action);
    }
  }

  /** A sandbox that makes a handler fail in a loop (one out of descriptors, say) would
   * otherwise grow this list for as long as it runs. */
  private noteFailure(text: string): void {
    this.stats.failureCount++;
    if (this.stats.failures.length < MAX_FAILURES_KEPT) this.stats.failures.push(text.slice(0, 500));
  }

  private fail(n: Notification, e: unknown): void {
    const message = (e as Error)?.message ?? String(e);
    this.noteFailure(`syscall ${n.nr}: ${message}`);
    this.respond(n, { kind: "errno", errno: EPERM });
    this.onFailure?.(n.nr, message);
  }

  /** Answers once. ENOENT means the caller is gone (or was interrupted): nothing to do. */
  private respond(n: Notification, a: Action): void {
    if (a.kind === "inject" && a.close) {
      try {
        this.respondNow(n, a);
      } finally {
        closeSync(a.fd);
      }
      return;
    }
    this.respondNow(n, a);
  }

  private respondNow(n: Notification, a: Action): void {
    if (this.closed) return;
    const nat = native();
    switch (a.kind) {
      case "continue":
        nat.notifSend(this.listener, n.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
        return;
      case "errno":
        nat.notifSend(this.listener, n.id, 0, -a.errno, 0);
        return;
      case "value":
        nat.notifSend(this.listener, n.id, a.value, 0, 0);
        return;
      case "inject": {
        const rc = nat.notifAddfd(this.listener, n.id, a.fd, 0, SECCOMP_ADDFD_FLAG_SEND, a.cloexec ? O_CLOEXEC : 0);
        if (rc < 0 && rc !== -ENOENT) nat.notifSend(this.listener, n.id, 0, rc, 0);
        return;
      }
      case "kill":
        // Through a pidfd of the caller, confirmed to be blocked in this call (kill.ts).
        signalCaller(n, SIGKILL, (x) => nat.notifIdValid(this.listener, x.id) === 0);
        nat.notifSend(this.listener, n.id, 0, -a.errno, 0);
        return;
    }
  }

  /** Whether the listener keeps Node's event loop alive (it does by default). */
  setRef(ref: boolean): void {
    if (this.handle) native().pollRef(this.handle, ref);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.handle) native().pollClose(this.handle);
    this.handle = undefined;
    // The listener's last reference: closing it frees the sandbox's filter, whose JIT image
    // the kernel unmaps (0.13 ms median here, up to 0.75): on the next turn of the event
    // loop, not between the sandbox's exit and its result. Nothing reads it any more.
    const listener = this.listener;
    setImmediate(() => closeSync(listener));
    this.onClose?.();
  }
}
