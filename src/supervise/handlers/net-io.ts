// Performs connect and send on the supervisor's duplicate of a sandboxed socket without
// ever blocking the event loop: calls that cannot block run inline, the others on native
// worker threads, within the sandbox's hold budget (supervise/hold-budget.ts).

import { launcherPath, native } from "../../confine/native.js";
import { SOCK } from "../../plan/seccomp.js";
import { HoldBudget } from "../hold-budget.js";
import type { Notification } from "../notification.js";
import type { ChildSocket } from "./net-socket.js";

const EAGAIN = 11;
const MSG_DONTWAIT = 0x40;
/**
 * Not an errno (those stay below 4096): the call would have to wait on a worker thread
 * and the sandbox's budget has no room for it. Nothing was done; the caller closes what
 * it holds, waits for room (HoldBudget.wait) and makes the call again from the start.
 */
export const NO_ROOM = -0x10000;

/**
 * A send passing descriptors (SCM_RIGHTS): made by the supervising process's sender
 * (native/sender.c, native/launcher/sender.c) under RLIMIT_NOFILE `limit`, to the pinned
 * destination `pin` (-1: the name as it is; a pin is the sender's to name, by its own
 * number). The kernel bounds the uid's files in flight by the sending process's limit.
 */
export interface SenderRights {
  readonly pin: number;
  readonly limit: number;
}

let senderReady = false;
/** Tells the native side which program the sender is, once (it starts at the first send). */
function startSender(): void {
  if (senderReady) return;
  native().senderPath(launcherPath());
  senderReady = true;
}

export class NetIo {
  readonly budget = new HoldBudget();

  /**
   * connect(2) as the child asked, returning what the kernel returned (0 or -errno), or
   * NO_ROOM. The duplicate shares the child's open file description, so its O_NONBLOCK
   * decides: a non-blocking TCP socket gets EINPROGRESS, a blocking one waits for the
   * handshake. A stream connect therefore always runs on a thread: the child can flip
   * O_NONBLOCK between any look at the flags and the call, and the event loop must never
   * be the one left waiting. The child's flags are never changed. A unix stream or
   * seqpacket connect waits too when the listener's backlog is full. Datagram connect only
   * records the peer and never blocks. `fds`: the descriptors the call holds until it
   * completes (the socket's duplicate, a pinned destination).
   */
  connect(n: Notification, sock: ChildSocket, name: Buffer, fds: number): number | Promise<number> {
    if (sock.type !== SOCK.STREAM && sock.type !== SOCK.SEQPACKET) return native().netConnect(sock.fd, name);
    return this.threaded(n, fds, (cb) => native().netConnectAsync(sock.fd, name, cb));
  }

  /**
   * sendmsg(2): first with MSG_DONTWAIT added, which makes this one call non-blocking
   * without touching the shared file flags. EAGAIN goes back as is when the child asked
   * for non-blocking I/O; otherwise the child expects to wait for buffer space, so the
   * send is repeated as it asked, on a thread (or NO_ROOM). `fds` as for connect, with
   * the duplicates of passed descriptors.
   */
  send(n: Notification, sock: ChildSocket, name: Buffer | null, data: Buffer, control: Buffer | null, flags: number, mayBlock: boolean, fds: number, rights?: SenderRights): number | Promise<number> {
    const nat = native();
    if (rights !== undefined && control !== null) {
      startSender();
      const rc = nat.netSendRights(sock.fd, rights.pin, rights.limit, name, data, control, flags | MSG_DONTWAIT);
      if (rc !== -EAGAIN || !mayBlock || (flags & MSG_DONTWAIT) !== 0 || sock.nonblocking) return rc;
      return this.threaded(n, fds, (cb) => nat.netSendRightsAsync(sock.fd, rights.pin, rights.limit, name, data, control, flags, cb));
    }
    const rc = nat.netSendmsg(sock.fd, name, data, control, flags | MSG_DONTWAIT);
    if (rc !== -EAGAIN || !mayBlock || (flags & MSG_DONTWAIT) !== 0 || sock.nonblocking) return rc;
    return this.threaded(n, fds, (cb) => nat.netSendmsgAsync(sock.fd, name, data, control, flags, cb));
  }

  /** Runs a call on a worker thread if the budget has room for it (taken synchronously,
   * before anything waits), else NO_ROOM. */
  private threaded(n: Notification, fds: number, start: (cb: (rc: number) => void) => number): number | Promise<number> {
    if (!this.budget.take(n, fds)) return NO_ROOM;
    let started: number;
    let done!: (rc: number) => void;
    const result = new Promise<number>((resolve) => (done = resolve));
    try {
      started = start(done);
    } catch (e) {
      this.budget.release(fds);
      throw e;
    }
    // No thread (EAGAIN): the call fails as the kernel's would.
    if (started < 0) {
      this.budget.release(fds);
      return started;
    }
    return result.finally(() => this.budget.release(fds));
  }
}
