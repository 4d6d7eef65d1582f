// Validation of a whole PolicyInput into PolicyFields: one parser per field (the table
// below is the list of known fields), then the checks that relate fields to each other.

import { PolicyError } from "../errors.js";
import { parseBindSpec } from "./bind-spec.js";
import { parseByteSize } from "./bytes.js";
import { parseRandomSeed, parseTimeStart } from "./determinism.js";
import { checkAbsolutePath, checkArray, checkBoolean, checkPathList, isPlainObject } from "./field-checks.js";
import { checkCowAction, checkDeniedPaths, checkProcView, parseFsMount } from "./filesystem.js";
import { checkName, parseEnv, parseUser } from "./identity.js";
import {
  DEFAULT_MAX_PROCESSES, checkMaxCpu, checkMaxEpollWatches, checkMaxOpenFiles, checkMaxProcesses, checkNumCpus,
  parseCpuCores, parseGpuDevices, parseMaxMemory,
} from "./limits.js";
import { parseNetRule } from "./net-rule.js";
import { STRICT, parseProtection } from "./protection.js";
import { invalid, quote } from "./quote.js";
import { didYouMean } from "./suggest.js";
import { checkUnsupervised } from "./unsupervised.js";
import { parseAllowSyscalls, parseDenySyscalls } from "./syscall-names.js";
import type { PolicyFn } from "./policy-fn.js";
import type { BindSpec, NetRule, PolicyFields, PolicyInput } from "./types.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type FieldParser = (value: unknown) => Partial<PolicyFields>;

/** The defaults of SPEC 2.1: what a field is when the input leaves it out. */
const NONE: readonly never[] = Object.freeze([]);
export const DEFAULTS: PolicyFields = Object.freeze({
  fsReadable: NONE, fsWritable: NONE, fsDenied: NONE,
  extraDenySyscalls: NONE, extraAllowSyscalls: NONE,
  netAllow: NONE, netDeny: NONE, netAllowBind: NONE, netDenyBind: NONE,
  maxMemory: undefined,
  maxProcesses: DEFAULT_MAX_PROCESSES, maxProcessesExplicit: false,
  maxOpenFiles: undefined, maxEpollWatches: undefined, maxCpu: undefined, cpuCores: undefined, numCpus: undefined,
  randomSeed: undefined, timeStart: undefined,
  deterministicDirs: false, noRandomizeMemory: false, noHugePages: false, noCoredump: false,
  name: undefined, workdir: undefined, cwd: undefined, fsStorage: undefined, maxDisk: undefined,
  onExit: "commit", onError: "abort",
  chroot: undefined, fsMount: Object.freeze({}),
  cleanEnv: false, env: Object.freeze({}),
  user: undefined, gpuDevices: undefined, portRemap: false, privateTmp: false, protectedFiles: false, policyFn: undefined, policyFnFiles: false,
  protection: STRICT,
  supervisor: true,
  procView: undefined,
});

function netRules(field: string, value: unknown): readonly NetRule[] {
  return Object.freeze(checkArray(field, value, "rules").map((raw) => parseNetRule(field, raw)));
}

function bindSpecs(field: string, value: unknown): readonly BindSpec[] {
  return Object.freeze(checkArray(field, value, `ports ("lo-hi" ranges or "*")`).map((v) => parseBindSpec(field, v)));
}

/** netDeny is enforced on IP destinations; a hostname there would need resolving to deny. */
function denyRules(field: string, value: unknown): readonly NetRule[] {
  const rules = netRules(field, value);
  for (const rule of rules) {
    if (rule.target.kind === "host") {
      throw invalid(field, rule.raw, "names a host; netDeny takes only IP addresses and CIDRs");
    }
    if (rule.target.kind === "domain") {
      throw invalid(field, rule.raw, "names a domain; netDeny takes only IP addresses and CIDRs");
    }
  }
  return rules;
}

function policyFn(field: string, value: unknown): PolicyFn {
  if (typeof value !== "function") throw invalid(field, value, "is not a function");
  return value as PolicyFn;
}

/** One parser per field of PolicyInput; the mapped type makes a missing field a compile error. */
const PARSERS: { readonly [K in keyof PolicyInput]-?: FieldParser } = {
  fsReadable: (v) => ({ fsReadable: checkPathList("fsReadable", v) }),
  fsWritable: (v) => ({ fsWritable: checkPathList("fsWritable", v) }),
  fsDenied: (v) => ({ fsDenied: checkDeniedPaths("fsDenied", v) }),
  extraDenySyscalls: (v) => ({ extraDenySyscalls: parseDenySyscalls("extraDenySyscalls", v) }),
  extraAllowSyscalls: (v) => ({ extraAllowSyscalls: parseAllowSyscalls("extraAllowSyscalls", v) }),
  netAllow: (v) => ({ netAllow: netRules("netAllow", v) }),
  netDeny: (v) => ({ netDeny: denyRules("netDeny", v) }),
  netAllowBind: (v) => ({ netAllowBind: bindSpecs("netAllowBind", v) }),
  netDenyBind: (v) => ({ netDenyBind: bindSpecs("netDenyBind", v) }),
  maxMemory: (v) => ({ maxMemory: parseMaxMemory("maxMemory", v) }),
  maxProcesses: (v) => ({ maxProcesses: checkMaxProcesses("maxProcesses", v), maxProcessesExplicit: true }),
  maxOpenFiles: (v) => ({ maxOpenFiles: checkMaxOpenFiles("maxOpenFiles", v) }),
  maxEpollWatches: (v) => ({ maxEpollWatches: checkMaxEpollWatches("maxEpollWatches", v) }),
  maxCpu: (v) => ({ maxCpu: checkMaxCpu("maxCpu", v) }),
  cpuCores: (v) => ({ cpuCores: parseCpuCores("cpuCores", v) }),
  numCpus: (v) => ({ numCpus: checkNumCpus("numCpus", v) }),
  randomSeed: (v) => ({ randomSeed: parseRandomSeed("randomSeed", v) }),
  timeStart: (v) => ({ timeStart: parseTimeStart("timeStart", v) }),
  deterministicDirs: (v) => ({ deterministicDirs: checkBoolean("deterministicDirs", v) }),
  noRandomizeMemory: (v) => ({ noRandomizeMemory: checkBoolean("noRandomizeMemory", v) }),
  noHugePages: (v) => ({ noHugePages: checkBoolean("noHugePages", v) }),
  noCoredump: (v) => ({ noCoredump: checkBoolean("noCoredump", v) }),
  name: (v) => ({ name: checkName("name", v) }),
  workdir: (v) => ({ workdir: checkAbsolutePath("workdir", v) }),
  cwd: (v) => ({ cwd: checkAbsolutePath("cwd", v) }),
  fsStorage: (v) => ({ fsStorage: checkAbsolutePath("fsStorage", v) }),
  maxDisk: (v) => ({ maxDisk: checkMaxDisk(v) }),
  onExit: (v) => ({ onExit: checkCowAction("onExit", v) }),
  onError: (v) => ({ onError: checkCowAction("onError", v) }),
  chroot: (v) => ({ chroot: checkAbsolutePath("chroot", v) }),
  fsMount: (v) => ({ fsMount: parseFsMount("fsMount", v) }),
  cleanEnv: (v) => ({ cleanEnv: checkBoolean("cleanEnv", v) }),
  env: (v) => ({ env: parseEnv("env", v) }),
  user: (v) => ({ user: parseUser("user", v) }),
  gpuDevices: (v) => ({ gpuDevices: parseGpuDevices("gpuDevices", v) }),
  portRemap: (v) => ({ portRemap: checkBoolean("portRemap", v) }),
  privateTmp: (v) => ({ privateTmp: checkBoolean("privateTmp", v) }),
  protectedFiles: (v) => ({ protectedFiles: checkBoolean("protectedFiles", v) }),
  policyFn: (v) => ({ policyFn: policyFn("policyFn", v) }),
  policyFnFiles: (v) => ({ policyFnFiles: checkBoolean("policyFnFiles", v) }),
  protection: (v) => ({ protection: parseProtection("protection", v) }),
  supervisor: (v) => ({ supervisor: checkBoolean("supervisor", v) }),
  procView: (v) => ({ procView: checkProcView("procView", v) }),
};

/** The stage's quota: a tmpfs of that size (cow.c); one page is the least it can hold. */
function checkMaxDisk(v: unknown): bigint {
  const bytes = parseByteSize("maxDisk", v);
  if (bytes < 4096n) throw invalid("maxDisk", v, "is below 4K, the least the stage can hold (one page); leave maxDisk out for no quota");
  return bytes;
}

/** The names of every policy field, in the order of SPEC 2.1. */
export const POLICY_FIELDS: readonly (keyof PolicyInput)[] = Object.freeze(
  Object.keys(PARSERS) as (keyof PolicyInput)[],
);

/** Fields that only mean something with a copy-on-write workdir (SPEC 5). */
const WORKDIR_ONLY = ["fsStorage", "maxDisk", "onExit", "onError"] as const;

/**
 * Validate a plain-object policy. Fields left out or set to undefined take their default.
 * Checks run in a fixed order: unknown fields, then each field in table order, then the
 * relations between fields, so a given input always reports the same first error.
 */
export function validatePolicy(input: unknown): PolicyFields {
  if (!isPlainObject(input)) {
    throw new PolicyError("policy", input, `policy: ${quote(input)} is not an object of policy fields`);
  }
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(PARSERS, key)) {
      throw new PolicyError(key, input[key], `unknown policy field ${JSON.stringify(key)}${didYouMean(key, POLICY_FIELDS)}`);
    }
  }
  const out: Mutable<PolicyFields> = { ...DEFAULTS };
  for (const field of POLICY_FIELDS) {
    const value = input[field];
    if (value !== undefined) Object.assign(out, PARSERS[field](value));
  }
  checkRelations(out, input);
  return Object.freeze(out);
}

function checkRelations(p: PolicyFields, input: Record<string, unknown>): void {
  if (p.netAllow.length > 0 && p.netDeny.length > 0) {
    throw invalid("netDeny", input.netDeny, "cannot be combined with netAllow (choose an allowlist or a denylist)");
  }
  if (p.netAllowBind.length > 0 && p.netDenyBind.length > 0) {
    throw invalid("netDenyBind", input.netDenyBind, "cannot be combined with netAllowBind (choose an allowlist or a denylist)");
  }
  for (const group of p.extraAllowSyscalls) {
    if (p.extraDenySyscalls.includes(group)) {
      throw invalid("extraAllowSyscalls", group, "is also in extraDenySyscalls");
    }
  }
  if (p.workdir === undefined) {
    for (const field of WORKDIR_ONLY) {
      if (input[field] !== undefined) throw invalid(field, input[field], "requires workdir");
    }
  }
  if (p.chroot === undefined && Object.keys(p.fsMount).length > 0) {
    throw invalid("fsMount", input.fsMount, "requires chroot (it maps directories into the chroot)");
  }
  if (p.policyFnFiles && p.policyFn === undefined) throw invalid("policyFnFiles", true, "requires policyFn (the callback that decides the opens)");
  if (!p.supervisor) checkUnsupervised(p, input);
}
