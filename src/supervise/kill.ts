// Signals the supervisor sends on its own authority (a memory kill, SIGPIPE for a send it
// performed): always through a pidfd opened before the target is confirmed, never by pid
// number, which an unrelated process may have been given since the target was seen.

import { closeSync } from "node:fs";
import { native } from "../confine/native.js";
import { parentOf } from "./members.js";
import type { Notification } from "./notification.js";
import { threadGroup } from "./handlers/net-socket.js";

const EINVAL = 22;
export const SIGKILL = 9;
export const SIGPIPE = 13;

/** The pidfd calls a kill needs (tests replace them). Each returns >= 0 or -errno. */
export interface PidfdOps {
  /** A pidfd of a thread-group leader. */
  open(pid: number): number;
  /** A pidfd of thread tid itself (PIDFD_THREAD); EINVAL before Linux 6.9. */
  openThread(tid: number): number;
  send(pidfd: number, signal: number): number;
  close(pidfd: number): void;
}

export const realPidfds: PidfdOps = {
  open: (pid) => native().pidfdOpen(pid),
  openThread: (tid) => native().threadPidfd(tid),
  send: (pidfd, signal) => native().pidfdSendSignal(pidfd, signal),
  close: (pidfd) => closeSync(pidfd),
};

/**
 * Whether process `pid` descends from `root` (root itself excluded), read now from /proc,
 * parent by parent, without the membership cache. Only meaningful once the process is
 * pinned by a pidfd (see killMember).
 */
export function descendsFrom(pid: number, root: number, parent: (pid: number) => number | undefined = parentOf): boolean {
  let depth = 0;
  for (let p = parent(pid); p !== undefined && p > 1 && depth < 4096; p = parent(p), depth++) {
    if (p === root) return true;
  }
  return false;
}

/**
 * SIGKILLs process `pid` (a thread-group id) if it is one of the sandbox's. The pidfd is
 * opened first, membership checked after: if the pid was given to another process before
 * the pidfd was opened, the check reads that process, which is not the sandbox's, and
 * nothing is sent; if the process the pidfd names dies after the check and its pid is
 * reused, the signal goes to the dead process, i.e. nowhere. A pid number seen in a /proc
 * scan (up to a watchdog period old) is never signalled as such. Returns whether sent.
 */
export function killMember(pid: number, isMember: (pid: number) => boolean, ops: PidfdOps = realPidfds): boolean {
  const fd = ops.open(pid);
  if (fd < 0) return false; // gone
  try {
    if (!isMember(pid)) return false;
    return ops.send(fd, SIGKILL) === 0;
  } finally {
    ops.close(fd);
  }
}

/**
 * Sends `signal` to the thread blocked in notification n (SIGKILL ends its whole process;
 * SIGPIPE goes to that thread, as the kernel raises it for the thread that sent). The
 * pidfd is opened first, then the notification is confirmed still pending: that thread is
 * then alive and blocked in this very call, so the pidfd names it and not a process that
 * took its id after it died. Before Linux 6.9 the pidfd is its thread group's (read from
 * /proc before the check, which the check then vouches for: a live thread's group does
 * not change). Returns whether sent.
 */
export function signalCaller(n: Notification, signal: number, stillValid: (n: Notification) => boolean, ops: PidfdOps = realPidfds): boolean {
  let fd = ops.openThread(n.pid);
  if (fd === -EINVAL) {
    const tgid = threadGroup(n.pid);
    fd = tgid === undefined ? -EINVAL : ops.open(tgid);
  }
  if (fd < 0) return false;
  try {
    if (!stillValid(n)) return false;
    return ops.send(fd, signal) === 0;
  } finally {
    ops.close(fd);
  }
}
