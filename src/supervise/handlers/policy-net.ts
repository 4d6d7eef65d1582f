// policyFn's connect events (SPEC 6): the destination the supervisor is about to connect to
// on the caller's behalf (handlers/net.ts performs every connect on its own copy of the
// address), after the static rules allowed it: narrowed by ctx.restrictNetwork, then
// decided by the callback. The connect waits for the verdict.

import { readFileSync } from "node:fs";
import { formatIp } from "../../plan/net-address.js";
import type { PolicyContext, PolicyFn } from "../../policy/policy-fn.js";
import type { SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { callPolicyFn, type DynamicNet } from "../policy-call.js";
import { parentFromStat } from "../members.js";
import { decodeDestination } from "./net-sockaddr.js";
import { ruleProtocol, type ChildSocket } from "./net-socket.js";

const ECONNREFUSED = 111;

/** For SupervisorContext.gateConnect: undefined when the address names no IP destination
 * (the static path answers it), else the errno to refuse with, or undefined to go on. */
export function policyNet(fn: PolicyFn, dyn: DynamicNet, ctx: SupervisorContext, pctx: PolicyContext) {
  return (n: Notification, sock: ChildSocket, copied: Buffer): Promise<number | undefined> | undefined => {
    const target = decodeDestination(sock.domain, copied, "connect");
    if (target.kind !== "ip") return undefined;
    const host = formatIp(target.dest.address);
    const where = `${host.includes(":") ? `[${host}]` : host}:${target.dest.port}`;
    if (dyn.allowed !== undefined && !dyn.allowed.has(host)) {
      ctx.observe({ kind: "refused", syscall: "connect", errno: ECONNREFUSED, target: where, why: "not allowed by policyFn's ctx.restrictNetwork" });
      return Promise.resolve(ECONNREFUSED);
    }
    let parentPid = 0;
    try {
      parentPid = parentFromStat(readFileSync(`/proc/${n.pid}/stat`, "latin1")) ?? 0;
    } catch {
      // Gone: the verdict no longer matters.
    }
    const protocol = ruleProtocol(sock);
    const event = { syscall: "connect", category: "network" as const, pid: n.pid, parentPid, host, port: target.dest.port, ...(protocol !== undefined ? { protocol } : {}), denied: false };
    return callPolicyFn(fn, event, pctx).then((d) => {
      if (d.allow) return undefined;
      ctx.observe({ kind: "refused", syscall: "connect", errno: d.errno, target: where, why: d.why });
      return d.errno;
    });
  };
}
