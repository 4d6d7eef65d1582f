// One connection through the filtering proxy: read the name it carries (TLS SNI, HTTP
// Host, CONNECT, a DNS question), check it against the domain rules and the destination
// against the name's addresses, then splice bytes to the destination without decrypting.

import { closeSync } from "node:fs";
import { connect as tcpConnect, isIP, type Socket } from "node:net";
import { native } from "../confine/native.js";
import { parseIp, unmapV4, formatIp } from "../plan/net-address.js";
import { looksLikeTls, parseClientHello } from "./tls-hello.js";
import { parseRequestHead, splitHostPort, upstreamHead, type RequestHead } from "./http-head.js";
import { serveDns } from "./dns-server.js";
import { validName, type Carrier, type DomainRules } from "./rules.js";
import type { Resolve } from "./resolver.js";
import type { Original, Registration } from "./proxy.js";

/** What a session needs of its proxy. */
export interface Session {
  readonly rules: DomainRules;
  readonly resolve: Resolve;
  readonly answered: Map<string, Set<string>>;
  refuse(destination: string, name: string | null, reason: string): void;
  track(s: Socket): void;
  /** The stop switches (eventfds) of the native splices running. */
  readonly stoppers: Set<number>;
  /** policyFn's narrowing of the destinations of `pid` now (proxy.ts), if any. */
  readonly narrow?: (pid: number, address: string) => string | undefined;
}

/** A program that sends nothing for this long is closed (no name, no check). */
const FIRST_BYTES_MS = 30_000;
const DNS_PORT = 53;

type Parse<T> = (buf: Buffer) => { kind: "more" } | { kind: "bad"; why: string } | T;

/** Reads until `parse` is satisfied; the parse result and every byte read so far. */
function readHead<T>(s: Socket, parse: Parse<T>): Promise<{ result: T | { kind: "bad"; why: string }; buf: Buffer } | undefined> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (v: { result: T | { kind: "bad"; why: string }; buf: Buffer } | undefined): void => {
      s.pause();
      s.off("data", onData);
      s.off("end", onEnd);
      s.off("close", onEnd);
      clearTimeout(timer);
      resolve(v);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parse(buf);
      if ((r as { kind: string }).kind !== "more") finish({ result: r as T, buf });
    };
    const onEnd = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), FIRST_BYTES_MS);
    timer.unref();
    s.on("data", onData);
    s.once("end", onEnd);
    s.once("close", onEnd);
    s.resume();
  });
}

function hostPort(address: string, port: number): string {
  return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/** Same address, IPv4-mapped IPv6 folded. */
function sameAddress(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && formatIp(unmapV4(x)) === formatIp(unmapV4(y));
}

/**
 * The address check: `address` must be one of `name`'s addresses, as the proxy resolves
 * it now or as the sandbox's DNS answered it. Refuses domain fronting (an allowed SNI sent
 * to another site's address) and DNS rebinding (the name now pointing elsewhere than the
 * address checked). Returns why not, or undefined.
 */
async function addressMismatch(p: Session, name: string, address: string): Promise<string | undefined> {
  if ([...(p.answered.get(name) ?? [])].some((a) => sameAddress(a, address))) return undefined;
  let addresses: readonly string[];
  try {
    addresses = await p.resolve(name);
  } catch (e) {
    return `${name} does not resolve (${(e as NodeJS.ErrnoException).code ?? "error"})`;
  }
  if (addresses.some((a) => sameAddress(a, address))) return undefined;
  return `${address} is not an address of ${name} (domain fronting or DNS rebinding)`;
}

/** A refused connection: the program sees a reset. */
function reset(s: Socket): void {
  s.resetAndDestroy();
}

/** The descriptor under a connected Node socket (libuv's TCP handle), if it has one. */
function socketFd(s: Socket): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/** The sockaddr of an IP address and port (AF_INET or AF_INET6). */
function sockaddr(address: string, port: number): Buffer | undefined {
  const ip = parseIp(address);
  if (ip === undefined) return undefined;
  const b = Buffer.alloc(ip.family === 4 ? 16 : 28);
  b.writeUInt16LE(ip.family === 4 ? 2 : 10, 0);
  b.writeUInt16BE(port, 2);
  b.set(ip.bytes, ip.family === 4 ? 4 : 8);
  return b;
}

/**
 * Hands the client socket to a native thread that connects to the destination and splices
 * (native/splice.c): no byte goes through JavaScript, and no event-loop turn sits between
 * the check and the connect. What Node already read from the client and did not hand out
 * goes first. Node's own descriptor is closed right after (the thread holds a duplicate),
 * in the same tick, so libuv reads nothing more. false: not available (an addon built
 * before it), nothing was taken.
 */
function nativeSplice(p: Session, s: Socket, address: string, port: number, first: Buffer): boolean {
  const nat = native();
  const a = socketFd(s);
  const dest = sockaddr(address, port);
  if (nat.spliceStart === undefined || nat.spliceStopper === undefined || a === undefined || dest === undefined) return false;
  const stop = nat.spliceStopper();
  if (stop < 0) return false;
  const toUp = [first];
  for (let c: Buffer | null; (c = s.read() as Buffer | null) !== null; ) toUp.push(c);
  const rc = nat.spliceStart(a, dest, Buffer.concat(toUp), stop, () => {
    p.stoppers.delete(stop);
    closeSync(stop);
  });
  if (rc < 0) {
    closeSync(stop);
    reset(s);
    return true;
  }
  p.stoppers.add(stop);
  s.destroy();
  return true;
}

/** Connects to the destination, writes what was read, then splices both ways. */
function splice(p: Session, s: Socket, address: string, port: number, first: Buffer): void {
  if (nativeSplice(p, s, address, port, first)) return;
  // Without the native thread: Node streams.
  const up = tcpConnect({ host: address, port, allowHalfOpen: true, noDelay: true });
  p.track(up);
  up.once("connect", () => {
    s.setNoDelay(true);
    if (first.length > 0) up.write(first);
    s.pipe(up);
    up.pipe(s);
    s.resume();
  });
  up.on("error", () => reset(s));
  s.on("error", () => up.destroy());
  up.once("close", () => s.destroy());
  s.once("close", () => up.destroy());
}

/** The name a request names: its absolute-form URI's host, else its Host header. The two
 * must agree when both are there (a server honours the URI over the Host). */
function requestName(head: RequestHead): { name: string; port: number | undefined; path: string; authority?: string } | string {
  let fromUri: { name: string; port: number | undefined } | null = null;
  let authority: string | undefined;
  let path = head.target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(head.target)) {
    let url: URL;
    try {
      url = new URL(head.target);
    } catch {
      return "a malformed request URI";
    }
    if (url.protocol !== "http:") return `a ${url.protocol}// request URI (only http:// goes through the proxy in the clear)`;
    if (url.username !== "" || url.password !== "") return "a request URI with a user part";
    fromUri = splitHostPort(url.host);
    authority = url.host;
    path = `${url.pathname}${url.search}`;
  }
  const fromHost = head.host === null ? null : splitHostPort(head.host);
  if (fromUri === null && fromHost === null) return "no Host header";
  if (fromUri !== null && fromHost !== null && fromUri.name !== fromHost.name) return `the request URI names ${fromUri.name}, its Host header ${fromHost.name}`;
  const chosen = (fromUri ?? fromHost)!;
  return { name: chosen.name, port: chosen.port, path, ...(authority !== undefined ? { authority } : {}) };
}

/**
 * A connection to `dest`, by a steered connect (expected undefined) or through a CONNECT
 * tunnel to `expected`: its first bytes decide TLS or HTTP, the name they carry must be
 * allowed on the port (and be `expected`, in a tunnel), and dest one of its addresses.
 */
async function filtered(p: Session, s: Socket, dest: Original, expected?: string): Promise<void> {
  const label = expected === undefined ? hostPort(dest.address, dest.port) : `CONNECT ${expected}:${dest.port}`;
  const got = await readHead(s, (buf) => (looksLikeTls(buf[0]!) ? wrapHello(buf) : wrapHead(buf)));
  if (got === undefined) {
    p.refuse(label, null, "closed before sending a ClientHello or a request");
    return reset(s);
  }
  const r = got.result;
  if (r.kind === "bad") {
    p.refuse(label, null, r.why);
    return reset(s);
  }
  let name: string;
  let carrier: Carrier;
  let first = got.buf;
  if (r.kind === "hello") {
    carrier = "tls";
    // ECH hides the real server name inside; the SNI outside is a provider's public name.
    if (r.ech) {
      p.refuse(label, r.sni, "Encrypted Client Hello offered (the real name is hidden)");
      return reset(s);
    }
    if (r.sni === null) {
      p.refuse(label, null, "no SNI in the ClientHello");
      return reset(s);
    }
    name = r.sni.toLowerCase().replace(/\.$/, "");
  } else {
    carrier = "http";
    const rn = requestName(r.head);
    if (typeof rn === "string") {
      p.refuse(label, null, rn);
      return reset(s);
    }
    name = rn.name;
    first = Buffer.concat([upstreamHead(r.head, rn.path, rn.authority), got.buf.subarray(r.head.length)]);
  }
  if (!validName(name)) {
    p.refuse(label, name, "not a valid host name");
    return reset(s);
  }
  const what = carrier === "tls" ? "SNI" : "Host";
  if (expected !== undefined && name !== expected) {
    p.refuse(label, name, `the ${what} is not the CONNECT host`);
    return reset(s);
  }
  if (p.rules.allows(name, dest.port, carrier) === undefined) {
    p.refuse(label, name, `${what} not allowed by netAllow on port ${dest.port}`);
    return reset(s);
  }
  const mismatch = await addressMismatch(p, name, dest.address);
  if (mismatch !== undefined) {
    p.refuse(label, name, mismatch);
    return reset(s);
  }
  splice(p, s, dest.address, dest.port, first);
}

type Hello = { kind: "hello"; sni: string | null; ech: boolean };
type Head = { kind: "head"; head: RequestHead };
const wrapHello = (buf: Buffer): { kind: "more" } | { kind: "bad"; why: string } | Hello => parseClientHello(buf) as { kind: "more" } | { kind: "bad"; why: string } | Hello;
const wrapHead = (buf: Buffer): { kind: "more" } | { kind: "bad"; why: string } | Head => parseRequestHead(buf) as { kind: "more" } | { kind: "bad"; why: string } | Head;

/** An answer of the explicit proxy to a request it refuses. */
function forbid(s: Socket, why: string): void {
  s.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nsandlock: ${why}\n`);
}

/** The first address of a name the proxy connects to itself (explicit requests). */
async function firstAddress(p: Session, name: string): Promise<string | undefined> {
  try {
    const all = await p.resolve(name);
    return all.find((a) => isIP(a) !== 0);
  } catch {
    return undefined;
  }
}

/**
 * policyFn's narrowing, asked when the explicit proxy has chosen where a request goes: the
 * connection to the proxy was allowed when it was made, but the destination is named
 * only now, so a ctx.restrictNetwork([]) in between must still stop it (a connection
 * opened before a revocation reached new destinations after it).
 */
export function narrowedNow(p: Session, pid: number, address: string): string | undefined {
  const ip = parseIp(address);
  return ip === undefined || p.narrow === undefined ? undefined : p.narrow(pid, formatIp(unmapV4(ip)));
}

/** A request to the proxy itself: CONNECT host:port, or an absolute-form http:// request. */
async function explicit(p: Session, s: Socket, pid: number): Promise<void> {
  const got = await readHead(s, (buf) => wrapHead(buf));
  if (got === undefined) return void s.destroy();
  const r = got.result;
  if (r.kind === "bad") {
    p.refuse("proxy request", null, r.why);
    return forbid(s, r.why);
  }
  const head = r.head;
  if (head.method === "CONNECT") {
    const hp = splitHostPort(head.target);
    if (hp === null || hp.port === undefined || !validName(hp.name)) {
      p.refuse(`CONNECT ${head.target}`, null, "not a host:port");
      return forbid(s, "CONNECT needs host:port");
    }
    const label = `CONNECT ${hp.name}:${hp.port}`;
    if (p.rules.allows(hp.name, hp.port, "tls") === undefined && p.rules.allows(hp.name, hp.port, "http") === undefined) {
      p.refuse(label, hp.name, `not allowed by netAllow on port ${hp.port}`);
      return forbid(s, `${hp.name}:${hp.port} is not allowed by netAllow`);
    }
    const address = await firstAddress(p, hp.name);
    if (address === undefined) {
      p.refuse(label, hp.name, "does not resolve");
      return forbid(s, `${hp.name} does not resolve`);
    }
    const narrowed = narrowedNow(p, pid, address);
    if (narrowed !== undefined) {
      p.refuse(label, hp.name, narrowed);
      return forbid(s, `${hp.name} (${address}): ${narrowed}`);
    }
    s.write("HTTP/1.1 200 Connection established\r\n\r\n");
    // What the client sends in the tunnel is checked like a steered connection: its SNI or
    // Host must be the CONNECT host (so the address resolved for it is the right one).
    const rest = got.buf.subarray(head.length);
    if (rest.length > 0) s.unshift(rest);
    return filtered(p, s, { address, port: hp.port, pid }, hp.name);
  }
  const rn = requestName(head);
  if (typeof rn === "string" || head.target.startsWith("/")) {
    const why = typeof rn === "string" ? rn : "an origin-form request to the proxy (use an absolute http:// URI or CONNECT)";
    p.refuse("proxy request", null, why);
    return forbid(s, why);
  }
  const port = rn.port ?? 80;
  const label = `${rn.name}:${port}`;
  if (!validName(rn.name) || p.rules.allows(rn.name, port, "http") === undefined) {
    p.refuse(label, rn.name, `Host not allowed by netAllow on port ${port}`);
    return forbid(s, `http://${rn.name}:${port} is not allowed by netAllow`);
  }
  const address = await firstAddress(p, rn.name);
  if (address === undefined) {
    p.refuse(label, rn.name, "does not resolve");
    return forbid(s, `${rn.name} does not resolve`);
  }
  const narrowed = narrowedNow(p, pid, address);
  if (narrowed !== undefined) {
    p.refuse(label, rn.name, narrowed);
    return forbid(s, `${rn.name} (${address}): ${narrowed}`);
  }
  splice(p, s, address, port, Buffer.concat([upstreamHead(head, rn.path, rn.authority), got.buf.subarray(head.length)]));
}

/** Serves one accepted connection the supervisor registered. */
export function serveConnection(p: Session, s: Socket, reg: Registration): void {
  const run = "explicit" in reg ? explicit(p, s, reg.pid) : reg.port === DNS_PORT && !p.rules.coversPort(DNS_PORT) ? serveDns(p, s, reg) : filtered(p, s, reg);
  run.catch(() => s.destroy());
}
