// supervisor: false (a sandbox inside a sandbox): the policy fields only the seccomp
// supervisor can enforce are refused by name, never run unenforced. What the filter
// refuses instead, and the /proc grants, are decided later (plan/unsupervised.ts).

import { PolicyError } from "../errors.js";
import { quote } from "./quote.js";
import type { NetRule, PolicyFields } from "./types.js";

const OFF = "supervisor: false (--no-supervisor) runs without one";

function refuse(field: string, value: unknown, why: string): PolicyError {
  return new PolicyError(field, value, `${field}: ${quote(value)} needs the seccomp supervisor (${why}); ${OFF}`);
}

/**
 * Landlock alone enforces a rule that allows TCP to any address (its connect port rules)
 * and a UDP or ping rule to any address and any port (nothing to check: the filter only
 * lets such sockets be created). Anything narrower names an address or a UDP port, which
 * only the supervisor can check on each connect and send.
 */
export function enforceableWithoutSupervisor(rule: NetRule): boolean {
  if (rule.target.kind !== "any") return false;
  return rule.protocols.every((p) => p === "tcp" || rule.ports === "any");
}

/** Throws a PolicyError for the first field, in policy order, that needs the supervisor. */
export function checkUnsupervised(p: PolicyFields, input: Record<string, unknown>): void {
  const narrow = p.netAllow.find((r) => !enforceableWithoutSupervisor(r));
  if (narrow !== undefined) {
    const what = narrow.target.kind === "any" ? "a UDP port" : narrow.target.kind === "domain" ? "a domain" : "an address";
    throw refuse("netAllow", narrow.raw, `the rule names ${what}, checked on every connect and send; Landlock alone enforces TCP ports to any address, e.g. "tcp://*:443"`);
  }
  if (p.netDeny.length > 0) throw refuse("netDeny", input.netDeny, "destinations are checked on every connect and send");
  // A listen before any bind takes a port of the kernel's choosing that Landlock's bind
  // rule never sees: without a supervisor, which tells a bound socket from an unbound one,
  // the filter refuses every listen (plan/seccomp-unsupervised.ts), so ports to bind would
  // serve nothing. Every port ("*") allows the kernel's choice too.
  const binds = p.netAllowBind;
  if (binds.length > 0 && !binds.includes("any")) {
    throw refuse("netAllowBind", input.netAllowBind, "a listen before any bind takes a port no bind rule sees, and only the supervisor tells a bound socket from an unbound one");
  }
  if (p.maxMemory !== undefined) throw refuse("maxMemory", input.maxMemory, "memory is charged on every mmap, brk and clone");
  if (p.maxProcessesExplicit) throw refuse("maxProcesses", input.maxProcesses, "processes are counted on every fork and clone");
  if (p.maxEpollWatches !== undefined) throw refuse("maxEpollWatches", input.maxEpollWatches, "watches are counted on every epoll_ctl add");
  if (p.numCpus !== undefined) throw refuse("numCpus", input.numCpus, "sched_getaffinity and /proc/cpuinfo are answered by it");
  if (p.name !== undefined) throw refuse("name", input.name, "the hostname the sandbox sees is answered by it");
  if (p.portRemap) throw refuse("portRemap", input.portRemap, "binds are made by it");
  if (p.randomSeed !== undefined) throw refuse("randomSeed", input.randomSeed, "getrandom and the random devices are answered by it");
  if (p.timeStart !== undefined) throw refuse("timeStart", input.timeStart, "the wall-clock calls are answered by it");
  if (p.policyFn !== undefined) throw refuse("policyFn", "a function", "the calls it decides are held by it");
  if (p.policyFnFiles) throw refuse("policyFnFiles", true, "the opens it decides are held by it");
  if (p.deterministicDirs) throw refuse("deterministicDirs", input.deterministicDirs, "every directory listing is performed and sorted by it");
}
