// portRemap (SPEC 4.6): the sandbox's TCP binds are made by the supervisor, on a duplicate
// of its socket with the address it copied; when the port asked for is busy on the host,
// on a free one the kernel picks. The sandbox keeps seeing the port it asked for:
// getsockname is answered with it, and its own connects to a local address on that port
// reach the real one. Two sandboxes can each serve "port 8000" at once.

import { readFileSync } from "node:fs";
import { native } from "../../confine/native.js";
import { AF, IPPROTO, SOCK } from "../../plan/seccomp.js";
import type { Destination } from "../../plan/net-match.js";
import { deny, returnValue, CONTINUE, type Action } from "../action.js";
import type { SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { copyIn } from "./net-msg.js";
import { SOCKADDR_MAX } from "./net-sockaddr.js";
import { isInet, type ChildSocket } from "./net-socket.js";
import { unprivilegedStart } from "./net-bind.js";

const EPERM = 1;
const EACCES = 13;
const EINVAL = 22;
const EFAULT = 14;
const EADDRINUSE = 98;
const AF_UNSPEC = 0;

/** A port the sandbox asked for and the host port it got. */
export interface PortMapping {
  /** Only TCP binds are remapped. */
  readonly protocol: "tcp";
  /** The port the sandbox bound and sees. */
  readonly port: number;
  /** The port on the host (where the host reaches the sandbox's server). */
  readonly hostPort: number;
}

function withPort(name: Buffer, port: number): Buffer {
  const copy = Buffer.from(name);
  copy.writeUInt16BE(port, 2);
  return copy;
}

function withFamily(name: Buffer, family: number): Buffer {
  const copy = Buffer.from(name);
  copy.writeUInt16LE(family, 0);
  return copy;
}

/** TCP_LISTEN in /proc/net/tcp's "st" column. */
const LISTEN = "0A";

/** TCP_LISTEN's bit in an inet_diag state mask. */
const LISTEN_STATE_BIT = 1 << 10;

/**
 * Inodes of the IP sockets listening on `port` in this network namespace (the sandbox's:
 * portRemap keeps the host's). From NETLINK_SOCK_DIAG, asking for listeners only, which
 * the kernel finds in its listening table alone: /proc/net/tcp lists every socket of the
 * namespace, and a sandbox that opened thousands made each of its connects read them all
 * (15,000 listeners: 227 ms per connect, on the event loop). /proc/net/tcp and tcp6 where
 * the host has no inet_diag.
 */
function listenersOn(port: number): Set<number> {
  const out = new Set<number>();
  for (const family of [AF.INET, AF.INET6]) {
    const buf = native().inetSockets(family, IPPROTO.TCP, LISTEN_STATE_BIT, port);
    if (typeof buf === "number") return listenersInText(port);
    // Records of six words: inode, state, local port, then queue figures (kmem.c).
    for (let at = 0; at + 24 <= buf.length; at += 24) if (buf.readUInt32LE(at + 8) === port) out.add(buf.readUInt32LE(at));
  }
  return out;
}

/** listenersOn from /proc/net/tcp and tcp6: "sl local rem st ... inode". */
function listenersInText(port: number): Set<number> {
  const out = new Set<number>();
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "latin1");
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === LISTEN && f[1]!.endsWith(hex)) out.add(Number(f[9]));
    }
  }
  return out;
}

function isLocal(d: Destination): boolean {
  const b = d.address.bytes;
  if (d.address.family === 4) return b[0] === 127 || b.every((x) => x === 0);
  return b.slice(0, 15).every((x) => x === 0) && (b[15] === 1 || b[15] === 0);
}

export class PortRemap {
  private readonly toHost = new Map<number, number>();
  private readonly toSandbox = new Map<number, number>();
  /** Ports the sandbox bound as it asked (free on the host then). */
  private readonly asAsked = new Set<number>();
  /** Per host port, the inodes of the sandbox's sockets the supervisor bound there. */
  private readonly boundThere = new Map<number, Set<number>>();
  private readonly lowest = unprivilegedStart();

  /** `allowed`: the ports the policy lets the sandbox bind ("any": all of them). */
  constructor(
    private readonly allowed: readonly number[] | "any",
    private readonly ctx: SupervisorContext,
  ) {}

  /** Every mapping made so far, in the order made. */
  list(): PortMapping[] {
    return [...this.toHost].map(([port, hostPort]) => ({ protocol: "tcp", port, hostPort }));
  }

  /**
   * The host port a connect to a local address on `dest.port` must reach, if remapped:
   * only while a socket of the sandbox bound there still listens. Once the sandbox's
   * server is gone the host port is free, and any host process may take it; carrying the
   * connect there would reach that process, which the rules (checked on the port the
   * sandbox named) never allowed (measured before: the sandbox read the other process's
   * reply). Then the connect goes where it names, as without portRemap.
   */
  hostPortFor(dest: Destination): number | undefined {
    if (!isLocal(dest)) return undefined;
    const hostPort = this.toHost.get(dest.port);
    return hostPort !== undefined && this.listening(hostPort) ? hostPort : undefined;
  }

  /** Whether one of the sandbox's sockets bound at `hostPort` listens there now. */
  private listening(hostPort: number): boolean {
    const mine = this.boundThere.get(hostPort);
    if (mine === undefined) return false;
    for (const ino of listenersOn(hostPort)) if (mine.has(ino)) return true;
    return false;
  }

  private noteBound(hostPort: number, sock: ChildSocket): void {
    let set = this.boundThere.get(hostPort);
    if (set === undefined) this.boundThere.set(hostPort, (set = new Set()));
    set.add(sock.inode);
  }

  /**
   * bind of an IP stream socket. Port 0 and ports below the unprivileged start continue:
   * the kernel and Landlock decide them with the caller's own rights. CONTINUE there rests
   * on the copied port, which a sibling can rewrite: the kernel then binds whatever the
   * buffer says, under Landlock's bind rules and the caller's capabilities, which is the
   * same bind the sandbox could make directly; only the remapping is missed. Every other
   * port is checked against the policy's bind rules here (Landlock does not see the
   * supervisor's bind) and bound by the supervisor with the copy.
   */
  bind(n: Notification, sock: ChildSocket, copied?: Buffer): Action {
    if (!isInet(sock) || sock.type !== SOCK.STREAM) return CONTINUE;
    // `copied`: policyFn's bind (net.ts), already copied and re-checked; CONTINUE then means
    // "not remapped" and the caller binds the copy itself.
    let name = copied;
    if (name === undefined) {
      const len = n.argU32(2);
      if (len > SOCKADDR_MAX) return deny(EINVAL);
      const got = copyIn(this.ctx.memory, n, n.argAddr(1), len);
      if (typeof got === "number") return deny(got);
      if (!this.ctx.memory.stillValid(n)) return deny(EPERM);
      name = got;
    }
    const family = name.length >= 2 ? name.readUInt16LE(0) : -1;
    // AF_UNSPEC on an IPv4 socket: the kernel binds it as AF_INET to INADDR_ANY (and refuses
    // any other address, EAFNOSUPPORT). Continued, it skipped the remap: a SO_REUSEPORT
    // socket so bound joined a host listener's group on 0.0.0.0 (15 of 40 connections).
    const inet4 = family === AF.INET || (family === AF_UNSPEC && sock.domain === AF.INET);
    const minimum = inet4 ? 16 : family === AF.INET6 ? 24 : Infinity;
    if (name.length < minimum) return CONTINUE; // the kernel's EINVAL or EAFNOSUPPORT, for the same bytes
    const port = name.readUInt16BE(2);
    if (port === 0 || port < this.lowest) return CONTINUE;
    if (this.allowed !== "any" && !this.allowed.includes(port)) return deny(EACCES);
    const nat = native();
    const probeName = family === AF_UNSPEC ? withFamily(name, AF.INET) : name;
    let mapped = this.toHost.get(port);
    if (mapped !== undefined && !this.listening(mapped) && nat.netPortTaken(withPort(probeName, mapped)) !== -EADDRINUSE) {
      // Nothing holds the host port any more (the sandbox's server is gone): the port
      // asked for is mapped afresh. A host port still held but by no listener of the
      // sandbox stays mapped: a socket bound there that does not listen yet is the
      // sandbox's own (a pre-fork server's workers bind before they listen), and if it is
      // another process's, the bind meets EADDRINUSE, as the kernel would answer.
      this.toHost.delete(port);
      mapped = undefined;
    }
    let rc: number;
    if (mapped !== undefined) {
      // A port this sandbox was given, where its server listens: the same host port
      // (SO_REUSEPORT or EADDRINUSE, as the kernel says for the sandbox's own sockets).
      rc = nat.netBind(sock.fd, withPort(name, mapped));
      if (rc === 0) this.noteBound(mapped, sock);
    } else {
      // Is the port busy on the host? Not the sandbox's bind's answer alone: with
      // SO_REUSEPORT set on its socket, the kernel lets it join the group of a host
      // listener of the same user on that port, and take a share of the host's connections
      // (measured: 15 of 40), with no EADDRINUSE to remap. A socket of the supervisor's own,
      // whose options the sandbox cannot touch, asks the kernel instead. A port the sandbox
      // itself bound as asked is its own (its reuseport groups keep working).
      const taken = this.asAsked.has(port) ? 0 : nat.netPortTaken(probeName);
      rc = taken === -EADDRINUSE ? taken : nat.netBind(sock.fd, name);
      if (rc === 0) this.asAsked.add(port);
    }
    if (rc === -EADDRINUSE && mapped === undefined) {
      rc = nat.netBind(sock.fd, withPort(name, 0));
      if (rc === 0) {
        const got = nat.netSockname(sock.fd);
        if (typeof got === "number") return deny(-got);
        const hostPort = got.readUInt16BE(2);
        this.toHost.set(port, hostPort);
        this.toSandbox.set(hostPort, port);
        this.noteBound(hostPort, sock);
        this.ctx.portsChanged(this.list());
      }
    }
    return rc < 0 ? deny(-rc) : returnValue(0);
  }

  /** getsockname of an IP stream socket: the supervisor's answer, with the port the sandbox
   * asked for. Written into the caller's buffer while it is blocked in the call. */
  getsockname(n: Notification, sock: ChildSocket): Action {
    if (!isInet(sock) || sock.type !== SOCK.STREAM || this.toSandbox.size === 0) return CONTINUE;
    const got = native().netSockname(sock.fd);
    if (typeof got === "number") return deny(-got);
    const out = Buffer.from(got);
    const port = this.toSandbox.get(out.readUInt16BE(2));
    if (port !== undefined) out.writeUInt16BE(port, 2);
    const mem = this.ctx.memory;
    const lenBuf = mem.read(n, n.argAddr(2), 4);
    if (lenBuf === null) return deny(EFAULT);
    const want = lenBuf.readInt32LE(0);
    if (want < 0) return deny(EINVAL);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(out.length);
    if (!mem.stillValid(n)) return deny(EPERM);
    if (!mem.write(n, n.argAddr(1), out.subarray(0, Math.min(want, out.length))) || !mem.write(n, n.argAddr(2), size)) return deny(EFAULT);
    return returnValue(0);
  }
}
