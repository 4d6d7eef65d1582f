// Fields that validate but whose enforcement is not built yet. A policy using one is
// refused with PolicyUnsupportedError rather than run with the field silently ignored.

import { PolicyUnsupportedError } from "../errors.js";
import type { NetRule, PolicyFields } from "./types.js";

/** A field in use that cannot be enforced yet: the value to report and what is missing. */
export interface Gap {
  readonly value: unknown;
  readonly why: string;
}

export interface NotYetEnforced {
  readonly field: keyof PolicyFields;
  /** The gap when the policy uses the field in a way not enforced yet, else undefined. */
  readonly find: (p: PolicyFields) => Gap | undefined;
}

const SUPERVISOR = "needs the seccomp supervisor";
const COW = "needs the copy-on-write workdir";

/** Unsupported when set to anything but its default (undefined, false, empty). */
function whenSet(field: keyof PolicyFields, why: string): NotYetEnforced {
  return {
    field,
    find: (p) => {
      const value = p[field];
      const unset =
        value === undefined || value === false ||
        (Array.isArray(value) && value.length === 0) ||
        (typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date) && Object.keys(value).length === 0);
      return unset ? undefined : { value, why };
    },
  };
}

/**
 * The table: one entry per field, checked in this order. When a feature lands, delete its
 * entry (and add the enforcement tests). onExit/onError only differ from their defaults
 * with a workdir, which is itself listed, so they are checked by value.
 */
export const NOT_YET_ENFORCED: readonly NotYetEnforced[] = [
  whenSet("fsDenied", `${SUPERVISOR} (path checks on open; Landlock cannot deny inside a granted tree)`),
  whenSet("numCpus", `${SUPERVISOR} (/proc/cpuinfo and sched_getaffinity virtualisation)`),
  whenSet("randomSeed", `${SUPERVISOR} (getrandom and /dev/urandom)`),
  whenSet("timeStart", `${SUPERVISOR} (clock virtualisation)`),
  whenSet("deterministicDirs", `${SUPERVISOR} (sorted getdents)`),
  whenSet("name", `${SUPERVISOR} (uname and /etc/hostname)`),
  whenSet("workdir", COW),
  whenSet("fsStorage", COW),
  whenSet("maxDisk", COW),
  { field: "onExit", find: (p) => (p.onExit !== "commit" ? { value: p.onExit, why: COW } : undefined) },
  { field: "onError", find: (p) => (p.onError !== "abort" ? { value: p.onError, why: COW } : undefined) },
  whenSet("chroot", `${SUPERVISOR} (path virtualisation)`),
  whenSet("fsMount", `${SUPERVISOR} (path virtualisation under chroot)`),
  whenSet("user", "needs user namespace id mapping"),
  whenSet("gpuDevices", "needs GPU device rules"),
  whenSet("portRemap", `${SUPERVISOR} (bind virtualisation)`),
  whenSet("policyFn", `${SUPERVISOR} (dynamic policy)`),
  { field: "netAllow", find: (p) => firstRuleGap(p.netAllow) },
  whenSet("netDeny", `${SUPERVISOR} (destination checks on connect and sendto)`),
  whenSet("netDenyBind", `${SUPERVISOR} (Landlock can only allow bind ports, not deny them)`),
];

/**
 * Landlock (ABI 4) enforces TCP connect ports for any destination address, so only a
 * rule that is TCP-only and to every address is enforced now. Anything naming a host,
 * an IP or a CIDR, or allowing UDP or ICMP, needs the supervisor.
 */
const TARGET_NAME = { any: "", host: "a host target", ip: "an IP target", cidr: "a CIDR target" } as const;

function firstRuleGap(rules: readonly NetRule[]): Gap | undefined {
  for (const rule of rules) {
    const missing: string[] = [];
    if (rule.target.kind !== "any") missing.push(TARGET_NAME[rule.target.kind]);
    if (rule.protocols.includes("udp")) missing.push("UDP");
    if (rule.protocols.includes("icmp")) missing.push("ICMP");
    if (missing.length === 0) continue;
    const verb = missing.length === 1 ? "needs" : "need";
    let why = `rule ${JSON.stringify(rule.raw)}: ${missing.join(" and ")} ${verb} the seccomp supervisor; only TCP to any address (tcp://:PORT) is enforced now`;
    if (rule.target.kind === "any" && !rule.raw.includes("://")) {
      why += `; for TCP only write ${JSON.stringify(`tcp://${rule.raw}`)}`;
    }
    return { value: rule.raw, why };
  }
  return undefined;
}

/** Throw PolicyUnsupportedError for the first field (in table order) not enforced yet. */
export function assertSupported(policy: PolicyFields): void {
  for (const entry of NOT_YET_ENFORCED) {
    const gap = entry.find(policy);
    if (gap !== undefined) throw new PolicyUnsupportedError(entry.field, gap.value, gap.why);
  }
}
