// Network destinations (SPEC 4.3): connect, sendto, sendmsg and sendmmsg on IP sockets are
// checked against the rules per protocol and, when allowed, performed by the supervisor
// on a duplicate of the caller's socket with the bytes it copied. Denied: ECONNREFUSED.

import { netAllows } from "../../plan/net-match.js";
import type { NetSupervision } from "../../plan/net-rules.js";
import { SOCK } from "../../plan/seccomp.js";
import { CONTINUE, deny, returnValue, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { hostsFileHandlers } from "./hosts-file.js";
import { NetIo } from "./net-io.js";
import { MMSGHDR_BYTES, MMSG_LEN_OFFSET, PAYLOAD_MAX, UIO_MAXIOV, checkControl, copyIn, readMessage, type OutMessage } from "./net-msg.js";
import { childSocket, isInet, release, ruleProtocol, type ChildSocket } from "./net-socket.js";
import { SOCKADDR_MAX, decodeDestination } from "./net-sockaddr.js";

const EPERM = 1;
const EINVAL = 22;
const EMSGSIZE = 90;
const EOPNOTSUPP = 95;
const ECONNREFUSED = 111;
const MSG_FASTOPEN = 0x20000000;

type Answer = Action | Promise<Action>;

function toAction(rc: number): Action {
  return rc < 0 ? deny(-rc) : returnValue(rc);
}

function settle(rc: number | Promise<number>): Answer {
  return typeof rc === "number" ? toAction(rc) : rc.then(toAction);
}

/** Runs body with the caller's socket, and closes the duplicate once the answer is known. */
function withSocket(n: Notification, fd: number, body: (s: ChildSocket) => Answer): Answer {
  const sock = childSocket(n.pid, fd);
  if (typeof sock === "number") return deny(-sock);
  let answer: Answer;
  try {
    answer = body(sock);
  } catch (e) {
    release(sock);
    throw e;
  }
  if (answer instanceof Promise) return answer.finally(() => release(sock));
  release(sock);
  return answer;
}

/**
 * TCP reads no address from a send, whatever the caller passes, except with MSG_FASTOPEN
 * (a connect folded into the send), which is refused as when the host disables it. The
 * flags are a register: the kernel acts on the value checked here. So continuing is safe.
 */
function tcpSend(flags: number): Action {
  return (flags & MSG_FASTOPEN) !== 0 ? deny(EOPNOTSUPP) : CONTINUE;
}

export function netHandlers(net: NetSupervision, ctx: SupervisorContext): HandlerTable {
  const io = new NetIo();
  const mem = ctx.memory;

  /** The name to hand to the kernel, or an errno: the rules decide on the decoded copy. */
  const checkName = (sock: ChildSocket, name: Buffer | null, op: "connect" | "send"): Buffer | null | number => {
    if (name === null) return null; // the connected peer, checked at connect
    const target = decodeDestination(sock.domain, name, op);
    if (target.kind === "invalid") return target.errno;
    if (target.kind === "none") return name;
    const protocol = ruleProtocol(sock);
    if (protocol === undefined || !netAllows(net, protocol, target.dest)) return ECONNREFUSED;
    return target.name;
  };

  /** A message's checks that need no kernel: ancillary data, then its destination. */
  const checkMessage = (sock: ChildSocket, m: OutMessage): Buffer | null | number => {
    const bad = m.control === null ? 0 : checkControl(m.control);
    return bad !== 0 ? bad : checkName(sock, m.name, "send");
  };

  // From here on the handlers act on copies only. The time-of-check/time-of-use gap
  // closes at mem.stillValid(): it proves the thread is still blocked in this very call,
  // so the bytes copied before it were its arguments; whatever the thread's siblings
  // write afterwards, the kernel never reads the child's memory for this call again.

  const connect = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock) => {
      // Only the socket's family decides how the kernel reads the address: an AF_UNIX or
      // netlink socket rejects an IP address even if the child rewrites it after this
      // look, so these continue untouched.
      if (!isInet(sock)) return CONTINUE;
      const len = n.argU32(2);
      if (len > SOCKADDR_MAX) return deny(EINVAL);
      const copied = copyIn(mem, n, n.argAddr(1), len);
      if (typeof copied === "number") return deny(copied);
      if (!mem.stillValid(n)) return deny(EPERM);
      const name = checkName(sock, copied, "connect");
      if (typeof name === "number") return deny(name);
      return settle(io.connect(sock, name ?? copied));
    });

  /** sendto and sendmsg on a socket that is not TCP: undefined when the kernel may act. */
  const ipDatagram = (sock: ChildSocket, flags: number): Action | undefined => {
    if (!isInet(sock)) return CONTINUE;
    const protocol = ruleProtocol(sock);
    if (sock.type === SOCK.STREAM && protocol === "tcp") return tcpSend(flags);
    // A UDP or ping socket reads the destination from memory at any moment: performed here.
    return protocol === undefined ? deny(ECONNREFUSED) : undefined;
  };

  const sendto = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock) => {
      const flags = n.argU32(3);
      const early = ipDatagram(sock, flags);
      if (early !== undefined) return early;
      const size = n.arg(2);
      if (size > BigInt(PAYLOAD_MAX)) return deny(EMSGSIZE);
      const data = copyIn(mem, n, n.argAddr(1), Number(size));
      if (typeof data === "number") return deny(data);
      let copied: Buffer | null = null;
      if (n.argAddr(4) !== 0) {
        const len = n.argU32(5);
        if (len > SOCKADDR_MAX) return deny(EINVAL);
        const got = copyIn(mem, n, n.argAddr(4), len);
        if (typeof got === "number") return deny(got);
        copied = got;
      }
      if (!mem.stillValid(n)) return deny(EPERM);
      const name = checkName(sock, copied, "send");
      if (typeof name === "number") return deny(name);
      return settle(io.send(sock, name, data, null, flags));
    });

  const sendmsg = (n: Notification): Answer =>
    withSocket(n, n.argI32(0), (sock) => {
      const flags = n.argU32(2);
      const early = ipDatagram(sock, flags);
      if (early !== undefined) return early;
      const m = readMessage(mem, n, n.argAddr(1));
      if (typeof m === "number") return deny(m);
      if (!mem.stillValid(n)) return deny(EPERM);
      const name = checkMessage(sock, m);
      if (typeof name === "number") return deny(name);
      return settle(io.send(sock, name, m.data, m.control, flags));
    });

  /**
   * Every message is copied first (up to 1 MiB of payload in all), then the call is
   * re-checked once, then messages go one by one until the first failure, as the kernel
   * does: the count sent, or the first message's errno. Only the first may wait for
   * buffer space; a later one that would wait ends the batch early, which sendmmsg's
   * contract allows (the caller sends the rest again).
   */
  const sendBatch = async (n: Notification, sock: ChildSocket, vec: number, msgs: OutMessage[], firstErrno: number, flags: number): Promise<Action> => {
    let sent = 0;
    let errno = firstErrno;
    for (const m of msgs) {
      const name = checkMessage(sock, m);
      const rc = typeof name === "number" ? -name : await io.send(sock, name, m.data, m.control, flags, sent === 0);
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
    withSocket(n, n.argI32(0), (sock) => {
      const flags = n.argU32(3);
      const early = ipDatagram(sock, flags);
      if (early !== undefined) return early;
      const vec = n.argAddr(1);
      const vlen = Math.min(n.argU32(2), UIO_MAXIOV);
      const msgs: OutMessage[] = [];
      let budget = PAYLOAD_MAX;
      let firstErrno = 0;
      for (let i = 0; i < vlen; i++) {
        const m = readMessage(mem, n, vec + i * MMSGHDR_BYTES, budget);
        if (typeof m === "number") {
          firstErrno = m;
          break;
        }
        msgs.push(m);
        budget -= m.data.length;
      }
      if (vlen === 0) return returnValue(0);
      if (!mem.stillValid(n)) return deny(EPERM);
      return sendBatch(n, sock, vec, msgs, firstErrno, flags);
    });

  const table: Record<string, (n: Notification) => Answer | undefined> = { connect, sendto, sendmsg, sendmmsg };
  if (net.hostsFile !== undefined) Object.assign(table, hostsFileHandlers(net.hostsFile, ctx));
  return table;
}
