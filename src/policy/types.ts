// The shapes of a policy: what users write (PolicyInput), what validation produces
// (PolicyFields), and the small value types the later stages read (NetRule, BindSpec...).

import type { PolicyFn } from "./policy-fn.js";

/** The protocol of a network rule (`tcp://`, `udp://`, `icmp://`). */
export type Protocol = "tcp" | "udp" | "icmp";

/** What a network rule names: any address, a host name, an IP address, a CIDR block, or a
 * domain enforced by the filtering proxy (docs/agents.md, "Domain rules"). */
export type NetTarget = AnyTarget | HostTarget | IpTarget | CidrTarget | DomainTarget;

/**
 * A domain rule (`https://*.github.com`, `http://mirror.example.com:8080`,
 * `*.example.com:443`): never resolved at start; TCP to its ports is steered through the
 * supervisor's filtering proxy, which checks the TLS SNI or HTTP Host against it.
 */
export interface DomainTarget {
  /** "domain" */
  kind: "domain";
  /** The name without its wildcard label, lower-cased ("github.com"). */
  domain: string;
  /** Written as "*.domain": every name below the domain (any depth), not the domain itself. */
  wildcard: boolean;
  /** "https": TLS only (SNI checked); "http": plain HTTP only (Host checked); "any": either. */
  scheme: "https" | "http" | "any";
}

/** Every address (`*`, or a rule with only ports). */
export interface AnyTarget {
  /** "any" */
  kind: "any";
}

/** A host name, resolved when the sandbox starts. */
export interface HostTarget {
  /** "host" */
  kind: "host";
  /** The name as written. */
  host: string;
}

/** One IP address. */
export interface IpTarget {
  /** "ip" */
  kind: "ip";
  /** The address in text form. */
  address: string;
  /** 4 or 6. */
  family: 4 | 6;
}

/** An address block. */
export interface CidrTarget {
  /** "cidr" */
  kind: "cidr";
  /** The network address in text form. */
  address: string;
  /** The prefix length in bits. */
  prefix: number;
  /** 4 or 6. */
  family: 4 | 6;
}

/** One parsed rule of netAllow / netDeny (SPEC 2.1.1). icmp rules have ports "any". */
export interface NetRule {
  /** The rule exactly as the user wrote it; also its serialised form. */
  readonly raw: string;
  /** The protocols the rule covers (tcp unless the rule names a scheme). */
  readonly protocols: readonly Protocol[];
  /** The address part of the rule. */
  readonly target: NetTarget;
  /** Sorted ascending, without duplicates, or "any" for every port. */
  readonly ports: readonly number[] | "any";
}

/** One entry of netAllowBind / netDenyBind: an inclusive TCP port range, or every port. */
export type BindSpec = BindRange | "any";

/** An inclusive range of TCP ports. */
export interface BindRange {
  /** First port of the range. */
  lo: number;
  /** Last port of the range (inclusive). */
  hi: number;
}

/** The protections of SPEC section 7, in the order of its table. */
export const PROTECTIONS = ["fs", "fs-refer", "fs-truncate", "net-tcp", "ioctl-dev", "scopes"] as const;
/** One Landlock protection by name (see PROTECTIONS, `sandlock check`). */
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

/** What each protection guards, in a few words (as `sandlock check` prints it). */
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

/** Policy.procView: the kernel-native view or the supervised one (docs/kernel-view.md). */
export type ProcView = "kernel" | "supervised";

/** A byte size: a non-negative integer, or a string like "512M" (binary K/M/G/T). */
export type ByteSize = number | bigint | string;

/** A bind port: 8080, "8000-8100", or "*" for every port. */
export type BindInput = number | string;

/** The ids of the `user` field. */
export interface UserIds {
  /** The user id the command sees. */
  uid: number;
  /** The group id the command sees. */
  gid: number;
}

/** The protection field in JSON form. */
export interface ProtectionJSON {
  /** Protections that may be missing on the kernel. */
  allowDegraded?: Protection[];
  /** Protections turned off. */
  disable?: Protection[];
}

/** The protection field of a validated Policy. */
export interface ProtectionSettings {
  /** Protections that may be missing on the kernel (`--allow-degraded`). */
  readonly allowDegraded: readonly Protection[];
  /** Protections turned off (`--disable`). */
  readonly disable: readonly Protection[];
}

/** The protection field of PolicyInput: per-protection opt-outs (strict by default). */
export interface ProtectionInput {
  /** Run without these protections when the kernel lacks them (`--allow-degraded`). */
  allowDegraded?: readonly Protection[];
  /** Turn these protections off (`--disable`). */
  disable?: readonly Protection[];
}

/** The plain-object form users write (SPEC 2.1). Every field is optional. */
export interface PolicyInput {
  /** Paths (subtrees or single files) the command may read and execute. CLI: `-r`, `--fs-read`. Default: [] (nothing beyond what every process needs). */
  fsReadable?: readonly string[];
  /** Paths the command may write, and also read and execute. CLI: `-w`, `--fs-write`. Default: []. */
  fsWritable?: readonly string[];
  /** Paths denied even inside a granted tree: read, exec, write, truncate, unlink, rename and link are refused (each is covered by an empty mode-000 read-only inode in the sandbox's own mount namespace: docs/security.md, "Denied paths"). Each must exist, lie strictly inside a grant and have a single name. CLI: `--fs-deny`. Default: []. */
  fsDenied?: readonly string[];
  /** Syscall names or group names added to the default blocklist; an unknown name is a PolicyError. CLI: `--extra-deny-syscall`. Default: []. */
  extraDenySyscalls?: readonly string[];
  /** Groups lifted from the default blocklist (`sysv_ipc`). CLI: `--extra-allow-syscall`. Default: []. */
  extraAllowSyscalls?: readonly string[];
  /** Allowed egress, `[scheme://]target[:port,...]` (docs/network.md); not with netDeny. CLI: `--net-allow`. Default: [] (no egress at all). */
  netAllow?: readonly string[];
  /** Egress allowed except to these IPs or CIDRs[:ports]; not with netAllow. CLI: `--net-deny`. Default: []. */
  netDeny?: readonly string[];
  /** TCP ports the command may bind: 8080, "8000-8100" or "*"; where UDP is allowed, UDP ports too (a UDP socket binds port 0 or one of these and receives only at them and the ephemeral range: docs/network.md). CLI: `--net-allow-bind`. Default: [] (no port). */
  netAllowBind?: readonly BindInput[];
  /** Every TCP port may be bound except these. Not supported yet: validated, then refused with PolicyUnsupportedError. CLI: `--net-deny-bind`. Default: []. */
  netDenyBind?: readonly BindInput[];
  /** Anonymous memory cap of the whole sandbox: bytes, or a size like "512M" (at least 1M). CLI: `-m`, `--max-memory`. Default: none (no cap). */
  maxMemory?: ByteSize;
  /** Peak concurrent processes in the sandbox. CLI: `-P`, `--max-processes`. Default: 64. */
  maxProcesses?: number;
  /** Open descriptors per process (RLIMIT_NOFILE), never above the caller's hard limit. CLI: `--max-open-files`. Default: none (the caller's limit). */
  maxOpenFiles?: number;
  /** Epoll watches the whole sandbox may hold at once, 0-2147483647: an add past them gets ENOSPC. fs.epoll.max_user_watches is one count for every process of the uid (sandboxes, their supervisor and the rest), and Node aborts when an add fails. Never above that limit. CLI: `--max-epoll-watches`. Default: a quarter of fs.epoll.max_user_watches. */
  maxEpollWatches?: number;
  /** CPU cap in percent of one core, 1-100 (SIGSTOP/SIGCONT throttling). CLI: `-c`, `--cpu`. Default: none (no cap). */
  maxCpu?: number;
  /** The CPUs the command runs on: its affinity, and with a supervisor a bound (every sched_setaffinity is made by the supervisor, its mask cut to these CPUs; one of none of them is EINVAL). Without a supervisor only the starting affinity (docs/security.md, Known limits). CLI: `--cpu-cores`. Default: none (the caller's CPUs). */
  cpuCores?: readonly number[];
  /** Number of CPUs the command sees (sched_getaffinity, /proc/cpuinfo, nproc). CLI: `--num-cpus`. Default: none (the real count). */
  numCpus?: number;
  /** getrandom, /dev/urandom and /dev/random give a stream seeded with this (0..2^64-1): the same bytes in every run with the same seed (docs/determinism.md). CLI: `--random-seed`. Default: none. */
  randomSeed?: number | bigint | string;
  /** The wall clock starts at this time (RFC 3339) and runs at real speed, for the vDSO and the system calls alike; the monotonic clocks stay the host's (docs/determinism.md). CLI: `--time-start`. Default: none (the real clock). */
  timeStart?: Date | string;
  /** Directory listings come sorted by name ("." and ".." first, then byte order), performed by the supervisor (docs/determinism.md). CLI: `--deterministic-dirs`. Default: false. */
  deterministicDirs?: boolean;
  /** Turn address space layout randomisation off. CLI: `--no-randomize-memory`. Default: false. */
  noRandomizeMemory?: boolean;
  /** Turn transparent huge pages off. CLI: `--no-huge-pages`. Default: false. */
  noHugePages?: boolean;
  /** Never write core dumps (RLIMIT_CORE 0). CLI: `--no-coredump`. Default: false. */
  noCoredump?: boolean;
  /** Sandbox name: `sandlock ps`, `inspect` and `kill` reach the sandbox by it; also the hostname the command sees. CLI: `--name`. Default: none (not registered). */
  name?: string;
  /** Copy-on-write directory: writes under it are staged (an overlay in the sandbox's own mount namespace) and committed, thrown away or kept as a branch at exit (docs/cow.md). Readable and writable inside. CLI: `--workdir`. Default: none. */
  workdir?: string;
  /** Working directory of the command. CLI: `--cwd`. Default: workdir, else the caller's current directory. */
  cwd?: string;
  /** Where the copy-on-write branches live (a private directory of the caller's). CLI: `--fs-storage`. Default: $XDG_STATE_HOME/sandlock/branches, else ~/.local/state/sandlock/branches. */
  fsStorage?: string;
  /** Copy-on-write quota (needs `workdir`, at least 4K): the staged writes live in a tmpfs of this size, so writes past it fail with ENOSPC; its bytes are memory and count against maxMemory (docs/cow.md). CLI: `--max-disk`. Default: none (staged on disk, unlimited). */
  maxDisk?: ByteSize;
  /** What happens to the staged writes when the command exits 0: "commit", "abort" or "keep" (a branch, see `sandlock branch`). CLI: `--on-exit`. Default: "commit". */
  onExit?: CowAction;
  /** What happens to the staged writes on any other ending (exit code, signal, timeout). CLI: `--on-error`. Default: "abort". */
  onError?: CowAction;
  /** A directory the command sees as its root `/`, without root and without chroot(2): the launcher builds a mount namespace whose root is it (docs/chroot.md). Under a chroot every path of the policy (fsReadable, fsWritable, fsDenied, cwd) and the command are the sandbox's paths, inside the root; `/proc` and `/dev` are the host's, bound there when a path in them is granted. CLI: `--chroot`. Default: none. */
  chroot?: string;
  /** Host directories mapped into the chroot, `{ virtual: host }`; a host path ending in `:ro` is mounted read-only (writes give EROFS whatever the grants say). The mount point must exist in the chroot as a directory; the grants still decide what the command may do there. Needs `chroot`. CLI: `--fs-mount` (`V:H[:ro]`). Default: {}. */
  fsMount?: Readonly<Record<string, string>>;
  /** Start from an empty environment instead of the caller's. CLI: `--clean-env`. Default: false. */
  cleanEnv?: boolean;
  /** Variables set or overridden for the command. CLI: `--env`. Default: {}. */
  env?: Readonly<Record<string, string>>;
  /** The uid and gid the command appears to run as (`id`, the owner of its own files), through a user namespace of its own where only these ids are mapped, to the caller's: no privilege comes with them, and where the host allows no user namespace the start fails with a ConfinementError naming why (docs/proc-and-identity.md). CLI: `--user`. Default: none (the caller's). */
  user?: Readonly<UserIds>;
  /** GPU devices the command may reach: "all" or device numbers. Not supported yet: validated, then refused with PolicyUnsupportedError. CLI: `--gpu`. Default: none. */
  gpuDevices?: readonly number[] | "all";
  /** TCP binds made by the supervisor: a port busy on the host is replaced by a free one, while the sandbox keeps seeing (getsockname) and reaching (connect to a local address) the port it asked for; `sb.ports()` and `RunResult.ports` tell the host where. The bind rules (netAllowBind) still apply. CLI: `--port-remap`. Default: false. */
  portRemap?: boolean;
  /** A private writable directory made for each run and removed after it (one left by a process killed before it could is removed by the next process to use privateTmp); TMPDIR and HOME point into it. CLI: `--private-tmp`. Default: false. */
  privateTmp?: boolean;
  /** Writes to the protected files of every writable grant and workdir (the files that make code run later outside the sandbox: `.git/hooks`, `.git/config`, `.envrc`, `.vscode`, `.idea`, `.mcp.json`, `.claude`, `.cursor`, `.npmrc`, `.gitconfig`, `.config/git`, shell start-up files, Node's compile cache `node-compile-cache`; the list is `PROTECTED_NAMES`, docs/security.md "Protected files") are refused at any depth below a writable grant, whether they exist or not: the supervisor performs every write open and name operation there and refuses these names (a sandbox without a supervisor gets read-only binds of the existing ones instead), and a workdir's commit holds back a change to any of them. A start is refused (PolicyError) when a git config of a grant's repository or of the user includes a file, or takes hooks (`core.hooksPath`) from a directory, inside a writable grant. Preset `workspace` sets it. CLI: `--allow-protected` (sets false). Default: false. */
  protectedFiles?: boolean;
  /** A callback deciding syscalls at run time (dynamic policy, docs/policy-fn.md): every execve and execveat, shown with the path and argv that will run, every IP connect, send and bind, and with policyFnFiles every open. CLI: none (library only). Default: none. */
  policyFn?: PolicyFn;
  /** policyFn also decides file opens: every open, openat and creat of the sandbox is an event (category "file", the path the supervisor will open), performed by the supervisor, and `ctx.denyPath`/`ctx.allowPath` work (docs/policy-fn.md, "File events"). Each open then costs a round trip to the callback. Needs policyFn. CLI: none (library only). Default: false. */
  policyFnFiles?: boolean;
  /** Per-protection opt-out: `allowDegraded` runs without a protection the kernel lacks, `disable` turns it off (see `sandlock check`). CLI: `--allow-degraded` and `--disable`. Default: strict (every protection required). */
  protection?: ProtectionInput;
  /** false: Landlock and the seccomp filter only, no user-notification listener (a sandbox inside a sandbox); fields that need the supervisor are refused. CLI: `--no-supervisor` (sets false). Default: true. */
  supervisor?: boolean;
  /** Which view of the system the command gets: "kernel" (its own user, mount, pid, net, uts and ipc namespaces with a constructed root: only its processes in /proc, only `lo`, a path outside the grants does not exist, ENOENT; docs/kernel-view.md) or "supervised" (the host's namespaces, /proc and the hostname served by the supervisor, a path outside the grants EACCES). Unset: the kernel view where it applies (docs/kernel-view.md, "When it is used"), else the supervised view, reported in `RunResult.procView`; "kernel" fails the start naming why it cannot apply. The environment's `SANDLOCK_KERNEL_VIEW=0` or `=1` picks for a policy that leaves it unset. CLI: `--proc-view`. Default: unset. */
  procView?: ProcView;
}

/** The JSON form of a policy (Policy.toJSON): PolicyInput without policyFn, JSON types only. */
export interface PolicyJSON {
  /** {@inheritDoc PolicyInput.fsReadable} */
  fsReadable?: string[];
  /** {@inheritDoc PolicyInput.fsWritable} */
  fsWritable?: string[];
  /** {@inheritDoc PolicyInput.fsDenied} */
  fsDenied?: string[];
  /** {@inheritDoc PolicyInput.extraDenySyscalls} */
  extraDenySyscalls?: string[];
  /** {@inheritDoc PolicyInput.extraAllowSyscalls} */
  extraAllowSyscalls?: string[];
  /** {@inheritDoc PolicyInput.netAllow} */
  netAllow?: string[];
  /** {@inheritDoc PolicyInput.netDeny} */
  netDeny?: string[];
  /** {@inheritDoc PolicyInput.netAllowBind} */
  netAllowBind?: BindInput[];
  /** {@inheritDoc PolicyInput.netDenyBind} */
  netDenyBind?: BindInput[];
  /** Anonymous memory cap of the whole sandbox: bytes, or a size like "512M" (at least 1M). CLI: `-m`, `--max-memory`. Default: none (no cap). JSON form: Decimal string of bytes. */
  maxMemory?: string;
  /** {@inheritDoc PolicyInput.maxProcesses} */
  maxProcesses?: number;
  /** {@inheritDoc PolicyInput.maxOpenFiles} */
  maxOpenFiles?: number;
  /** {@inheritDoc PolicyInput.maxEpollWatches} */
  maxEpollWatches?: number;
  /** {@inheritDoc PolicyInput.maxCpu} */
  maxCpu?: number;
  /** {@inheritDoc PolicyInput.cpuCores} */
  cpuCores?: number[];
  /** {@inheritDoc PolicyInput.numCpus} */
  numCpus?: number;
  /** getrandom, /dev/urandom and /dev/random give a stream seeded with this (0..2^64-1): the same bytes in every run with the same seed (docs/determinism.md). CLI: `--random-seed`. Default: none. JSON form: Decimal string (the seed may exceed 2^53). */
  randomSeed?: string;
  /** The wall clock starts at this time (RFC 3339) and runs at real speed, for the vDSO and the system calls alike; the monotonic clocks stay the host's (docs/determinism.md). CLI: `--time-start`. Default: none (the real clock). JSON form: ISO 8601 / RFC 3339 string in UTC. */
  timeStart?: string;
  /** {@inheritDoc PolicyInput.deterministicDirs} */
  deterministicDirs?: boolean;
  /** {@inheritDoc PolicyInput.noRandomizeMemory} */
  noRandomizeMemory?: boolean;
  /** {@inheritDoc PolicyInput.noHugePages} */
  noHugePages?: boolean;
  /** {@inheritDoc PolicyInput.noCoredump} */
  noCoredump?: boolean;
  /** {@inheritDoc PolicyInput.name} */
  name?: string;
  /** {@inheritDoc PolicyInput.workdir} */
  workdir?: string;
  /** {@inheritDoc PolicyInput.cwd} */
  cwd?: string;
  /** {@inheritDoc PolicyInput.fsStorage} */
  fsStorage?: string;
  /** {@inheritDoc PolicyInput.maxDisk} */
  maxDisk?: string;
  /** {@inheritDoc PolicyInput.onExit} */
  onExit?: CowAction;
  /** {@inheritDoc PolicyInput.onError} */
  onError?: CowAction;
  /** {@inheritDoc PolicyInput.chroot} */
  chroot?: string;
  /** {@inheritDoc PolicyInput.fsMount} */
  fsMount?: Record<string, string>;
  /** {@inheritDoc PolicyInput.cleanEnv} */
  cleanEnv?: boolean;
  /** {@inheritDoc PolicyInput.env} */
  env?: Record<string, string>;
  /** {@inheritDoc PolicyInput.user} */
  user?: UserIds;
  /** {@inheritDoc PolicyInput.gpuDevices} */
  gpuDevices?: number[] | "all";
  /** {@inheritDoc PolicyInput.portRemap} */
  portRemap?: boolean;
  /** {@inheritDoc PolicyInput.privateTmp} */
  privateTmp?: boolean;
  /** {@inheritDoc PolicyInput.protectedFiles} */
  protectedFiles?: boolean;
  /** {@inheritDoc PolicyInput.protection} */
  protection?: ProtectionJSON;
  /** false: Landlock and the seccomp filter only, no user-notification listener (a sandbox inside a sandbox); fields that need the supervisor are refused. CLI: `--no-supervisor` (sets false). Default: true. JSON form: Written only when false. */
  supervisor?: boolean;
  /** {@inheritDoc PolicyInput.procView} */
  procView?: ProcView;
}

/** The validated, normalised policy: one read-only property per field of SPEC 2.1. */
export interface PolicyFields {
  /** {@inheritDoc PolicyInput.fsReadable} */
  readonly fsReadable: readonly string[];
  /** {@inheritDoc PolicyInput.fsWritable} */
  readonly fsWritable: readonly string[];
  /** {@inheritDoc PolicyInput.fsDenied} */
  readonly fsDenied: readonly string[];
  /** {@inheritDoc PolicyInput.extraDenySyscalls} */
  readonly extraDenySyscalls: readonly string[];
  /** {@inheritDoc PolicyInput.extraAllowSyscalls} */
  readonly extraAllowSyscalls: readonly string[];
  /** {@inheritDoc PolicyInput.netAllow} */
  readonly netAllow: readonly NetRule[];
  /** {@inheritDoc PolicyInput.netDeny} */
  readonly netDeny: readonly NetRule[];
  /** {@inheritDoc PolicyInput.netAllowBind} */
  readonly netAllowBind: readonly BindSpec[];
  /** {@inheritDoc PolicyInput.netDenyBind} */
  readonly netDenyBind: readonly BindSpec[];
  /** {@inheritDoc PolicyInput.maxMemory} */
  readonly maxMemory: bigint | undefined;
  /** Peak concurrent processes in the sandbox. CLI: `-P`, `--max-processes`. Default: 64. Validated form: Peak concurrent processes; 64 unless given. */
  readonly maxProcesses: number;
  /** Whether maxProcesses was given by the user rather than defaulted. */
  readonly maxProcessesExplicit: boolean;
  /** {@inheritDoc PolicyInput.maxOpenFiles} */
  readonly maxOpenFiles: number | undefined;
  /** {@inheritDoc PolicyInput.maxEpollWatches} */
  readonly maxEpollWatches: number | undefined;
  /** {@inheritDoc PolicyInput.maxCpu} */
  readonly maxCpu: number | undefined;
  /** {@inheritDoc PolicyInput.cpuCores} */
  readonly cpuCores: readonly number[] | undefined;
  /** {@inheritDoc PolicyInput.numCpus} */
  readonly numCpus: number | undefined;
  /** {@inheritDoc PolicyInput.randomSeed} */
  readonly randomSeed: bigint | undefined;
  /** {@inheritDoc PolicyInput.timeStart} */
  readonly timeStart: Date | undefined;
  /** {@inheritDoc PolicyInput.deterministicDirs} */
  readonly deterministicDirs: boolean;
  /** {@inheritDoc PolicyInput.noRandomizeMemory} */
  readonly noRandomizeMemory: boolean;
  /** {@inheritDoc PolicyInput.noHugePages} */
  readonly noHugePages: boolean;
  /** {@inheritDoc PolicyInput.noCoredump} */
  readonly noCoredump: boolean;
  /** {@inheritDoc PolicyInput.name} */
  readonly name: string | undefined;
  /** {@inheritDoc PolicyInput.workdir} */
  readonly workdir: string | undefined;
  /** {@inheritDoc PolicyInput.cwd} */
  readonly cwd: string | undefined;
  /** {@inheritDoc PolicyInput.fsStorage} */
  readonly fsStorage: string | undefined;
  /** {@inheritDoc PolicyInput.maxDisk} */
  readonly maxDisk: bigint | undefined;
  /** {@inheritDoc PolicyInput.onExit} */
  readonly onExit: CowAction;
  /** {@inheritDoc PolicyInput.onError} */
  readonly onError: CowAction;
  /** {@inheritDoc PolicyInput.chroot} */
  readonly chroot: string | undefined;
  /** {@inheritDoc PolicyInput.fsMount} */
  readonly fsMount: Readonly<Record<string, string>>;
  /** {@inheritDoc PolicyInput.cleanEnv} */
  readonly cleanEnv: boolean;
  /** {@inheritDoc PolicyInput.env} */
  readonly env: Readonly<Record<string, string>>;
  /** {@inheritDoc PolicyInput.user} */
  readonly user: Readonly<UserIds> | undefined;
  /** {@inheritDoc PolicyInput.gpuDevices} */
  readonly gpuDevices: readonly number[] | "all" | undefined;
  /** {@inheritDoc PolicyInput.portRemap} */
  readonly portRemap: boolean;
  /** {@inheritDoc PolicyInput.privateTmp} */
  readonly privateTmp: boolean;
  /** {@inheritDoc PolicyInput.protectedFiles} */
  readonly protectedFiles: boolean;
  /** {@inheritDoc PolicyInput.policyFn} */
  readonly policyFn: PolicyFn | undefined;
  /** {@inheritDoc PolicyInput.policyFnFiles} */
  readonly policyFnFiles: boolean;
  /** {@inheritDoc PolicyInput.protection} */
  readonly protection: ProtectionSettings;
  /** false: Landlock and the seccomp filter only, no user-notification listener (a sandbox inside a sandbox); fields that need the supervisor are refused. CLI: `--no-supervisor` (sets false). Default: true. Validated form: Whether a seccomp supervisor runs (true unless the input says false). */
  readonly supervisor: boolean;
  /** {@inheritDoc PolicyInput.procView} */
  readonly procView: ProcView | undefined;
}
