// Network supervision (SPEC 4.3, 10): every connect, every send that names a destination or
// carries a message in memory, is performed by the supervisor on a duplicate of the
// caller's socket with the bytes it copied, or refused. The socket's kind decides how: IP
// destinations against the rules, named unix sockets beneath writable grants, emulated
// netlink sockets answered here. No decision on a descriptor or on memory ends in CONTINUE.

import { fstatSync } from "node:fs";
import { native } from "../../confine/native.js";
import type { NetSupervision } from "../../plan/net-supervision.js";
import { AF, SOCK } from "../../plan/seccomp.js";
import { CONTINUE, deny, returnValue, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { hostsFileHandlers } from "./hosts-file.js";
import { interfaceIoctl } from "./net-ioctl.js";
import { ipName, refusal } from "./net-ip.js";
import { NO_ROOM, NetIo } from "./net-io.js";
import { MMSGHDR_BYTES, MMSG_LEN_OFFSET, PAYLOAD_MAX, UIO_MAXIOV, checkControl, copyIn, readMessage, type OutMessage } from "./net-msg.js";
import { SIGPIPE, signalCaller } from "../kill.js";
import { closeAll, translateRights } from "./net-rights.js";
import { SOCKADDR_MAX } from "./net-sockaddr.js";
import { childSocket, isInet, release, ruleProtocol, type ChildSocket } from "./net-socket.js";
import { UnixTargets, isAbstract } from "./net-unix.js";
import { CallerCredentials } from "./fs-meta.js";
import { PortRemap } from "./port-remap.js";
import { connected, registerBefore, steer } from "./net-proxy.js";
import { NetlinkSockets } from "./netlink-socket.js";
import { bindAddress } from "./policy-net.js";
import { badBindName, bindOnBehalf } from "./net-bind.js";
import { udpSockets } from "./net-udp.js";

const EPERM = 1;
const EACCES = 13;
const EAGAIN = 11;
const ENOBUFS = 105;
const EPIPE = 32;
const EINVAL = 22;
const EMSGSIZE = 90;
const MSG_NOSIGNAL = 0x4000;
const MSG_ZEROCOPY = 0x4000000;
const AF_NETLINK = 16;
const AF_UNIX = 1;
const NETLINK_ROUTE = 0;
const SOCKADDR_NL_BYTES = 12;
const SOL_NETLINK = 270;

/**
 * A unix socket's own address (getsockname's bytes) that is an abstract name of the
 * sandbox's choosing: sun_path[0] is NUL, and it is not one the kernel picked (an autobind,
 * NUL and five lowercase hex digits, random and never one a host service is known by).
 */
export function chosenAbstract(name: Buffer): boolean {
  if (!isAbstract(name)) return false;
  return !(name.length === 8 && /^[0-9a-f]{5}$/.test(name.toString("latin1", 3)));
}

type Answer = Action | Promise<Action>;

function toAction(rc: number): Action {
  return rc < 0 ? deny(-rc) : returnValue(rc);
}

function settle(rc: number | Promise<number>): Answer {
  return typeof rc === "number" ? toAction(rc) : rc.then(toAction);
}

/** Runs body with the caller's socket, and closes the duplicate once the answer is known,
 * or earlier when body calls `done` (it needs the socket no more: an answer that waits
 * then holds no descriptor). */
function withSocket(n: Notification, fd: number, body: (s: ChildSocket, done: () => void) => Answer): Answer {
  const sock = childSocket(n.pid, fd);
  if (typeof sock === "number") return deny(-sock);
  let open = true;
  const done = (): void => {
    if (open) release(sock);
    open = false;
  };
  let answer: Answer;
  try {
    answer = body(sock, done);
  } catch (e) {
    done();
    throw e;
  }
  if (answer instanceof Promise) return answer.finally(done);
  done();
  return answer;
}

/** Makes a call and closes `fds` once its result is known (also when it throws), and
 * passes the result on. */
function after(call: () => number | Promise<number>, fds: readonly number[]): number | Promise<number> {
  if (fds.length === 0) return call();
  let rc: number | Promise<number>;
  try {
    rc = call();
  } catch (e) {
    closeAll(fds);
    throw e;
  }
  if (typeof rc === "number") {
    closeAll(fds);
    return rc;
  }
  return rc.finally(() => closeAll(fds));
}

/** The answer a call got when it found no room in the hold budget. */
function isNoRoom(a: Action): boolean {
  return a.kind === "errno" && a.errno === -NO_ROOM;
}

/** A message ready to be sent on the supervisor's duplicate, and the descriptors to close
 * after (SCM_RIGHTS duplicates, the pin of a named unix destination). */
interface Prepared {
  readonly name: Buffer | null;
  readonly data: Buffer;
  readonly control: Buffer | null;
  readonly fds: number[];
  /** The SCM_RIGHTS duplicates among fds, and the inode of the named destination's socket
   * file (0: none): for the memory cap's count of descriptors in flight. */
  readonly passed?: readonly number[];
  readonly destVfs?: number;
  /** The named destination's pin (`name` refers to it as /proc/self/fd/N), among fds. */
  readonly pin?: number;
}

/** Told of the descriptors a performed unix send passed (tid: the caller; sender: the
 * socket's inode), before the supervisor closes its duplicates (kernel-buffers.ts). */
export type PassedHook = (tid: number, sender: number, destVfs: number, fds: readonly number[]) => void;

/**
 * `refuseRight`: the test of each descriptor a send would pass with SCM_RIGHTS (the
 * supervisor's duplicate): true turns the send away with EPERM. It refuses an epoll file
 * (handlers/epoll.ts), and with maxMemory the memory guard's: an O_PATH handle on a memory-backed file (in a socket's queue it would hold
 * the file's memory where no count sees it: supervise/memory-files.ts), and a memory-backed
 * file once the sandbox has as many in flight as the guard keeps records of
 * (kernel-buffers.ts). A descriptor open for reading or writing passes, and is charged to
 * the sandbox that sent it while its message may still be queued.
 */
/**
 * policyFn: connects and sends waiting for the callback's verdict each hold the socket's
 * duplicate and, for a send, the data copied (up to 1 MiB), for as long as an async callback
 * takes (up to its deadline). At most this many calls, and this many bytes of their data,
 * of one sandbox wait at once; beyond, EAGAIN (connect) or ENOBUFS (sends), as the hold
 * budget answers (tenth review: 200 threads each sending 1 MB to an allowed address under a
 * callback that took 2 s grew the supervising process by 196 MiB; the thread cap allows 4,096).
 */
export const GATE_CALLS_MAX = 256;
export const GATE_BYTES_MAX = 32 << 20;

export function netHandlers(net: NetSupervision, ctx: SupervisorContext, refuseRight?: (dup: number) => boolean, onPassed?: PassedHook): HandlerTable {
  const io = new NetIo();
  const mem = ctx.memory;
  const unix = new UnixTargets(net.unixGrants, net.abstractScoped, (fn) => ctx.onClose(fn), (path, syscall) => {
    if (ctx.files?.denied(path) !== true) return false;
    ctx.observe({ kind: "refused", syscall, errno: 13, target: path, why: "denied by policyFn's ctx.denyPath" });
    return true;
  });
  const creds = new CallerCredentials(ctx.launcherPid);
  const netlink = new NetlinkSockets(net.interfaces, mem, ctx);
  const remap = net.portRemap === undefined ? undefined : new PortRemap(net.bind, ctx);
  const hostPort = remap === undefined ? undefined : remap.hostPortFor.bind(remap);

  // From here on the handlers act on copies only. The time-of-check/time-of-use gap
  // closes at mem.stillValid(): it proves the thread is still blocked in this very call,
  // so the bytes copied before it were its arguments; whatever the thread's siblings
  // write afterwards, the kernel never reads the child's memory for this call again. The
  // socket is the duplicate taken once: a dup2() onto the number afterwards changes
  // nothing, since the call is made on the duplicate.

  /** A send's checks, on the copies: the destination and ancillary data per socket kind. */
  const prepare = (n: Notification, sock: ChildSocket, m: OutMessage): Prepared | number => {
    if (isInet(sock)) {
      const protocol = ruleProtocol(sock);
      if (protocol === undefined) return refusal(net);
      const bad = m.control === null ? 0 : checkControl(m.control);
      if (bad !== 0) return bad;
      // TCP reads no address from a send (Fast Open, the one exception, is refused by the
      // filter in every policy): sent without one, to the peer checked at connect.
      const name = protocol === "tcp" ? null : ipName(net, sock, m.name, "send", ctx.observe, hostPort);
      if (typeof name === "number") return name;
      if (protocol === "udp") ctx.observe({ kind: "datagram", data: m.data });
      return { name, data: m.data, control: m.control, fds: [] };
    }
    if (sock.domain === AF.UNIX) {
      const rights = m.control === null ? null : translateRights(n.pid, m.control, refuseRight);
      if (typeof rights === "number") return rights;
      const fds = rights?.fds ?? [];
      const control = rights?.control ?? null;
      const passed = [...fds];
      // A stream socket refuses any name without reading it (EISCONN or EOPNOTSUPP).
      if (m.name === null || sock.type === SOCK.STREAM) return { name: m.name, data: m.data, control, fds, passed };
      let t: ReturnType<typeof unix.target>;
      try {
        t = unix.target(n, m.name);
      } catch (e) {
        closeAll(fds);
        throw e;
      }
      if (typeof t === "number") {
        closeAll(fds);
        return t;
      }
      let destVfs = 0;
      if (t.pin !== undefined) {
        fds.push(t.pin);
        if (passed.length > 0) destVfs = fstatSync(t.pin).ino;
      }
      return { name: t.name, data: m.data, control, fds, passed, destVfs, ...(t.pin !== undefined ? { pin: t.pin } : {}) };
    }
    // A real netlink socket (one from outside: the sandbox's own are emulated) or another
    // family: never sent on by the supervisor. Its privileges would apply: netlink checks
    // CAP_NET_ADMIN of the task that sends, for destinations and for the request itself.
    return EPERM;
  };

  /** Performs a prepared send; raises SIGPIPE as the kernel would for a stream. */
  const perform = (n: Notification, sock: ChildSocket, p: Prepared, flags: number, mayBlock = true): number | Promise<number> => {
    // MSG_ZEROCOPY would leave the supervisor's buffer pages in flight: a plain copy is the
    // same send (SO_ZEROCOPY, without which the flag does nothing, is refused anyway).
    const note = (r: number): number => {
      if (r >= 0 && onPassed !== undefined && p.passed !== undefined && p.passed.length > 0) onPassed(n.pid, sock.inode, p.destVfs ?? 0, p.passed);
      return r;
    };
    const rc = after(() => {
      // A send passing descriptors is made by the sender under the sandbox's limit on
      // files in flight (NetSupervision.inFlight), not under the supervisor's own.
      const rights = p.passed !== undefined && p.passed.length > 0 ? { pin: p.pin ?? -1, limit: net.inFlight } : undefined;
      const sent = io.send(n, sock, p.name, p.data, p.control, flags & ~MSG_ZEROCOPY, mayBlock, 1 + p.fds.length, rights);
      return typeof sent === "number" ? note(sent) : sent.then(note);
    }, p.fds);
    const signal = (r: number): number => {
      // To the thread that sent, as the kernel raises it; through a pidfd of that thread
      // confirmed (after it was opened) to be blocked in this call, never by its id alone.
      if (r === -EPIPE && sock.type === SOCK.STREAM && (flags & MSG_NOSIGNAL) === 0) signalCaller(n, SIGPIPE, (x) => mem.stillValid(x));
      return r;
    };
    return typeof rc === "number" ? signal(rc) : rc.then(signal);
  };

  /**
   * A prepared send, asked of policyFn first when it names an IP destination
   * (handlers/policy-net.ts): the event shows p.name, the checked copy this very send hands
   * the kernel, so a sibling rewriting the caller's sockaddr after the copy changes
   * nothing that is sent. Refused: its descriptors are closed, nothing is sent.
   */
  // What waits for policyFn now (GATE_CALLS_MAX, GATE_BYTES_MAX).
  let gateCalls = 0;
  let gateBytes = 0;
  /** Room for one more call of `bytes` to wait for the callback; said when there is none. */
  const gateRoom = (bytes: number, syscall: string, errno: number): boolean => {
    if (gateCalls < GATE_CALLS_MAX && gateBytes + bytes <= GATE_BYTES_MAX) return true;
    ctx.observe({ kind: "refused", syscall, errno, target: "policyFn", why: `the supervisor already holds ${GATE_CALLS_MAX} calls or ${GATE_BYTES_MAX >> 20} MiB of this sandbox's waiting for policyFn` });
    return false;
  };
  const held = <T>(bytes: number, gate: Promise<T>): Promise<T> => {
    gateCalls++;
    gateBytes += bytes;
    return gate.finally(() => {
      gateCalls--;
      gateBytes -= bytes;
    });
  };

  const gatedSend = (n: Notification, sock: ChildSocket, p: Prepared, syscall: string, send: () => number | Promise<number>): number | Promise<number> => {
    if (p.name === null || !isInet(sock) || ctx.gateSend === undefined) return send();
    if (!gateRoom(p.data.length, syscall, ENOBUFS)) {
      closeAll(p.fds);
      return -ENOBUFS;
    }
    const asked = ctx.gateSend(n, sock, p.name, syscall);
    if (asked === undefined) return send();
    const gate = held(p.data.length, asked);
    return gate.then((errno) => {
      if (errno === undefined) return send();
      closeAll(p.fds);
      return -errno;
    });
  };

  /** Payload limit: a stream may be sent in part (a short count is a valid answer). */
  const isStream = (sock: ChildSocket): boolean => sock.type === SOCK.STREAM;

  const connect = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock) => {
      const len = n.argU32(2);
      if (len > SOCKADDR_MAX) return deny(EINVAL);
      const copied = copyIn(mem, n, n.argAddr(1), len);
      if (typeof copied === "number") return deny(copied);
      if (!mem.stillValid(n)) return deny(EPERM);
      const emulated = netlink.find(sock);
      if (emulated !== undefined) return netlink.connect(emulated, copied);
      if (isInet(sock) && ctx.proxy !== undefined) {
        // Domain rules: to the filtering proxy, on the copied address (net-proxy.ts).
        const proxy = ctx.proxy;
        const s = steer(proxy, net, sock, copied, n.pid);
        if (s !== undefined) {
          const viaProxy = (): ReturnType<typeof io.connect> | number => {
            const peer = registerBefore(proxy, sock, s.reg);
            if (typeof peer === "number") return peer;
            const rc = io.connect(n, sock, s.name, 1);
            return typeof rc === "number" ? connected(proxy, peer, rc) : rc.then((r) => connected(proxy, peer, r));
          };
          // policyFn decides these too, on the destination the sandbox named (the proxy
          // only ever carries the bytes there, to that address); an explicit-proxy connect
          // is shown as the connect to the proxy it is. Without this, ctx.restrictNetwork
          // did not reach connects the domain rules steer.
          if (ctx.gateConnect !== undefined && !gateRoom(0, "connect", EAGAIN)) return deny(EAGAIN);
          const asked = ctx.gateConnect?.(n, sock, copied);
          const gate = asked === undefined ? undefined : held(0, asked);
          if (gate !== undefined) return gate.then((errno) => (errno !== undefined ? deny(errno) : settle(viaProxy())));
          return settle(viaProxy());
        }
      }
      if (isInet(sock)) {
        const name = ipName(net, sock, copied, "connect", ctx.observe, hostPort);
        if (typeof name === "number") return deny(name);
        // policyFn: the destination copied above, which is what gets connected, decided
        // before the supervisor connects (handlers/policy-net.ts); the caller waits.
        if (ctx.gateConnect !== undefined && !gateRoom(0, "connect", EAGAIN)) return deny(EAGAIN);
        const asked = ctx.gateConnect?.(n, sock, copied);
        const gate = asked === undefined ? undefined : held(0, asked);
        if (gate !== undefined) return gate.then((errno) => (errno !== undefined ? deny(errno) : settle(io.connect(n, sock, name ?? copied, 1))));
        return settle(io.connect(n, sock, name ?? copied, 1));
      }
      if (sock.domain === AF.UNIX) {
        const t = unix.target(n, copied);
        if (typeof t === "number") return deny(t);
        const pins = t.pin === undefined ? [] : [t.pin];
        return settle(after(() => io.connect(n, sock, t.name, 1 + pins.length), pins));
      }
      return deny(EPERM); // see prepare(): a real netlink socket or another family
    });

  const sendto = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock, done) => {
      const flags = n.argU32(3);
      let size = n.arg(2);
      if (size > BigInt(PAYLOAD_MAX)) {
        if (!isStream(sock)) return deny(EMSGSIZE);
        size = BigInt(PAYLOAD_MAX);
      }
      const data = copyIn(mem, n, n.argAddr(1), Number(size));
      if (typeof data === "number") return deny(data);
      let name: Buffer | null = null;
      if (n.argAddr(4) !== 0) {
        const len = n.argU32(5);
        if (len > SOCKADDR_MAX) return deny(EINVAL);
        const got = copyIn(mem, n, n.argAddr(4), len);
        if (typeof got === "number") return deny(got);
        name = got;
      }
      if (!mem.stillValid(n)) return deny(EPERM);
      const emulated = netlink.find(sock);
      if (emulated !== undefined) {
        done(); // known by inode: an answer that waits for the rate holds no descriptor
        return settle(netlink.send(emulated, name, data));
      }
      const p = prepare(n, sock, { name, data, control: null });
      return typeof p === "number" ? deny(p) : settle(gatedSend(n, sock, p, "sendto", () => perform(n, sock, p, flags)));
    });

  const sendmsg = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock, done) => {
      const flags = n.argU32(2);
      const m = readMessage(mem, n, n.argAddr(1), PAYLOAD_MAX, isStream(sock));
      if (typeof m === "number") return deny(m);
      if (!mem.stillValid(n)) return deny(EPERM);
      const emulated = netlink.find(sock);
      if (emulated !== undefined) {
        done();
        return settle(netlink.send(emulated, m.name, m.data));
      }
      const p = prepare(n, sock, m);
      return typeof p === "number" ? deny(p) : settle(gatedSend(n, sock, p, "sendmsg", () => perform(n, sock, p, flags)));
    });

  /**
   * Every message is copied first (up to 1 MiB of payload in all), then the call is
   * re-checked once, then messages go one by one until the first failure, as the kernel
   * does: the count sent, or the first message's errno. Only the first may wait for
   * buffer space; a later one that would wait ends the batch early, which sendmmsg's
   * contract allows (the caller sends the rest again).
   */
  const sendBatch = async (n: Notification, vec: number, msgs: OutMessage[], firstErrno: number, one: (m: OutMessage, first: boolean) => number | Promise<number>): Promise<Action> => {
    let sent = 0;
    let errno = firstErrno;
    for (const m of msgs) {
      const rc = await one(m, sent === 0);
      if (rc < 0) {
        errno = -rc;
        break;
      }
      const len = Buffer.alloc(4);
      len.writeUInt32LE(rc);
      // msg_len is the one field sendmmsg writes back; the call is re-checked first so
      // the write lands in the caller, which is still blocked in this call.
      if (!mem.stillValid(n) || !mem.write(n, vec + sent * MMSGHDR_BYTES + MMSG_LEN_OFFSET, len)) break;
      sent++;
    }
    return sent > 0 ? returnValue(sent) : deny(errno);
  };

  const sendmmsg = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock, done) => {
      const flags = n.argU32(3);
      const vec = n.argAddr(1);
      const vlen = Math.min(n.argU32(2), UIO_MAXIOV);
      const msgs: OutMessage[] = [];
      let budget = PAYLOAD_MAX;
      let firstErrno = 0;
      for (let i = 0; i < vlen && budget > 0; i++) {
        const m = readMessage(mem, n, vec + i * MMSGHDR_BYTES, budget, isStream(sock) && i === 0);
        if (typeof m === "number") {
          firstErrno = m;
          break;
        }
        msgs.push(m);
        budget -= m.data.length;
      }
      if (vlen === 0) return returnValue(0);
      if (!mem.stillValid(n)) return deny(EPERM);
      const emulated = netlink.find(sock);
      if (emulated !== undefined) {
        done();
        return sendBatch(n, vec, msgs, firstErrno, (m) => netlink.send(emulated, m.name, m.data));
      }
      return sendBatch(n, vec, msgs, firstErrno, (m, first) => {
        const p = prepare(n, sock, m);
        return typeof p === "number" ? -p : gatedSend(n, sock, p, "sendmmsg", () => perform(n, sock, p, flags, first));
      });
    });

  /** A bind's address, copied once and proved still the caller's call's, or the errno. */
  const bindName = (n: Notification): Buffer | number => {
    const len = n.argU32(2);
    if (len > SOCKADDR_MAX) return EINVAL;
    const name = copyIn(mem, n, n.argAddr(1), len);
    if (typeof name === "number") return name;
    return mem.stillValid(n) ? name : EPERM;
  };

  /**
   * policyFn: an IP bind is an event. The address is copied, the call re-checked, the
   * callback asked about the copy, and the supervisor binds the duplicate with that copy
   * (net-bind.ts makes Landlock's and the capability checks the caller's bind would meet);
   * never CONTINUE, after which the kernel would read the caller's buffer again.
   */
  const gatedBind = (n: Notification, sock: ChildSocket, gate: NonNullable<SupervisorContext["gateBind"]>): Answer => {
    const name = bindName(n);
    if (typeof name === "number") return deny(name);
    const asked = gate(n, sock, name);
    const local = bindAddress(sock.domain, name);
    if (asked === undefined || local === undefined) return deny(badBindName(name));
    return asked.then((errno) => (errno !== undefined ? deny(errno) : bindCopy(n, sock, name, local.port)));
  };

  /** An IP socket's bind made on the duplicate with the copied address (never a continue):
   * portRemap's, on the same copy (a port it does not remap comes back here), else the
   * supervisor's with the checks the caller's bind would meet (net-bind.ts). */
  const bindCopy = (n: Notification, sock: ChildSocket, name: Buffer, port: number): Action => {
    const remapped = remap === undefined ? CONTINUE : remap.bind(n, sock, name);
    if (remapped.kind !== CONTINUE.kind) return remapped;
    const rc = bindOnBehalf(n.pid, sock, name, port, net.bind, net.udpBind);
    return rc === 0 ? returnValue(0) : deny(rc);
  };

  /**
   * Where abstract names are refused, any other bind: an IP socket's is made on the
   * duplicate (bindCopy), for a bind that continued was looked up by the kernel afterwards,
   * when a dup2() may have put a unix socket at the number, which the kernel then bound to
   * the abstract name it read from the caller's buffer (40 of 45,093 tries in 2 s, a TCP
   * socket and a unix one swapped onto the number in turn: abstract-names.test). Sockets of
   * other families do not reach here (the filter lets a sandbox make unix, IP and
   * NETLINK_ROUTE sockets, the last emulated); one handed in from outside is refused.
   */
  const otherBind = (n: Notification, sock: ChildSocket): Action => {
    if (!isInet(sock)) {
      ctx.observe({ kind: "refused", syscall: "bind", errno: EPERM, target: `a socket of family ${sock.domain}`, why: "only unix and IP sockets are bound in the supervised view under the scope protection" });
      return deny(EPERM);
    }
    const name = bindName(n);
    if (typeof name === "number") return deny(name);
    const local = bindAddress(sock.domain, name);
    return local === undefined ? deny(badBindName(name)) : bindCopy(n, sock, name, local.port);
  };

  /**
   * A UDP bind where udpBind is set: the address copied, the port checked (0 or one
   * netAllowBind lists), the supervisor's duplicate bound with the copy (net-udp.ts).
   */
  const udpBind = (n: Notification, sock: ChildSocket, ports: readonly number[]): Answer => {
    const name = bindName(n);
    if (typeof name === "number") return deny(name);
    const local = bindAddress(sock.domain, name);
    if (local === undefined) return deny(badBindName(name));
    const rc = bindOnBehalf(n.pid, sock, name, local.port, net.bind, ports);
    if (rc === EACCES && local.port !== 0 && !ports.includes(local.port)) ctx.observe({ kind: "refused", syscall: "bind", errno: EACCES, target: `udp port ${local.port}`, why: "not a port netAllowBind lists (UDP sockets receive only at those, 0 and the ephemeral range)" });
    return rc === 0 ? returnValue(0) : deny(rc);
  };

  /**
   * A unix socket's bind where abstract names are refused (NetSupervision
   * refuseAbstractBind; the filter then routes every bind longer than an autobind here): an
   * abstract name is the host's too, and a datagram socket bound to one of the sandbox's
   * choosing received what the host's processes sent there (the twentieth review); bound,
   * the name is also kept from a host service that would bind it. The address is copied
   * once: an abstract one is EPERM. A path is bound by the supervisor with that copy
   * (net-unix.ts bind), never a continue: the kernel would read the address again, and a
   * thread that turned the path into an abstract name in between bound it (about 4% of a
   * tight race's binds).
   */
  const unixBind = (n: Notification, sock: ChildSocket): Action => {
    const name = bindName(n);
    if (typeof name === "number") return deny(name);
    if (!isAbstract(name)) {
      const caps = creds.forCall(n);
      if (caps === null) return deny(EPERM);
      const rc = unix.bind(n, sock.fd, name, caps, () => mem.stillValid(n));
      return rc === 0 ? returnValue(0) : deny(rc);
    }
    ctx.observe({ kind: "refused", syscall: "bind", errno: EPERM, target: "abstract unix name", why: "an abstract name is shared with the host: a socket bound there would receive what the host's processes send to that name, and keep a host service from binding it (abstract sockets are refused inside under the scope protection; an autobind, a bind of the family alone, works)" });
    return deny(EPERM);
  };

  /**
   * bind, getsockname and setsockopt(SOL_NETLINK) reach the supervisor to answer for
   * emulated netlink sockets (the filter narrows bind to netlink-sized addresses), and bind
   * for unixBind above where abstract names are refused (every bind longer than an
   * autobind), where every other bind is otherBind's too. Elsewhere, for any other socket the supervisor decides nothing, so the call continues: the kernel and
   * Landlock (bind ports, MAKE_SOCK for unix paths) decide at their own lookup, whatever
   * the number then refers to, exactly as for the same call with another address length,
   * which is never trapped (under policyFn every bind is trapped, and an IP one goes to
   * gatedBind above). The worst a dup2() onto the number can do is put the
   * sandbox's end of an emulated socket in the kernel's hands: a unix socket of its own;
   * or, where the supervisor makes UDP sockets (the filter then routes IP-sized binds,
   * udpBind above), a UDP socket of its own, which the kernel binds past the port check:
   * the socket's own filter, made with it, drops what comes to a port not allowed
   * (net-udp.ts). Where abstract names are refused, a unix socket's bind is unixBind's,
   * made on the duplicate: what the number refers to afterwards is not bound by it.
   */
  const bind = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock) => {
      const emulated = netlink.find(sock);
      if (emulated === undefined && sock.domain === AF_UNIX && net.refuseAbstractBind) return unixBind(n, sock);
      if (emulated === undefined && isInet(sock) && ctx.gateBind !== undefined) return gatedBind(n, sock, ctx.gateBind);
      if (emulated === undefined && isInet(sock) && net.udpBind !== undefined && ruleProtocol(sock) === "udp") return udpBind(n, sock, net.udpBind);
      if (emulated === undefined && net.refuseAbstractBind) return otherBind(n, sock);
      if (emulated === undefined) return remap === undefined ? CONTINUE : remap.bind(n, sock);
      const copied = copyIn(mem, n, n.argAddr(1), SOCKADDR_NL_BYTES);
      if (typeof copied === "number") return deny(copied);
      if (!mem.stillValid(n)) return deny(EPERM);
      return netlink.bind(emulated, copied);
    });

  /**
   * listen(2). A TCP socket listened on before any bind is bound there by the kernel, to a
   * port of its choosing on every address (inet_autobind), and Landlock, which checks
   * bind(2) only, never sees it: a sandbox allowed no bind served the host's peers on an
   * ephemeral port and wrote to whoever connected (the eighteenth review). An IP socket
   * still on port 0 may listen only where every port may be bound; the listen is
   * made on the duplicate looked at (the answer rests on what the number refers to, so it
   * never ends in CONTINUE: DESIGN 6), with the caller's backlog.
   */
  const listen = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock) => {
      const connectionKind = sock.type === SOCK.STREAM || sock.type === SOCK.SEQPACKET;
      const checked = isInet(sock) && connectionKind && net.bind !== "any";
      const portOf = (): number | undefined => {
        const local = native().netSockname(sock.fd);
        return typeof local === "number" ? undefined : bindAddress(sock.domain, local)?.port;
      };
      const refused = (): Action => {
        ctx.observe({ kind: "refused", syscall: "listen", errno: EACCES, target: "port 0", why: "a listen before any bind takes a port no bind rule allows (netAllowBind)" });
        return deny(EACCES);
      };
      // An abstract name is the host's too (the supervised view shares its network
      // namespace): a sandbox that bound one a host service is known by ("@/tmp/.X11-unix/X0")
      // served the host's clients that connected to it (the twentieth review). Where the
      // scope protection holds, the sandbox's own connects to abstract names are refused
      // (net-unix.ts), so no listener on a name of its choosing has a use inside: refused
      // before, and undone after when a bind raced the look (the listen is made on the
      // duplicate; an unbound socket gets an autobind name).
      const abstract = net.abstractScoped && sock.domain === AF_UNIX && connectionKind;
      const squats = (): boolean => {
        const local = native().netSockname(sock.fd);
        return typeof local !== "number" && chosenAbstract(local);
      };
      const squatting = (): Action => {
        ctx.observe({ kind: "refused", syscall: "listen", errno: EPERM, target: "abstract unix name", why: "an abstract name is shared with the host: a listener there would serve the host's clients (abstract sockets are refused inside under the scope protection)" });
        return deny(EPERM);
      };
      if (abstract && squats()) return squatting();
      const before = checked ? portOf() : undefined;
      if (checked && (before === undefined || before === 0)) return refused();
      const rc = native().netListen(sock.fd, n.argI32(1));
      if (rc < 0) return deny(-rc);
      if (abstract && squats()) {
        native().netShutdown(sock.fd, 2);
        return squatting();
      }
      // getsockname keeps a port the socket has lost (after a failed connect, a shutdown of
      // one under way, a connect to AF_UNSPEC: the nineteenth review); a listen that then
      // succeeds binds a port of the kernel's own choosing. This kernel refuses that listen
      // (EINVAL) before it could matter; one that allows it would listen here on another
      // port than the one looked at: undone (a listening socket shut down stops listening
      // and lets its port go, the caller still blocked in this call) and refused.
      if (checked && portOf() !== before) {
        native().netShutdown(sock.fd, 2);
        return refused();
      }
      return returnValue(0);
    });

  const getsockname = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock) => {
      const emulated = netlink.find(sock);
      if (emulated !== undefined) return netlink.getsockname(emulated, n);
      return remap === undefined ? CONTINUE : remap.getsockname(n, sock);
    });

  // Other levels reach here only for the memory cap's buffer sizes (socket-buffers.ts).
  const setsockopt = (n: Notification): Answer | undefined =>
    n.argI32(1) !== SOL_NETLINK ? undefined : withSocket(n, n.argI32(0), (sock) => (netlink.find(sock) === undefined ? CONTINUE : netlink.setsockopt(n)));

  const udpSocket = net.udpBind === undefined ? undefined : udpSockets(net.udpBind);
  /** socket(2): the filter sends socket(AF_NETLINK, *, NETLINK_ROUTE) here, and UDP's where
   * udpBind is set. */
  const socket = (n: Notification): Answer | undefined => {
    if (n.argU32(0) === AF_NETLINK) return n.argU32(2) === NETLINK_ROUTE ? netlink.socket(n) : undefined;
    return udpSocket?.(n);
  };

  const ioctl = (n: Notification): Answer => interfaceIoctl(n, mem, net.interfaces);

  /**
   * A performed call that would wait on a worker thread takes room in the sandbox's hold
   * budget first (net-io.ts). Without room it answers NO_ROOM having done nothing, and its
   * descriptors are already closed: the caller stays blocked in its call, the supervisor
   * holds nothing for it but the notification, and once room is reserved the call is made
   * again from the start (new duplicates, new copies, new checks: nothing of the first
   * attempt is trusted). More waiters than the budget queues get what a kernel short of
   * resources answers: EAGAIN for connect, ENOBUFS for a send.
   */
  const budgeted = (h: (n: Notification) => Answer, refusal: number): ((n: Notification) => Answer) => {
    const attempt = (n: Notification): Answer => {
      let a: Answer;
      try {
        a = h(n);
      } finally {
        // Room reserved for this attempt is taken synchronously, when it is used at all.
        io.budget.drop(n);
      }
      return a instanceof Promise ? a.then(retry(n)) : retry(n)(a);
    };
    const retry = (n: Notification) => (a: Action): Answer => {
      if (!isNoRoom(a)) return a;
      return io.budget.wait(n).then((granted) => {
        if (!granted) return deny(refusal);
        // Still blocked in this very call? Otherwise its thread may be gone and its id reused.
        if (!mem.stillValid(n)) {
          io.budget.drop(n);
          return deny(EPERM);
        }
        return attempt(n);
      });
    };
    return attempt;
  };
  ctx.onClose(() => io.budget.close());

  const table: Record<string, (n: Notification) => Answer | undefined> = {
    connect: budgeted(connect, EAGAIN),
    sendto: budgeted(sendto, ENOBUFS),
    sendmsg: budgeted(sendmsg, ENOBUFS),
    sendmmsg: budgeted(sendmmsg, ENOBUFS),
    bind,
    listen,
    getsockname,
    setsockopt,
    socket,
    ioctl,
  };
  if (net.hostsFile !== undefined) Object.assign(table, hostsFileHandlers(net.hostsFile, ctx, net.resolvConf));
  return table;
}
