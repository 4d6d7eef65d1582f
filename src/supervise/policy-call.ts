// Calling policyFn (SPEC 6): sync or async, with a deadline; what it answers becomes a
// verdict, and whatever goes wrong (a throw, a rejection, no verdict in time, an answer
// that is not a verdict) becomes a denial with the reason, which the RunResult reports.

import { createRequire } from "node:module";
import { PolicyError, SandboxError } from "../errors.js";
import { validatePolicy } from "../policy/validate.js";
import { formatIp, parseIp, unmapV4 } from "../plan/net-address.js";
import type { PolicyContext, PolicyEvent, PolicyFn, PolicyVerdict } from "../policy/policy-fn.js";
import type { DynamicLimits } from "./handler.js";
import type { PidNetwork } from "./pid-network.js";
import type { DynamicFiles } from "./policy-files.js";

/** How long a held call waits for the verdict (SPEC 6: 5 s). Internal: tests shorten it. */
export const policyFnTiming = { timeoutMs: 5000 };

const EPERM = 1;

/** What the supervisor does with the call: allow it (audit: and say so), or fail it. */
export type Decision =
  | { allow: true; audit: boolean }
  | { allow: false; errno: number; why: string };

function decide(v: unknown): Decision | undefined {
  if (v === "allow") return { allow: true, audit: false };
  if (v === "audit") return { allow: true, audit: true };
  if (v === "deny") return { allow: false, errno: EPERM, why: "denied by policyFn" };
  if (typeof v === "object" && v !== null && Object.keys(v).length === 1) {
    const errno = (v as { errno?: unknown }).errno;
    if (typeof errno === "number" && Number.isInteger(errno) && errno >= 1 && errno <= 4095) {
      return { allow: false, errno, why: `policyFn answered errno ${errno}` };
    }
  }
  return undefined;
}

function describe(v: unknown): string {
  try {
    return typeof v === "string" ? JSON.stringify(v) : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
  } catch {
    return String(v);
  }
}

/** What ctx has narrowed so far (handlers/policy-net.ts enforces it). */
export interface DynamicNet {
  /** Destinations connects may still reach (IP strings as formatIp writes them), or
   * undefined: whatever the static rules allow. */
  allowed: Set<string> | undefined;
  /** ctx.restrictPidNetwork's per-process restrictions (pid-network.ts). */
  perPid?: PidNetwork;
}

const load = createRequire(import.meta.url);
/** node:net's isIP, loaded when a callback first names an address (not at start-up). */
const isIP = (s: string): number => (load("node:net") as typeof import("node:net")).isIP(s);

/** An IP address as the checks compare it: formatIp's form (a dotted quad; IPv6 as eight
 * hexadecimal words, and an IPv4-mapped address as its IPv4 one), or undefined. The
 * compressed RFC 5952 form this gave before ("::1") never equalled the destinations the
 * checks formatted ("0:0:0:0:0:0:0:1"), so an IPv6 address given to restrictNetwork,
 * grantNetwork or restrictPidNetwork allowed nothing (tenth review). */
export function canonicalIp(ip: unknown): string | undefined {
  if (typeof ip !== "string" || isIP(ip) === 0) return undefined;
  const a = parseIp(ip);
  return a === undefined ? undefined : formatIp(unmapV4(a));
}

function ips(method: string, list: unknown): string[] {
  if (!Array.isArray(list)) throw new SandboxError(`policyFn: ctx.${method}() takes an array of IP addresses, got ${describe(list)}`);
  return list.map((x) => {
    const ip = canonicalIp(x);
    if (ip === undefined) throw new SandboxError(`policyFn: ctx.${method}(): ${describe(x)} is not an IP address`);
    return ip;
  });
}

/** A limit's new value, checked as the policy field would be (same messages). */
function limitValue(method: string, field: "maxMemory" | "maxProcesses", value: unknown): number {
  try {
    return Number(validatePolicy({ [field]: value })[field]);
  } catch (e) {
    throw new SandboxError(`policyFn: ctx.${method}(): ${e instanceof PolicyError ? e.message : String(e)}`);
  }
}

/**
 * The ctx of SPEC 6. restrictNetwork and grantNetwork narrow (and widen again, never past
 * the static rules, which are checked first) the destinations of later connects and sends;
 * restrictPidNetwork narrows one process's (pid-network.ts); restrictMaxMemory and
 * restrictMaxProcesses lower a limit the policy set (a value above the limit in force
 * changes nothing: a callback can only narrow). denyPath and allowPath change the rules
 * the supervisor applies to later opens (policy-files.ts); without policyFnFiles they
 * throw, so a callback relying on one learns it at once (its call is then denied, with
 * the reason) instead of believing the sandbox narrowed.
 */
export function policyContext(net: DynamicNet, limits: DynamicLimits = {}, files?: DynamicFiles): PolicyContext {
  // denyPath and allowPath act on the opens the supervisor performs: only with policyFnFiles.
  const noFiles = (name: string): never => {
    throw new SandboxError(`policyFn: ctx.${name}(): file events are off in this sandbox (set policyFnFiles: true, so that the supervisor performs every open and can refuse a path)`);
  };
  const missing = (name: string) => (): never => {
    throw new SandboxError(`policyFn: ctx.${name}() is not built yet`);
  };
  return {
    restrictNetwork: (list) => {
      const keep = new Set(ips("restrictNetwork", list));
      net.allowed = net.allowed === undefined ? keep : new Set([...net.allowed].filter((x) => keep.has(x)));
    },
    grantNetwork: (list) => {
      const add = ips("grantNetwork", list);
      if (net.allowed !== undefined) for (const ip of add) net.allowed.add(ip);
    },
    restrictMaxMemory: (bytes) => {
      const n = limitValue("restrictMaxMemory", "maxMemory", bytes);
      if (limits.lowerMemory === undefined) throw new SandboxError("policyFn: ctx.restrictMaxMemory(): the policy sets no maxMemory, so memory is not supervised in this sandbox; set maxMemory to the most it may ever use");
      limits.lowerMemory(n);
    },
    restrictMaxProcesses: (n) => {
      const v = limitValue("restrictMaxProcesses", "maxProcesses", n);
      if (limits.lowerProcesses === undefined) throw new SandboxError("policyFn: ctx.restrictMaxProcesses(): processes are not counted in this sandbox");
      limits.lowerProcesses(v);
    },
    denyPath: (p) => (files === undefined ? noFiles("denyPath") : files.deny(p)),
    allowPath: (p) => (files === undefined ? noFiles("allowPath") : files.allow(p)),
    restrictPidNetwork: (pid, list) => {
      if (net.perPid === undefined) missing("restrictPidNetwork")();
      net.perPid!.restrict(pid, ips("restrictPidNetwork", list));
    },
  };
}

/** Asks fn about event; resolves with the decision, never rejects. */
export function callPolicyFn(fn: PolicyFn, event: PolicyEvent, ctx: PolicyContext): Promise<Decision> {
  const ms = policyFnTiming.timeoutMs;
  return new Promise<Decision>((resolve) => {
    let done = false;
    const finish = (d: Decision): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(d);
    };
    const timer = setTimeout(() => finish({ allow: false, errno: EPERM, why: `policyFn gave no verdict within ${ms} ms` }), ms);
    const answer = (v: unknown): void => finish(decide(v) ?? { allow: false, errno: EPERM, why: `policyFn returned ${describe(v)}, not a verdict ("allow", "deny", "audit" or {errno})` });
    const failed = (e: unknown): void => finish({ allow: false, errno: EPERM, why: `policyFn threw: ${e instanceof Error ? `${e.name}: ${e.message}` : describe(e)}` });
    let out: PolicyVerdict | Promise<PolicyVerdict>;
    try {
      out = fn(Object.freeze({ ...event, ...(event.argv ? { argv: Object.freeze([...event.argv]) } : {}) }), ctx);
    } catch (e) {
      failed(e);
      return;
    }
    if (out instanceof Promise || (typeof out === "object" && out !== null && typeof (out as { then?: unknown }).then === "function")) {
      Promise.resolve(out).then(answer, failed);
    } else {
      answer(out);
    }
  });
}
