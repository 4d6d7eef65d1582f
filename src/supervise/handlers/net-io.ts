// Performs connect and send on the supervisor's duplicate of a sandboxed socket without
// ever blocking the event loop: calls that cannot block run inline, the others on a
// native thread each, at most MAX_THREADS at a time per sandbox.

import { native } from "../../confine/native.js";
import { SOCK } from "../../plan/seccomp.js";
import type { ChildSocket } from "./net-socket.js";

const EAGAIN = 11;
const MSG_DONTWAIT = 0x40;
/** Concurrent blocking calls per sandbox; more wait their turn (their callers are blocked
 * in the trapped call anyway). Bounds the threads a sandbox can make the supervisor run. */
const MAX_THREADS = 64;

export class NetIo {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /**
   * connect(2) as the child asked, returning what the kernel returned (0 or -errno). The
   * duplicate shares the child's open file description, so its O_NONBLOCK decides: a
   * non-blocking TCP socket gets EINPROGRESS, a blocking one waits for the handshake. A
   * stream connect therefore always runs on a thread: the child can flip O_NONBLOCK
   * between any look at the flags and the call, and the event loop must never be the one
   * left waiting. The child's flags are never changed. A unix stream or seqpacket connect
   * waits too when the listener's backlog is full. Datagram connect only records the
   * peer and never blocks.
   */
  connect(sock: ChildSocket, name: Buffer): number | Promise<number> {
    if (sock.type !== SOCK.STREAM && sock.type !== SOCK.SEQPACKET) return native().netConnect(sock.fd, name);
    return this.threaded((cb) => native().netConnectAsync(sock.fd, name, cb));
  }

  /**
   * sendmsg(2): first with MSG_DONTWAIT added, which makes this one call non-blocking
   * without touching the shared file flags. EAGAIN goes back as is when the child asked
   * for non-blocking I/O; otherwise the child expects to wait for buffer space, so the
   * send is repeated as it asked, on a thread.
   */
  send(sock: ChildSocket, name: Buffer | null, data: Buffer, control: Buffer | null, flags: number, mayBlock = true): number | Promise<number> {
    const nat = native();
    const rc = nat.netSendmsg(sock.fd, name, data, control, flags | MSG_DONTWAIT);
    if (rc !== -EAGAIN || !mayBlock || (flags & MSG_DONTWAIT) !== 0 || sock.nonblocking) return rc;
    return this.threaded((cb) => nat.netSendmsgAsync(sock.fd, name, data, control, flags, cb));
  }

  private async threaded(start: (cb: (rc: number) => void) => number): Promise<number> {
    // A finished call hands its slot straight to the next waiter.
    if (this.running >= MAX_THREADS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await new Promise<number>((resolve) => {
        const rc = start(resolve);
        if (rc < 0) resolve(rc); // no thread (EAGAIN): the call fails as the kernel's would
      });
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
