// policyFn's network events (SPEC 6): a connect, a datagram sent to a destination, a bind,
// each with the address the supervisor is about to use on the caller's behalf (net.ts
// performs every one on its own copy, on a duplicate of the socket), after the static
// rules allowed it: narrowed by ctx.restrictNetwork and ctx.restrictPidNetwork, then
// decided by the callback. The call waits for the verdict.

import { formatIp, unmapV4 } from "../../plan/net-address.js";
import type { PolicyContext, PolicyFn } from "../../policy/policy-fn.js";
import type { SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { callPolicyFn, type DynamicNet } from "../policy-call.js";
import { parentFromStat } from "../members.js";
import { decodeDestination } from "./net-sockaddr.js";
import { ruleProtocol, type ChildSocket } from "./net-socket.js";
import { AF } from "../../plan/seccomp.js";
import { readProcText } from "../../kernel/proc-text.js";

const ECONNREFUSED = 111;

/** A gate: undefined when the address names no IP destination (the static path answers
 * it), else a promise of the errno to refuse with, or of undefined to go on. */
export type NetGate = (n: Notification, sock: ChildSocket, name: Buffer, syscall: string) => Promise<number | undefined> | undefined;

function label(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The local address a bind names, read as the kernel reads it for the socket (no
 * rewriting: 0.0.0.0 is every interface here), or undefined when the kernel would refuse
 * the bytes anyway. AF_UNSPEC on an IPv4 socket binds INADDR_ANY (any other address gets
 * EAFNOSUPPORT from the kernel, for the same bytes). */
export function bindAddress(domain: number, name: Buffer): { host: string; port: number } | undefined {
  if (name.length < 2) return undefined;
  const family = name.readUInt16LE(0);
  if ((family === AF.INET || (family === 0 && domain === AF.INET)) && name.length >= 16) {
    return { host: formatIp({ family: 4, bytes: Uint8Array.from(name.subarray(4, 8)) }), port: name.readUInt16BE(2) };
  }
  if (family === AF.INET6 && domain === AF.INET6 && name.length >= 24) {
    return { host: formatIp(unmapV4({ family: 6, bytes: Uint8Array.from(name.subarray(8, 24)) })), port: name.readUInt16BE(2) };
  }
  return undefined;
}

/** The gates of SupervisorContext (gateConnect, gateSend, gateBind). */
export function policyNet(fn: PolicyFn, dyn: DynamicNet, ctx: SupervisorContext, pctx: PolicyContext) {
  const parentPid = (pid: number): number => {
    try {
      return parentFromStat(readProcText(`/proc/${pid}/stat`)) ?? 0;
    } catch {
      return 0; // gone: the verdict no longer matters
    }
  };

  const ask = (n: Notification, sock: ChildSocket, syscall: string, host: string, port: number, egress: boolean): Promise<number | undefined> => {
    const where = label(host, port);
    if (egress) {
      // The narrowing of ctx comes before the callback: a refused destination is not asked about.
      const narrowed = dyn.allowed !== undefined && !dyn.allowed.has(host) ? "not allowed by policyFn's ctx.restrictNetwork"
        : dyn.perPid !== undefined && !dyn.perPid.allows(n.pid, host) ? "not allowed for this process by policyFn's ctx.restrictPidNetwork" : undefined;
      if (narrowed !== undefined) {
        ctx.observe({ kind: "refused", syscall, errno: ECONNREFUSED, target: where, why: narrowed });
        return Promise.resolve(ECONNREFUSED);
      }
    }
    const protocol = ruleProtocol(sock);
    const event = { syscall, category: "network" as const, pid: n.pid, parentPid: parentPid(n.pid), host, port, ...(protocol !== undefined ? { protocol } : {}), denied: false };
    return callPolicyFn(fn, event, pctx).then((d) => {
      if (d.allow) return undefined;
      ctx.observe({ kind: "refused", syscall, errno: d.errno, target: where, why: d.why });
      return d.errno;
    });
  };

  /** connect, and a send with a destination: `name` is the copy the supervisor hands the
   * kernel (an unspecified address already rewritten to the loopback one it reaches). */
  const egress = (op: "connect" | "send"): NetGate => (n, sock, name, syscall) => {
    const target = decodeDestination(sock.domain, name, op);
    if (target.kind !== "ip") return undefined;
    return ask(n, sock, syscall, formatIp(target.dest.address), target.dest.port, true);
  };

  /** bind: the local address as the supervisor will bind it. Not narrowed by the
   * restrict* operations, which are about destinations. */
  const bind: NetGate = (n, sock, name, syscall) => {
    const local = bindAddress(sock.domain, name);
    return local === undefined ? undefined : ask(n, sock, syscall, local.host, local.port, false);
  };

  return { connect: egress("connect"), send: egress("send"), bind };
}
