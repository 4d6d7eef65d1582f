// The caller's socket as the network supervisor sees it: a duplicate taken with
// pidfd_getfd from the calling thread's own descriptor table, and what kind it is.

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { AF, IPPROTO, SOCK } from "../../plan/seccomp.js";
import type { Protocol } from "../../policy/types.js";
import { readProcText } from "../../kernel/proc-text.js";

const EINVAL = 22;
const O_NONBLOCK = 0o4000;

export interface ChildSocket {
  /** The supervisor's duplicate: the same open file description as the child's. */
  readonly fd: number;
  readonly domain: number;
  /** SOCK_STREAM, SOCK_DGRAM... (SO_TYPE carries no creation flags). */
  readonly type: number;
  readonly protocol: number;
  /** O_NONBLOCK of the shared description when it was inspected (the child may change it). */
  readonly nonblocking: boolean;
  /** The socket's inode: what identifies it (an emulated netlink socket, for instance),
   * whatever descriptor number the child uses for it. */
  readonly inode: number;
}

/** The thread group of a thread (also for kernels without PIDFD_THREAD, before 6.9). */
export function threadGroup(tid: number): number | undefined {
  try {
    const m = /^Tgid:\s+(\d+)$/m.exec(readProcText(`/proc/${tid}/status`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A close-on-exec duplicate of descriptor `fd` of thread `tid`, or -errno (EBADF: no such
 * descriptor). What it refers to is what the number referred to at that moment; the
 * caller acts on the duplicate only, so a later dup2() in the child changes nothing.
 */
export function childFd(tid: number, fd: number): number {
  const nat = native();
  let dup = nat.threadGetfd(tid, fd);
  if (dup === -EINVAL) {
    // Only a thread-group leader has a plain pidfd before Linux 6.9: go through it (the
    // descriptor table of a thread is its group's unless it was cloned without CLONE_FILES).
    const tgid = threadGroup(tid);
    if (tgid !== undefined && tgid !== tid) dup = nat.threadGetfd(tgid, fd);
  }
  return dup;
}

/**
 * Duplicates descriptor `fd` of thread `tid` and inspects it; a negative errno when there
 * is no such descriptor (EBADF), it is not a socket (ENOTSOCK), or the thread is gone.
 * The caller re-checks the notification afterwards, which proves that tid was not
 * recycled before the duplicate was taken.
 */
export function childSocket(tid: number, fd: number): ChildSocket | number {
  const nat = native();
  const dup = childFd(tid, fd);
  if (dup < 0) return dup;
  const info = nat.sockInfo(dup);
  if (typeof info === "number") {
    closeSync(dup);
    return info;
  }
  const [domain, type, protocol, flags, inode] = info;
  return { fd: dup, domain, type, protocol, nonblocking: (flags & O_NONBLOCK) !== 0, inode };
}

export function isInet(s: ChildSocket): boolean {
  return s.domain === AF.INET || s.domain === AF.INET6;
}

/**
 * The rule protocol of an IP socket, or undefined for kinds no rule can allow. The socket
 * filter only lets TCP streams, UDP and ping sockets be created, but a descriptor may also
 * come from outside (an inherited stdio socket).
 */
export function ruleProtocol(s: ChildSocket): Protocol | undefined {
  if (s.type === SOCK.STREAM && s.protocol === IPPROTO.TCP) return "tcp";
  if (s.type === SOCK.DGRAM && s.protocol === IPPROTO.UDP) return "udp";
  if (s.type === SOCK.DGRAM && (s.protocol === IPPROTO.ICMP || s.protocol === IPPROTO.ICMPV6)) return "icmp";
  return undefined;
}

export function release(s: ChildSocket): void {
  closeSync(s.fd);
}
