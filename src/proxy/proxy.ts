// The filtering proxy of the domain rules (docs/agents.md, "Domain rules"): a TCP server
// on 127.0.0.1 in the supervising process. The supervisor steers the sandbox's refused TCP
// connects to ports a domain rule covers (and DNS over TCP) here, keyed by the sandbox
// socket's local address; programs that honour HTTP(S)_PROXY reach it directly.

import { writeSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { NetRule } from "../policy/types.js";
import { openFileLimit } from "../supervise/hold-budget.js";
import { DomainRules } from "./rules.js";
import { proxyResolver, type Resolve } from "./resolver.js";
import { RefusalLog, type NetworkReport } from "./report.js";
import { serveConnection, type Session } from "./session.js";

/** Where a steered connection was going (address in text form, unmapped). */
export interface Original {
  readonly address: string;
  readonly port: number;
  /** The thread that connected: its policyFn narrowing applies to what the connection
   * asks later (the sandbox's DNS: each question, dns-server.ts). */
  readonly pid: number;
}
/** The sandbox connected to the proxy itself (HTTP_PROXY): `pid` is the thread that
 * connected, whose policyFn narrowing (ctx.restrictNetwork, restrictPidNetwork) applies
 * to the destinations its requests then name. */
export interface Explicit {
  readonly explicit: true;
  readonly pid: number;
}
export type Registration = Original | Explicit;

/** A registration no connection claimed is forgotten after this. */
const STALE_MS = 30_000;

/**
 * What the proxy holds per connection: the accepted socket while it waits for its first
 * bytes; then, spliced, a thread and seven descriptors (the client's duplicate, the
 * destination's socket, two pipes, the stop switch). A sandbox that opened thousands of
 * connections made the supervisor hold thousands of threads and run out of descriptors
 * (the security review measured 2,000 connections: 2,000 threads, 16,000 descriptors).
 */
const FDS_PER_CONNECTION = 8;

/**
 * How many connections one sandbox's proxy serves at once, and all proxies of this process
 * together, from the descriptor limit as src/supervise/hold-budget.ts shares it: a sandbox
 * a sixteenth, all of them half (never fewer than 16 per sandbox, never more than 256).
 * Beyond, a new connection is reset at once (and reported).
 */
export function connectionLimits(nofile = openFileLimit()): { perProxy: number; perProcess: number } {
  const perProxy = Math.min(256, Math.max(16, Math.floor(nofile / 16 / FDS_PER_CONNECTION)));
  return { perProxy, perProcess: Math.max(perProxy, Math.floor(nofile / 2 / FDS_PER_CONNECTION)) };
}

/** Every open proxy of this process (for the process-wide count of connections). */
const openProxies = new Set<DomainProxy>();

/** How long a name's addresses are reused (the TTL the sandbox's DNS gives them too). */
const RESOLVED_MS = 5_000;
/** Addresses the resolver's memory holds before it forgets everything (a few MiB). */
export const RESOLVED_ADDRESSES_MAX = 65_536;

/**
 * The resolver with a short memory: a connection's address check reuses what the name
 * resolved to within RESOLVED_MS instead of asking the host's resolver again (a lookup
 * costs a libuv thread hop). A rebinding within that window is not seen, as with any
 * cache honouring a TTL; failures are not kept.
 */
export function cached(resolve: Resolve): Resolve {
  const memo = new Map<string, { at: number; addresses: Promise<readonly string[]> }>();
  // Addresses held (an entry replaced is still counted: the memory is forgotten sooner,
  // never later). A name under a wildcard may have thousands of addresses.
  let held = 0;
  return (name) => {
    const now = Date.now();
    const hit = memo.get(name);
    if (hit !== undefined && now - hit.at < RESOLVED_MS) return hit.addresses;
    if (memo.size > 1024 || held > RESOLVED_ADDRESSES_MAX) {
      memo.clear();
      held = 0;
    }
    const addresses = resolve(name);
    memo.set(name, { at: now, addresses });
    addresses.then(
      (a) => {
        if (memo.get(name)?.addresses === addresses) held += a.length;
      },
      () => memo.delete(name),
    );
    return addresses;
  };
}

export class DomainProxy implements Session {
  readonly rules: DomainRules;
  readonly log = new RefusalLog();
  /** Set by the supervisor: refusals also go to RunResult.refused. */
  onRefused?: (destination: string, why: string) => void;
  /** Set by the supervisor under policyFn: why a request of `pid` through the explicit
   * proxy may not reach `address` now (ctx.restrictNetwork, restrictPidNetwork), or
   * undefined. */
  narrow?: (pid: number, address: string) => string | undefined;
  /** Addresses the sandbox's DNS gave for each name (accepted by the address check). */
  readonly answered = new Map<string, Set<string>>();
  private readonly registrations = new Map<string, { reg: Registration; at: number }>();
  private readonly sockets = new Set<Socket>();
  readonly stoppers = new Set<number>();
  private closed = false;
  private readonly limits = connectionLimits();

  readonly resolve: Resolve;

  private constructor(private readonly server: Server, readonly port: number, rules: DomainRules, resolve: Resolve) {
    this.rules = rules;
    this.resolve = cached(resolve);
  }

  /** Starts a proxy for these rules (netAllow), listening on 127.0.0.1, a free port. */
  static async start(netAllow: readonly NetRule[], resolve: Resolve = proxyResolver()): Promise<DomainProxy> {
    const rules = new DomainRules(netAllow);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolveListen, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: 0, backlog: 511 }, () => resolveListen());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("domain proxy: no TCP address");
    const proxy = new DomainProxy(server, address.port, rules, resolve);
    openProxies.add(proxy);
    server.on("connection", (s) => proxy.accept(s));
    server.on("error", () => undefined);
    // The proxy never keeps the supervising process alive on its own.
    server.unref();
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The variables that point programs which honour them at the proxy. NO_PROXY is
   * emptied: every destination goes through the proxy. */
  env(): Record<string, string> {
    const url = `http://${this.address}`;
    const out: Record<string, string> = {};
    for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]) {
      out[k] = url;
      out[k.toLowerCase()] = url;
    }
    out.NO_PROXY = "";
    out.no_proxy = "";
    return out;
  }

  /**
   * The supervisor is about to connect a sandbox socket whose local address is `peer` to the
   * proxy (it binds the socket first when it has none, net-proxy.ts): a steered connect (the
   * original destination) or an explicit one. Only connections the supervisor registered
   * are served, and anything else that reaches the port, from the host or another sandbox,
   * is closed as it is accepted: the proxy is no open relay with the supervisor's reach,
   * and connections nobody registers cannot take up its room (the thirteenth review: 300
   * of them, each waiting 10 s for a registration that might come after the accept, made the
   * sandbox's own requests fail).
   */
  expect(peer: string, reg: Registration): void {
    if (this.closed) return;
    const now = Date.now();
    for (const [k, v] of this.registrations) if (now - v.at > STALE_MS) this.registrations.delete(k);
    this.registrations.set(peer, { reg, at: now });
  }

  /** Whether a connection from `peer` is registered and not yet accepted. */
  expects(peer: string): boolean {
    return this.registrations.has(peer);
  }

  /** The connect registered as `peer` failed: nothing is to claim it. */
  forget(peer: string): void {
    this.registrations.delete(peer);
  }

  refuse(destination: string, name: string | null, reason: string): void {
    this.log.note(destination, name, reason);
    this.onRefused?.(destination, name === null || reason.includes(name) ? reason : `${reason}: ${name}`);
  }

  track(s: Socket): void {
    this.sockets.add(s);
    s.once("close", () => this.sockets.delete(s));
  }

  report(): NetworkReport {
    return { proxy: this.address, refused: this.log.snapshot() };
  }

  /** Connections this proxy holds: accepted sockets, and splices running on threads. */
  get connections(): number {
    return this.sockets.size + this.stoppers.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    openProxies.delete(this);
    this.server.close();
    for (const s of this.sockets) s.destroy();
    // Native splices end at their next poll; each closes its switch when it reports.
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    for (const fd of this.stoppers) writeSync(fd, one);
    this.registrations.clear();
  }

  private accept(s: Socket): void {
    s.on("error", () => undefined);
    const peer = `${s.remoteAddress}:${s.remotePort}`;
    const known = this.registrations.get(peer);
    this.registrations.delete(peer);
    if (known === undefined) {
      s.resetAndDestroy();
      return;
    }
    let all = 0;
    for (const p of openProxies) all += p.connections;
    if (this.connections >= this.limits.perProxy || all >= this.limits.perProcess) {
      const limit = this.connections >= this.limits.perProxy ? `${this.limits.perProxy} for this sandbox` : `${this.limits.perProcess} for this process`;
      this.refuse("proxy", null, `too many connections through the proxy at once (${limit})`);
      s.resetAndDestroy();
      return;
    }
    this.track(s);
    serveConnection(this, s, known.reg);
  }
}
