// The features of a run with privateTmp. Its directory is new at every run, and a policy
// that grants a path no plan has seen is planned afresh (2-3 ms), so every such run paid a
// whole plan, and each pushed another policy out of the plan cache. Instead the policy is
// planned (and cached) granting the process's planning template, a directory made as the
// private ones are and never given to a sandbox (confine/private-tmp.ts planTemplate), and
// each run gets those features with its own directory's path in the template's place.
//
// Why the result is the plan of the run's own directory: features hold a grant's path as
// given (the launcher opens it at the start), and the reads a plan rests on beneath a fresh
// private directory (a listing, a .git, a config) give the same answers for the template,
// made the same way in the same parent. What would break that falls back to planning the
// run's directory: another policy path naming such a directory (the order of grants could
// differ; a workdir or a chroot, whose grants come from paths of their own), a template that is gone or no longer the one this process made, a run directory
// whose real path is not its parent's real path and its name, a value the substitution
// cannot see into. The unit test plans both ways for several policies and compares.

import { realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { planTemplate } from "../confine/private-tmp.js";
import type { Policy } from "../policy/policy.js";
import { cachedFeatures } from "./cache.js";
import type { Features, HostFacts } from "./features.js";
import type { ResolvedHosts } from "./net-rules.js";

/** How runs with privateTmp were planned, for tests and benchmarks. */
export const privateTmpPlanStats = { templated: 0, direct: 0 };

const UNSEEN = Symbol("unseen");

/** Runs with privateTmp planned in this process. */
let runs = 0;

/** `v` with every occurrence of from[i] in its strings replaced by to[i]; UNSEEN when it
 * holds something the replacement cannot see into (a function, an instance of a class,
 * bytes holding the template's path). */
function replaced(v: unknown, from: readonly string[], to: readonly string[]): unknown {
  if (typeof v === "string") {
    let s = v;
    for (let i = 0; i < from.length; i++) if (s.includes(from[i]!)) s = s.replaceAll(from[i]!, to[i]!);
    return s;
  }
  if (typeof v !== "object" || v === null) return typeof v === "function" ? UNSEEN : v;
  const each = (xs: Iterable<unknown>): unknown[] | typeof UNSEEN => {
    const out: unknown[] = [];
    for (const x of xs) {
      const r = replaced(x, from, to);
      if (r === UNSEEN) return UNSEEN;
      out.push(r);
    }
    return out;
  };
  if (Array.isArray(v)) return each(v);
  // bytes (an address's): shared as they are, unless they hold the template's path
  if (ArrayBuffer.isView(v)) return from.some((f) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).includes(f)) ? UNSEEN : v;
  if (v instanceof Set) {
    const items = each(v);
    return items === UNSEEN ? UNSEEN : new Set(items);
  }
  if (v instanceof Map) {
    const pairs = each([...v].map(([k, x]) => [k, x]));
    return pairs === UNSEEN ? UNSEEN : new Map(pairs as [unknown, unknown][]);
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return UNSEEN;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const r = replaced(x, from, to);
    if (r === UNSEEN) return UNSEEN;
    out[k] = r;
  }
  return out;
}

/**
 * The features of `base` with the private directory `dir` granted writable (what
 * cachedFeatures(base.with({ fsWritable: [...base.fsWritable, dir] }), ...) gives), from
 * the plan of the template when it can be used.
 */
export function privateTmpFeatures(base: Policy, dir: string, host: HostFacts, resolved?: ResolvedHosts): Features {
  const direct = (): Features => {
    privateTmpPlanStats.direct++;
    return cachedFeatures(base.with({ fsWritable: [...base.fsWritable, dir] }), host, resolved);
  };
  // The first such run of a process plans its own directory: a process that runs one
  // (the CLI) would otherwise make and remove a template for nothing (about 0.5 ms).
  if (++runs === 1) return direct();
  const template = planTemplate();
  // (a workdir's or a chroot's grants are planned from paths of their own: not templated)
  const named = (paths: readonly string[]): boolean => paths.some((p) => p.includes("sandlock-tmp-"));
  if (template === undefined || dirname(template) !== dirname(dir) || base.workdir !== undefined || base.chroot !== undefined || named(base.fsReadable) || named(base.fsWritable) || named(base.fsDenied)) return direct();
  let features: Features;
  let from: string[], to: string[];
  try {
    features = cachedFeatures(base.with({ fsWritable: [...base.fsWritable, template] }), host, resolved);
    const parent = realpathSync(dirname(dir));
    if (realpathSync(dir) !== join(parent, basename(dir)) || realpathSync(template) !== join(parent, basename(template))) return direct();
    from = [template];
    to = [dir];
    if (parent !== dirname(dir)) {
      from.push(join(parent, basename(template)));
      to.push(join(parent, basename(dir)));
    }
  } catch {
    return direct(); // a bad policy says so, naming the run's own directory
  }
  if (!features.grants.some((g) => g.path === template && g.writable)) return direct();
  const out = replaced(features, from, to);
  if (out === UNSEEN) return direct();
  privateTmpPlanStats.templated++;
  return out as Features;
}
