// Emulated NETLINK_ROUTE sockets: socket(AF_NETLINK, ..., NETLINK_ROUTE) gets one end of a
// unix SOCK_SEQPACKET pair whose other end the supervisor serves, so the sandbox never
// holds a real netlink socket and sees only the interfaces of its view. An emulated socket
// is known by the inode of the sandbox's end, never by a descriptor number. The work its
// requests cost the supervisor is rate-limited per sandbox and charged to maxCpu.

import { monotonicMs } from "../../kernel/clock.js";
import { closeSync, fstatSync, readSync } from "node:fs";
import { native } from "../../confine/native.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { SOCK, SOCK_TYPE_FLAGS } from "../../plan/seccomp.js";
import { deny, returnValue, type Action } from "../action.js";
import type { ChildMemory } from "../child-memory.js";
import type { SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { WorkRate } from "../work-rate.js";
import type { ChildSocket } from "./net-socket.js";
import { threadGroup } from "./net-socket.js";
import { hostDump, recentView } from "./netlink-host.js";
import { MAX_REQUESTS, answerRequests, messages } from "./netlink-route.js";

const E = { EPERM: 1, EFAULT: 14, EINVAL: 22, EADDRINUSE: 98, ENOBUFS: 105, ENOPROTOOPT: 92, ESOCKTNOSUPPORT: 94 } as const;
const AF_UNSPEC = 0;
const AF_UNIX = 1;
const AF_NETLINK = 16;
const SOCKADDR_NL_BYTES = 12;
const UV_DISCONNECT = 4;
const MSG_DONTWAIT = 0x40;
/** Emulated sockets one sandbox may hold open at once: each costs the supervisor a
 * descriptor and a poll handle. Programs use one or two. */
const MAX_SOCKETS = 64;
/** NETLINK_ADD_MEMBERSHIP, DROP_MEMBERSHIP, PKTINFO, BROADCAST_ERROR, NO_ENOBUFS,
 * CAP_ACK, EXT_ACK, GET_STRICT_CHK: accepted and without effect (no notification is
 * ever sent; replies are what they are). Others: ENOPROTOOPT. */
const ACCEPTED_OPTIONS = new Set([1, 2, 3, 4, 5, 10, 11, 12]);
/**
 * Requests one sandbox may have answered: REQUEST_BURST at once, REQUEST_RATE a second
 * after that (a getifaddrs() is two; `ip addr` three). Beyond, the supervisor stops
 * reading the sandbox's requests until the rate allows (its writes then fill the socket
 * and wait, as against a busy kernel), and a trapped send waits in its call.
 */
export const REQUEST_RATE = 1000;
export const REQUEST_BURST = 256;
/** Requests answered per socket in one turn of the event loop: one datagram's worth. */
const REQUESTS_PER_TURN = MAX_REQUESTS;
/** Trapped sends of a sandbox that may wait for the rate at once; beyond, ENOBUFS. */
const MAX_WAITING_SENDS = 64;

interface Emulated {
  readonly inode: number;
  readonly server: number;
  readonly tgid: number;
  /** The poll handle on the server end; undefined while reading is paused by the rate. */
  poll: object | undefined;
  /** The port id (nl_pid) once bound or autobound; 0 before. */
  port: number;
}

/**
 * The address the supervisor's end is bound to: 12 bytes, the size of a struct
 * sockaddr_nl, so that a recvmsg on the sandbox's end reports a netlink-sized sender whose
 * nl_pid (bytes 4-7) is 0, which glibc, iproute2 and libmnl require of the kernel's
 * replies. An abstract name (sun_path[0] = 0) with 40 random bits in bytes 3 and 8-11.
 */
function serverName(): Buffer {
  const name = Buffer.alloc(SOCKADDR_NL_BYTES);
  name.writeUInt16LE(AF_UNIX, 0);
  name[3] = Math.floor(Math.random() * 256);
  name.writeUInt32LE(Math.floor(Math.random() * 0x100000000), 8);
  return name;
}

/** Where a request is read before it is copied out: one for the process, made by the first
 * read (the copy follows each read at once, so no two readers meet). One per supervisor was
 * 64 KiB zero-filled at every sandbox's start, used or not: 0.24 ms of each
 * `Sandbox.run` here, 16 fresh pages. */
let requestBuffer: Buffer | undefined;
const readBuffer = (): Buffer => (requestBuffer ??= Buffer.alloc(65536));

export class NetlinkSockets {
  private readonly byInode = new Map<number, Emulated>();
  private readonly ports = new Set<number>();
  private rover = -4096;
  private readonly rate = new WorkRate(REQUEST_RATE, REQUEST_BURST);
  /** Sockets whose reading waits for the rate, and the timer that resumes them. */
  private readonly paused = new Set<Emulated>();
  private resumeTimer: NodeJS.Timeout | undefined;
  /** Trapped sends waiting for the rate. */
  private waitingSends = 0;
  private closed = false;

  constructor(
    private readonly scope: InterfaceScope,
    private readonly mem: ChildMemory,
    private readonly ctx: SupervisorContext,
  ) {
    ctx.onClose(() => {
      this.closed = true;
      if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer);
      for (const e of [...this.byInode.values()]) this.close(e);
    });
  }

  /** socket(AF_NETLINK, type, NETLINK_ROUTE): the arguments are registers, the answer an
   * injected descriptor of the supervisor's making. */
  socket(n: Notification): Action {
    const type = n.argU32(1);
    if ((type & ~(SOCK.TYPE_MASK | SOCK_TYPE_FLAGS.NONBLOCK | SOCK_TYPE_FLAGS.CLOEXEC)) !== 0) return deny(E.EINVAL);
    const base = type & SOCK.TYPE_MASK;
    if (base !== SOCK.RAW && base !== SOCK.DGRAM) return deny(E.ESOCKTNOSUPPORT);
    if (this.byInode.size >= MAX_SOCKETS) return deny(E.ENOBUFS);
    const nat = native();
    let pair: [number, number] | number = -E.EADDRINUSE;
    for (let i = 0; i < 8 && pair === -E.EADDRINUSE; i++) pair = nat.netlinkPair(serverName(), (type & SOCK_TYPE_FLAGS.NONBLOCK) !== 0 ? 1 : 0);
    if (typeof pair === "number") return deny(-pair);
    const [server, child] = pair;
    const e: Emulated = { inode: fstatSync(child).ino, server, tgid: threadGroup(n.pid) ?? n.pid, poll: undefined, port: 0 };
    this.byInode.set(e.inode, e);
    this.listen(e);
    return { kind: "inject", fd: child, cloexec: (type & SOCK_TYPE_FLAGS.CLOEXEC) !== 0, close: true };
  }

  /** Requests written with write() or send() (no destination, so never trapped) arrive on
   * the server end; the poll handle does not keep Node's event loop alive. The time spent
   * answering them is the sandbox's. */
  private listen(e: Emulated): void {
    const nat = native();
    e.poll = nat.pollFd(e.server, (status, events) => {
      const t0 = monotonicMs();
      this.drain(e, status < 0 || (events & UV_DISCONNECT) !== 0);
      this.ctx.chargeCpu(monotonicMs() - t0);
    });
    nat.pollRef(e.poll, false);
  }

  /** Stops reading e's requests until the rate allows more. */
  private pause(e: Emulated): void {
    if (e.poll !== undefined) native().pollClose(e.poll);
    e.poll = undefined;
    this.paused.add(e);
    if (this.resumeTimer !== undefined || this.closed) return;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      for (const p of [...this.paused]) {
        this.paused.delete(p);
        if (this.byInode.get(p.inode) === p) this.listen(p);
      }
    }, Math.max(1, this.rate.delayMs()));
    this.resumeTimer.unref();
  }

  /** The emulated socket a duplicate is the sandbox's end of, by inode. */
  find(sock: ChildSocket): Emulated | undefined {
    return this.byInode.get(sock.inode);
  }

  /** bind(2) with the caller's copied struct sockaddr_nl. Multicast groups are accepted
   * and nothing is ever sent to them. */
  bind(e: Emulated, addr: Buffer): Action {
    if (addr.length < SOCKADDR_NL_BYTES || addr.readUInt16LE(0) !== AF_NETLINK) return deny(E.EINVAL);
    const pid = addr.readUInt32LE(4);
    if (pid === 0) {
      this.autobind(e);
      return returnValue(0);
    }
    if (e.port !== 0) return e.port === pid ? returnValue(0) : deny(E.EINVAL);
    if (this.ports.has(pid)) return deny(E.EADDRINUSE);
    e.port = pid;
    this.ports.add(pid);
    return returnValue(0);
  }

  /** connect(2): only the kernel (nl_pid 0, no groups) may be the peer, as for a caller
   * without CAP_NET_ADMIN; AF_UNSPEC dissolves nothing that matters. */
  connect(e: Emulated, addr: Buffer): Action {
    if (addr.length < 2) return deny(E.EINVAL);
    if (addr.readUInt16LE(0) === AF_UNSPEC) return returnValue(0);
    const bad = this.checkPeer(addr);
    if (bad !== 0) return deny(bad);
    this.autobind(e);
    return returnValue(0);
  }

  /** getsockname(2): a struct sockaddr_nl with the port id, written into the caller as the
   * kernel does (at most *addrlen bytes, then the full length into *addrlen). */
  getsockname(e: Emulated, n: Notification): Action {
    const addr = n.argAddr(1);
    const lenAddr = n.argAddr(2);
    const lenBuf = this.mem.read(n, lenAddr, 4);
    if (lenBuf === null) return deny(E.EFAULT);
    const len = lenBuf.readInt32LE(0);
    if (len < 0) return deny(E.EINVAL);
    const sa = Buffer.alloc(SOCKADDR_NL_BYTES);
    sa.writeUInt16LE(AF_NETLINK, 0);
    sa.writeUInt32LE(e.port, 4);
    const full = Buffer.alloc(4);
    full.writeInt32LE(SOCKADDR_NL_BYTES, 0);
    // Written only while the caller is still blocked in this very call.
    if (!this.mem.stillValid(n)) return deny(E.EPERM);
    if (!this.mem.write(n, addr, sa.subarray(0, Math.min(len, SOCKADDR_NL_BYTES))) || !this.mem.write(n, lenAddr, full)) return deny(E.EFAULT);
    return returnValue(0);
  }

  /** setsockopt(SOL_NETLINK, optname): the option is a register. */
  setsockopt(n: Notification): Action {
    return ACCEPTED_OPTIONS.has(n.argU32(2)) ? returnValue(0) : deny(E.ENOPROTOOPT);
  }

  /**
   * A send of the caller's copied bytes: answered at once (the kernel, too, queues a dump's
   * first part before sendmsg returns), after any request already written with write(),
   * so replies keep the order of requests. Returns the bytes "sent" or -errno.
   */
  send(e: Emulated, name: Buffer | null, data: Buffer): number | Promise<number> {
    if (name !== null) {
      if (name.length < 2 || name.readUInt16LE(0) !== AF_NETLINK) return -E.EINVAL;
      const bad = this.checkPeer(name);
      if (bad !== 0) return -bad;
    }
    if (this.rate.ready) return this.answerSend(e, data);
    // Beyond the rate the caller waits in its call, as a sender to a busy kernel would;
    // it holds nothing of the supervisor's but its notification (and those are bounded).
    if (this.waitingSends >= MAX_WAITING_SENDS) return -E.ENOBUFS;
    this.waitingSends++;
    const later = async (): Promise<number> => {
      try {
        while (!this.rate.ready) {
          if (this.closed) return -E.ENOBUFS;
          await new Promise((r) => setTimeout(r, Math.max(1, this.rate.delayMs())));
        }
      } finally {
        this.waitingSends--;
      }
      // Closed meanwhile (another thread closed the sandbox's end, or the sandbox ended):
      // its server descriptor is gone, and its number may be another's by now. The
      // request was sent; its answer is lost, as with a socket closed under a reader.
      if (this.closed || this.byInode.get(e.inode) !== e) return data.length;
      const t0 = monotonicMs();
      try {
        return this.answerSend(e, data);
      } finally {
        this.ctx.chargeCpu(monotonicMs() - t0);
      }
    };
    return later();
  }

  private answerSend(e: Emulated, data: Buffer): number {
    this.drain(e, false);
    this.answer(e, data);
    return data.length;
  }

  /** A destination other than the kernel needs CAP_NET_ADMIN for NETLINK_ROUTE: EPERM. */
  private checkPeer(addr: Buffer): number {
    if (addr.length < SOCKADDR_NL_BYTES || addr.readUInt16LE(0) !== AF_NETLINK) return E.EINVAL;
    return addr.readUInt32LE(4) !== 0 || addr.readUInt32LE(8) !== 0 ? E.EPERM : 0;
  }

  private autobind(e: Emulated): void {
    if (e.port !== 0) return;
    let port = e.tgid;
    if (this.ports.has(port)) {
      while (this.ports.has(this.rover >>> 0)) this.rover--;
      port = this.rover-- >>> 0;
    }
    e.port = port;
    this.ports.add(port);
  }

  /** Answers one datagram's requests; returns how many it held (at least 1: an empty or
   * malformed datagram costs a read too). */
  private answer(e: Emulated, datagram: Buffer): number {
    this.autobind(e);
    const count = Math.max(1, Math.min(messages(datagram).length, MAX_REQUESTS));
    this.rate.spend(count);
    const replies = answerRequests(datagram, e.port, recentView(this.scope), hostDump);
    const nat = native();
    for (const r of replies) {
      // The sandbox does not read its replies: the rest is dropped, as on overrun. (A
      // call that returns the errno: a thrown error per reply would cost more than it.)
      if (nat.netSendmsg(e.server, null, r, null, MSG_DONTWAIT) < 0) break;
    }
    return count;
  }

  /** Answers the requests waiting on the supervisor's end, a bounded number at a time (a
   * sandbox writing as fast as they are read must not hold the event loop: the poll
   * handle calls again on the next turn) and within the sandbox's rate (beyond it,
   * reading pauses); closes it once the sandbox's end is gone. */
  private drain(e: Emulated, hangup: boolean): void {
    for (let done = 0; done < REQUESTS_PER_TURN; ) {
      if (!this.rate.ready) {
        if (e.poll !== undefined) this.pause(e);
        return;
      }
      let n: number;
      try {
        n = readSync(e.server, readBuffer());
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") this.close(e);
        return;
      }
      // 0: the end of the stream once the peer is gone, else an empty datagram.
      if (n === 0) {
        if (hangup) this.close(e);
        return;
      }
      done += this.answer(e, Buffer.from(readBuffer().subarray(0, n)));
    }
  }

  private close(e: Emulated): void {
    if (this.byInode.get(e.inode) !== e) return;
    this.byInode.delete(e.inode);
    this.paused.delete(e);
    if (e.port !== 0) this.ports.delete(e.port);
    if (e.poll !== undefined) native().pollClose(e.poll);
    e.poll = undefined;
    closeSync(e.server);
  }
}
