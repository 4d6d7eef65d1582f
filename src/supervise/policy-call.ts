// Calling policyFn (SPEC 6): sync or async, with a deadline; what it answers becomes a
// verdict, and whatever goes wrong (a throw, a rejection, no verdict in time, an answer
// that is not a verdict) becomes a denial with the reason, which the RunResult reports.

import { SandboxError } from "../errors.js";
import type { PolicyContext, PolicyEvent, PolicyFn, PolicyVerdict } from "../policy/policy-fn.js";

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

/**
 * The operations of SPEC 6's ctx that this version does not carry out. Each throws, so a
 * callback relying on one learns it at once (its call is then denied, with the reason)
 * instead of believing the sandbox narrowed.
 */
export function unbuiltContext(): PolicyContext {
  const missing = (name: string) => (): never => {
    throw new SandboxError(`policyFn: ctx.${name}() is not built yet`);
  };
  return {
    restrictNetwork: missing("restrictNetwork"),
    grantNetwork: missing("grantNetwork"),
    restrictMaxMemory: missing("restrictMaxMemory"),
    restrictMaxProcesses: missing("restrictMaxProcesses"),
    denyPath: missing("denyPath"),
    allowPath: missing("allowPath"),
    restrictPidNetwork: missing("restrictPidNetwork"),
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
