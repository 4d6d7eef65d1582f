// The shapes of a policy: what users write (PolicyInput), what validation produces
// (PolicyFields), and the small value types the later stages read (NetRule, BindSpec...).

import type { PolicyFn } from "./policy-fn.js";

export type Protocol = "tcp" | "udp" | "icmp";

export type NetTarget =
  | { kind: "any" }
  | { kind: "host"; host: string }
  | { kind: "ip"; address: string; family: 4 | 6 }
  | { kind: "cidr"; address: string; prefix: number; family: 4 | 6 };

/** One parsed rule of netAllow / netDeny (SPEC 2.1.1). icmp rules have ports "any". */
export interface NetRule {
  /** The rule exactly as the user wrote it; also its serialised form. */
  readonly raw: string;
  readonly protocols: readonly Protocol[];
  readonly target: NetTarget;
  /** Sorted ascending, without duplicates, or "any" for every port. */
  readonly ports: readonly number[] | "any";
}

/** One entry of netAllowBind / netDenyBind: an inclusive TCP port range, or every port. */
export type BindSpec = { lo: number; hi: number } | "any";

/** The protections of SPEC section 7, in the order of its table. */
export const PROTECTIONS = ["fs", "fs-refer", "fs-truncate", "net-tcp", "ioctl-dev", "scopes"] as const;
export type Protection = (typeof PROTECTIONS)[number];

/** The Landlock ABI each protection needs. */
export const PROTECTION_ABI: Readonly<Record<Protection, number>> = Object.freeze({
  "fs": 1,
  "fs-refer": 2,
  "fs-truncate": 3,
  "net-tcp": 4,
  "ioctl-dev": 5,
  "scopes": 6,
});

export const PROTECTION_LABEL: Readonly<Record<Protection, string>> = Object.freeze({
  "fs": "filesystem access rules",
  "fs-refer": "cross-directory link and rename (refer)",
  "fs-truncate": "file truncation",
  "net-tcp": "TCP bind and connect ports",
  "ioctl-dev": "ioctl on device files",
  "scopes": "abstract unix socket and signal scopes",
});

/** What happens to the copy-on-write workdir's changes when the command ends. */
export type CowAction = "commit" | "abort" | "keep";

/** A byte size: a non-negative integer, or a string like "512M" (binary K/M/G/T). */
export type ByteSize = number | bigint | string;

/** A bind port: 8080, "8000-8100", or "*" for every port. */
export type BindInput = number | string;

export interface ProtectionInput {
  allowDegraded?: readonly Protection[];
  disable?: readonly Protection[];
}

/** The plain-object form users write (SPEC 2.1). Every field is optional. */
export interface PolicyInput {
  fsReadable?: readonly string[];
  fsWritable?: readonly string[];
  fsDenied?: readonly string[];
  extraDenySyscalls?: readonly string[];
  extraAllowSyscalls?: readonly string[];
  netAllow?: readonly string[];
  netDeny?: readonly string[];
  netAllowBind?: readonly BindInput[];
  netDenyBind?: readonly BindInput[];
  maxMemory?: ByteSize;
  maxProcesses?: number;
  maxOpenFiles?: number;
  maxCpu?: number;
  cpuCores?: readonly number[];
  numCpus?: number;
  randomSeed?: number | bigint | string;
  timeStart?: Date | string;
  deterministicDirs?: boolean;
  noRandomizeMemory?: boolean;
  noHugePages?: boolean;
  noCoredump?: boolean;
  name?: string;
  workdir?: string;
  cwd?: string;
  fsStorage?: string;
  maxDisk?: ByteSize;
  onExit?: CowAction;
  onError?: CowAction;
  chroot?: string;
  fsMount?: Readonly<Record<string, string>>;
  cleanEnv?: boolean;
  env?: Readonly<Record<string, string>>;
  user?: { readonly uid: number; readonly gid: number };
  gpuDevices?: readonly number[] | "all";
  portRemap?: boolean;
  /** A private writable directory made for each run and removed after it; TMPDIR and HOME point into it. */
  privateTmp?: boolean;
  policyFn?: PolicyFn;
  protection?: ProtectionInput;
  /** false: Landlock and the seccomp filter only, no user-notification listener (a
   * sandbox inside a sandbox); fields that need the supervisor are refused. */
  supervisor?: boolean;
}

/** The JSON form of a policy (Policy.toJSON): PolicyInput without policyFn, JSON types only. */
export interface PolicyJSON {
  fsReadable?: string[];
  fsWritable?: string[];
  fsDenied?: string[];
  extraDenySyscalls?: string[];
  extraAllowSyscalls?: string[];
  netAllow?: string[];
  netDeny?: string[];
  netAllowBind?: BindInput[];
  netDenyBind?: BindInput[];
  /** Decimal string of bytes. */
  maxMemory?: string;
  maxProcesses?: number;
  maxOpenFiles?: number;
  maxCpu?: number;
  cpuCores?: number[];
  numCpus?: number;
  /** Decimal string (the seed may exceed 2^53). */
  randomSeed?: string;
  /** ISO 8601 / RFC 3339 string in UTC. */
  timeStart?: string;
  deterministicDirs?: boolean;
  noRandomizeMemory?: boolean;
  noHugePages?: boolean;
  noCoredump?: boolean;
  name?: string;
  workdir?: string;
  cwd?: string;
  fsStorage?: string;
  maxDisk?: string;
  onExit?: CowAction;
  onError?: CowAction;
  chroot?: string;
  fsMount?: Record<string, string>;
  cleanEnv?: boolean;
  env?: Record<string, string>;
  user?: { uid: number; gid: number };
  gpuDevices?: number[] | "all";
  portRemap?: boolean;
  privateTmp?: boolean;
  protection?: { allowDegraded?: Protection[]; disable?: Protection[] };
  /** Written only when false. */
  supervisor?: boolean;
}

/** The validated, normalised policy: one read-only property per field of SPEC 2.1. */
export interface PolicyFields {
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
  /** Peak concurrent processes; 64 unless given. */
  readonly maxProcesses: number;
  /** Whether maxProcesses was given by the user rather than defaulted. */
  readonly maxProcessesExplicit: boolean;
  readonly maxOpenFiles: number | undefined;
  readonly maxCpu: number | undefined;
  readonly cpuCores: readonly number[] | undefined;
  readonly numCpus: number | undefined;
  readonly randomSeed: bigint | undefined;
  readonly timeStart: Date | undefined;
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
  readonly privateTmp: boolean;
  readonly policyFn: PolicyFn | undefined;
  readonly protection: Readonly<{ allowDegraded: readonly Protection[]; disable: readonly Protection[] }>;
  /** Whether a seccomp supervisor runs (true unless the input says false). */
  readonly supervisor: boolean;
}
