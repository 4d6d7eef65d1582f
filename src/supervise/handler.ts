// The contract of a handler module: one concern (processes, network, /proc...), the
// syscalls it answers, and the per-sandbox state it keeps.

import type { Action } from "./action.js";
import type { ChildMemory } from "./child-memory.js";
import type { Notification } from "./notification.js";

/** What a handler may use of its sandbox. */
export interface SupervisorContext {
  readonly memory: ChildMemory;
  /** Live processes of the sandbox, counted by the launcher from /proc. */
  countProcesses(): Promise<number>;
  /** SIGKILL the process that contains thread tid. */
  killProcess(tid: number): void;
  /** The sandbox's launcher pid: every process of the sandbox descends from it. */
  readonly launcherPid: number;
  /** The zygote's pid once the sandbox is a fork group (its clones are accounted apart). */
  forkParent(): number | undefined;
  /** Registers cleanup (timers, descriptors) to run when the supervisor closes. */
  onClose(fn: () => void): void;
}

/**
 * Answers a notification, or returns undefined when it is not this concern's business
 * (an openat of a path the concern does not virtualise): the next concern's handler for
 * the same syscall is asked, and when none answers, the call continues.
 */
export type Handler = (n: Notification) => Action | Promise<Action> | undefined;

/** A concern's handlers, keyed by syscall name, created for one sandbox. */
export type HandlerTable = Readonly<Record<string, Handler>>;
