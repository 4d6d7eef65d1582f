// Plans for policies seen before. Features are a function of the policy and of host facts;
// an entry keeps the facts it read and is reused only while every one reads the same and
// the mount table has not changed. The encoded steps before exec are kept per directory.

import { kernelViewRequested } from "./kernel-view.js";
import type { Policy } from "../policy/policy.js";
import { mountsGeneration } from "../kernel/mounts.js";
import { computeFeatures, type Features, type HostFacts } from "./features.js";
import { recordReads, unchanged, type HostRead } from "./host-reads.js";
import type { ResolvedHosts } from "./net-rules.js";
import { encodeBlob, encodeSteps, execStep, makePlan, type CommandSpec, type Plan, type PlanStep } from "./plan.js";
import { Step } from "./protocol.js";
import { withLstatMemo } from "./grant-path.js";

/** Policies kept per host facts (a program starts sandboxes from a few policies). */
const KEPT = 32;
/** Working directories kept per entry. */
const PREFIXES_KEPT = 8;

interface Prefix {
  steps: readonly PlanStep[];
  encoded: Buffer;
  landlock: Plan["landlock"];
  seccompInsns: number;
}

interface Entry {
  features: Features;
  reads: readonly HostRead[];
  mounts: number;
  prefixes: Map<string, Prefix>;
}

/** What the cache did, for tests and benchmarks. */
export const planCacheStats = { hits: 0, misses: 0 };

/** Per HostFacts object: the real one is one object for the process's life; a test's
 * override is a new object per probe, so it never meets another's entries. */
const entries = new WeakMap<HostFacts, Map<string, Entry>>();
/** The entry each Features came from (for its prefixes). */
const owners = new WeakMap<Features, Entry>();

/** Serialised policies by object, for those frozen through and through (a Policy built
 * by the library is): nothing can change them, so the key is computed once. */
const keys = new WeakMap<Policy, string>();

function frozenThrough(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return true;
  if (!Object.isFrozen(v)) return false;
  return Object.values(v).every(frozenThrough);
}

function keyOf(policy: Policy, resolved: ResolvedHosts | undefined): string {
  // toJSON is the policy's whole serialised form (Policy.fromJSON rebuilds it from it);
  // policyFn has none: whether one is set is added to the key.
  let p = keys.get(policy);
  if (p === undefined) {
    p = JSON.stringify(policy.toJSON());
    if (frozenThrough(policy)) keys.set(policy, p);
  }
  // Whether a policyFn is set changes the features (execs are traced), not which one; the
  // kernel view's switch too (read at each start: the bench and tests toggle it in-process).
  const fn = `${policy.policyFn === undefined ? p : `${p}\npolicyFn`}${kernelViewRequested(policy) ? "\nkernel view" : ""}`;
  return resolved === undefined || resolved.size === 0 ? fn : `${fn}\n${JSON.stringify([...resolved])}`;
}

/** Frozen, so that no user of a shared entry can change what the next sandbox gets. */
function freeze<T>(v: T): T {
  if (typeof v !== "object" || v === null || Object.isFrozen(v) || ArrayBuffer.isView(v)) return v;
  if (v instanceof Set || v instanceof Map) return v;
  for (const x of Object.values(v)) freeze(x);
  return Object.freeze(v);
}

/**
 * computeFeatures(policy, host, resolved), from the cache when the same policy was planned
 * on this host before and nothing it read has changed: each real path, stat and listing is
 * made again and compared (a few microseconds each), and the mount table's generation
 * (kernel/mounts.ts) must be the same. Errors are never cached: a bad policy throws each time.
 */
export function cachedFeatures(policy: Policy, host: HostFacts, resolved?: ResolvedHosts): Features {
  const key = keyOf(policy, resolved);
  const mounts = mountsGeneration();
  let perHost = entries.get(host);
  if (perHost === undefined) entries.set(host, (perHost = new Map()));
  const hit = perHost.get(key);
  if (hit !== undefined) {
    perHost.delete(key);
    if (hit.mounts === mounts && withLstatMemo(() => unchanged(hit.reads))) {
      perHost.set(key, hit); // most recently used last
      planCacheStats.hits++;
      return hit.features;
    }
  }
  planCacheStats.misses++;
  const { value, reads } = recordReads(() => withLstatMemo(() => computeFeatures(policy, host, resolved)));
  const features = freeze(value);
  const entry: Entry = { features, reads, mounts, prefixes: new Map() };
  if (perHost.size >= KEPT) perHost.delete(perHost.keys().next().value!);
  perHost.set(key, entry);
  owners.set(features, entry);
  return features;
}

/**
 * makePlan(features, cmd) and its encoding. For features from cachedFeatures, every step
 * but exec is made and encoded once per working directory and process-group choice;
 * otherwise the plan is made whole.
 */
export function planFor(features: Features, cmd: CommandSpec): { plan: Plan; blob: Buffer } {
  const entry = owners.get(features);
  const exec = execStep(cmd, features);
  // A copy-on-write run's plan names its own stage: made whole, never shared.
  if (entry === undefined || cmd.cowStage !== undefined) {
    const plan = withLstatMemo(() => makePlan(features, cmd, exec));
    return { plan, blob: encodeBlob(encodeSteps(plan.steps), plan.steps.length) };
  }
  const pkey = `${cmd.ownProcessGroup ? 1 : 0}${cmd.cwd}`;
  let prefix = entry.prefixes.get(pkey);
  if (prefix === undefined) {
    const { restoreAt: _restore, ...plain } = cmd; // the prefix is shared with plain runs
    const whole = withLstatMemo(() => makePlan(features, plain, cmd.restoreAt === undefined ? exec : undefined));
    const last = whole.steps[whole.steps.length - 1];
    if (last?.op !== Step.EXEC) throw new Error("plan: exec is not the last step");
    const steps = Object.freeze(whole.steps.slice(0, -1));
    prefix = { steps, encoded: encodeSteps(steps), landlock: whole.landlock, seccompInsns: whole.seccompInsns };
    if (entry.prefixes.size >= PREFIXES_KEPT) entry.prefixes.delete(entry.prefixes.keys().next().value!);
    entry.prefixes.set(pkey, prefix);
  }
  const steps = [...prefix.steps, exec];
  return {
    plan: { steps, landlock: prefix.landlock, seccompInsns: prefix.seccompInsns },
    blob: encodeBlob([prefix.encoded, encodeSteps([exec])], steps.length),
  };
}
