// The Policy: an immutable, validated description of what a sandbox may do (SPEC 2.1).
// Built from a plain object, JSON or the fluent builder; every path runs the same checks.

import { PolicyBuilder } from "./builder.js";
import type { PolicyFn } from "./policy-fn.js";
import type { ProtectionChoice } from "./protection.js";
import { invalid } from "./quote.js";
import { policyToJSON } from "./serialize.js";
import { assertSupported } from "./support.js";
import type { BindSpec, CowAction, NetRule, PolicyFields, PolicyInput, PolicyJSON } from "./types.js";
import { validatePolicy } from "./validate.js";

export class Policy implements PolicyFields {
  readonly fsReadable: readonly string[];
  readonly fsWritable: readonly string[];
  readonly fsDenied: readonly string[];
  readonly extraDenySyscalls: readonly string[];
  readonly extraAllowSyscalls: readonly string[];
  readonly netAllow: readonly NetRule[];
  readonly netDeny: readonly NetRule[];
  readonly netAllowBind: readonly BindSpec[];
  readonly netDenyBind: readonly BindSpec[];
  readonly maxMemory: bigint | undefined;
  readonly maxProcesses: number;
  readonly maxProcessesExplicit: boolean;
  readonly maxOpenFiles: number | undefined;
  readonly maxCpu: number | undefined;
  readonly cpuCores: readonly number[] | undefined;
  readonly numCpus: number | undefined;
  readonly randomSeed: bigint | undefined;
  readonly deterministicDirs: boolean;
  readonly noRandomizeMemory: boolean;
  readonly noHugePages: boolean;
  readonly noCoredump: boolean;
  readonly name: string | undefined;
  readonly workdir: string | undefined;
  readonly cwd: string | undefined;
  readonly fsStorage: string | undefined;
  readonly maxDisk: bigint | undefined;
  readonly onExit: CowAction;
  readonly onError: CowAction;
  readonly chroot: string | undefined;
  readonly fsMount: Readonly<Record<string, string>>;
  readonly cleanEnv: boolean;
  readonly env: Readonly<Record<string, string>>;
  readonly user: Readonly<{ uid: number; gid: number }> | undefined;
  readonly gpuDevices: readonly number[] | "all" | undefined;
  readonly portRemap: boolean;
  readonly policyFn: PolicyFn | undefined;
  readonly protection: ProtectionChoice;
  /** A Date is mutable even when frozen, so the policy keeps the instant and hands out copies. */
  readonly #timeStartMs: number | undefined;

  /**
   * Validate `input` (PolicyError on the first problem) and refuse fields whose
   * enforcement is not built yet (PolicyUnsupportedError). Passing a Policy copies it.
   */
  constructor(input: PolicyInput | Policy = {}) {
    const f: PolicyFields = input instanceof Policy ? input : validatePolicy(input);
    assertSupported(f);
    this.fsReadable = f.fsReadable;
    this.fsWritable = f.fsWritable;
    this.fsDenied = f.fsDenied;
    this.extraDenySyscalls = f.extraDenySyscalls;
    this.extraAllowSyscalls = f.extraAllowSyscalls;
    this.netAllow = f.netAllow;
    this.netDeny = f.netDeny;
    this.netAllowBind = f.netAllowBind;
    this.netDenyBind = f.netDenyBind;
    this.maxMemory = f.maxMemory;
    this.maxProcesses = f.maxProcesses;
    this.maxProcessesExplicit = f.maxProcessesExplicit;
    this.maxOpenFiles = f.maxOpenFiles;
    this.maxCpu = f.maxCpu;
    this.cpuCores = f.cpuCores;
    this.numCpus = f.numCpus;
    this.randomSeed = f.randomSeed;
    this.#timeStartMs = f.timeStart?.getTime();
    this.deterministicDirs = f.deterministicDirs;
    this.noRandomizeMemory = f.noRandomizeMemory;
    this.noHugePages = f.noHugePages;
    this.noCoredump = f.noCoredump;
    this.name = f.name;
    this.workdir = f.workdir;
    this.cwd = f.cwd;
    this.fsStorage = f.fsStorage;
    this.maxDisk = f.maxDisk;
    this.onExit = f.onExit;
    this.onError = f.onError;
    this.chroot = f.chroot;
    this.fsMount = f.fsMount;
    this.cleanEnv = f.cleanEnv;
    this.env = f.env;
    this.user = f.user;
    this.gpuDevices = f.gpuDevices;
    this.portRemap = f.portRemap;
    this.policyFn = f.policyFn;
    this.protection = f.protection;
    Object.freeze(this);
  }

  /** Where the sandbox's wall clock starts; a fresh Date on every read. */
  get timeStart(): Date | undefined {
    return this.#timeStartMs === undefined ? undefined : new Date(this.#timeStartMs);
  }

  /** A Policy from a plain object; an existing Policy is returned as is. */
  static from(input: PolicyInput | Policy): Policy {
    return input instanceof Policy ? input : new Policy(input);
  }

  /** Rebuild a policy from toJSON's output, as a JSON string or an already parsed object. */
  static fromJSON(json: string | object): Policy {
    let parsed: unknown = json;
    if (typeof json === "string") {
      try {
        parsed = JSON.parse(json);
      } catch (e) {
        throw invalid("json", json, `is not valid JSON (${(e as Error).message})`);
      }
    }
    return new Policy(parsed as PolicyInput);
  }

  static builder(): PolicyBuilder {
    return new PolicyBuilder();
  }

  /** The input form with JSON types, defaults left out; policyFn is not serialised. */
  toJSON(): PolicyJSON {
    return policyToJSON(this);
  }

  /**
   * A new policy with `overrides` replacing whole fields (lists are replaced, not
   * appended); an override of undefined resets that field to its default.
   */
  with(overrides: PolicyInput): Policy {
    const base: PolicyInput = { ...this.toJSON(), ...(this.policyFn ? { policyFn: this.policyFn } : {}) };
    return new Policy({ ...base, ...overrides });
  }
}
