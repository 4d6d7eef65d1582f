// The shape of the dynamic policy callback (SPEC section 6). The policy only stores the
// function; the supervisor calls it. Types live here so both sides agree on them.

import type { Protocol } from "./types.js";

export type PolicyEventCategory = "file" | "network" | "process" | "memory";

/** A syscall of interest, as shown to policyFn. */
export interface PolicyEvent {
  readonly syscall: string;
  readonly category: PolicyEventCategory;
  readonly pid: number;
  readonly parentPid: number;
  readonly path?: string;
  readonly host?: string;
  readonly port?: number;
  readonly protocol?: Protocol;
  /** The argv that will execute (execve only). */
  readonly argv?: readonly string[];
  /** Whether the static policy already denies this call. */
  readonly denied: boolean;
}

/** "allow"; "deny" (EPERM); a specific errno; or "audit" (allow and record). */
export type PolicyVerdict = "allow" | "deny" | "audit" | { readonly errno: number };

/** What policyFn may change while the sandbox runs; it can only narrow the static policy. */
export interface PolicyContext {
  restrictNetwork(ips: readonly string[]): void;
  grantNetwork(ips: readonly string[]): void;
  restrictMaxMemory(bytes: number | bigint): void;
  restrictMaxProcesses(n: number): void;
  denyPath(path: string): void;
  allowPath(path: string): void;
  restrictPidNetwork(pid: number, ips: readonly string[]): void;
}

export type PolicyFn = (
  event: PolicyEvent,
  ctx: PolicyContext,
) => PolicyVerdict | Promise<PolicyVerdict>;
