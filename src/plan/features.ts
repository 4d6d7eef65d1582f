// Policy + host facts -> Features: named decisions about what this sandbox needs, with the
// section-7 protections reconciled against the host's Landlock ABI (strict by default).

import { statSync } from "node:fs";
import { ConfinementError, PolicyError } from "../errors.js";
import type { Policy } from "../policy/policy.js";
import { PROTECTIONS, PROTECTION_ABI, PROTECTION_LABEL, type BindSpec, type Protection } from "../policy/types.js";
import { blockedSyscalls } from "./blocklist.js";
import type { NetGrants, PathGrant } from "./landlock.js";
import type { ResolvedHosts } from "./net-rules.js";
import { netSupervision, portRanges, UDP_RANGES_MAX, type NetSupervision } from "./net-supervision.js";
import { NAME_SYSCALLS, type NameSupervision } from "./seccomp-names.js";
import { INODE_IOCTLS, META_SYSCALLS, UNSUPPORTED_INODE_IOCTLS, type MetaSupervision } from "./seccomp-meta.js";
import type { SeccompSpec } from "./seccomp.js";
import { computeView, viewSyscalls, type ViewSpec } from "./view.js";
import { multiplexerGrants } from "./dev-grants.js";
import { procfsMounts } from "../kernel/mounts.js";
import { checkSignalScope, withoutProcfs } from "./unsupervised.js";
import { cowUnavailable, realWorkdir, workdirGrants } from "../cow/host.js";
import { planDenied, type DeniedPath } from "./deny.js";
import { planProtected, type ProtectedPath } from "./protect.js";
import { refuseIncludedConfigs } from "./protect-includes.js";
import { kernelViewBlocked, kernelViewRequested, usernsUnavailable } from "./kernel-view.js";
import { observe } from "./host-reads.js";
import { grantRealpath, SwappableLinkError } from "./grant-path.js";
import { chrootHostPaths, chrootVirtualPath, planChroot, splitAroundBinds, type ChrootSpec } from "./chroot.js";

export interface HostFacts {
  /** Landlock ABI version, 0 when Landlock is unavailable. */
  landlockAbi: number;
  /** Number of CPUs the host has (for cpuCores checks). */
  cpuCount: number;
  /** This process's hard RLIMIT_NOFILE (the launcher inherits it); undefined: unlimited. */
  openFilesHardLimit?: bigint | undefined;
  /** This process's soft RLIMIT_SIGPENDING; undefined: unlimited or unknown. */
  pendingSignalsLimit?: bigint | undefined;
  /** fs.epoll.max_user_watches; undefined: unreadable. */
  epollWatchesLimit?: number | undefined;
  /** fs.pipe-user-pages-soft; undefined: no limit (0) or unreadable. */
  pipePagesLimit?: number | undefined;
  /** This process may raise a thread's priority (CAP_SYS_NICE): its receiving threads run
   * ahead of the sandbox without the sandbox being lowered (see RECEIVER_RAISE). */
  raisesPriority?: boolean;
}

/**
 * How much ahead of the sandbox, in nice steps, the supervisor's receiving thread runs
 * (native/notify-thread.c). A trapped call can be interrupted by a signal until the
 * supervisor has received it, and an interrupted fork or mmap then fails with EINTR, which
 * the kernel alone never gives: a C program forking pairs under a SIGCHLD handler without
 * SA_RESTART saw 188 of 600 forks fail, dash pipelines "Cannot fork" in 17 of 30 runs on a
 * loaded machine. Woken by the trapped call on the caller's CPU, the thread must run before
 * the child whose exit would signal the caller: with it 5 steps ahead, no fork failed (1
 * step: 129 of 600). A supervisor with CAP_SYS_NICE raises the thread; any other lowers the
 * sandbox by the same amount (the plan's NICE step), so sandboxed programs then run at
 * nice +5 relative to their supervisor: they get less CPU than nice 0 processes competing
 * for it, never less than they would under a host at nice 5.
 */
export const RECEIVER_RAISE = 5;

/** A policy value the host made us apply differently, reported in the RunResult. */
export interface Adjustment {
  readonly field: string;
  readonly requested: number;
  readonly applied: number;
  readonly reason: string;
}

/** How a protection ran: "active", "degraded" (the kernel lacks it, allowDegraded) or "disabled". */
export type EnforcementStatus = "active" | "degraded" | "disabled";
/** Every protection and how it ran, in RunResult.enforcement. */
export type Enforcement = Readonly<Record<Protection, EnforcementStatus>>;

export interface Rlimit {
  resource: number;
  name: string;
  cur: bigint;
  max: bigint;
  /** Applied after the listener hand-over, right before exec: the setup steps before it
   * need descriptors of their own (a Landlock ruleset, an O_PATH per rule, the listener). */
  late?: boolean;
}

export const RLIMIT = { CORE: 4, NOFILE: 7, SIGPENDING: 11 } as const;

/** What the seccomp supervisor must enforce; empty means no listener at all. */
export interface Supervision {
  /** Peak concurrent processes (threads not counted). */
  maxProcesses?: number;
  /** cpuCores as a bound: every sched_setaffinity is performed by the supervisor with the
   * mask intersected with these CPUs (handlers/affinity.ts). */
  affinity?: { readonly cpus: readonly number[]; readonly nsPids: boolean };
  /** Threads of the whole sandbox, main threads included (derived from maxProcesses:
   * handlers/threads.ts). */
  maxThreads?: number;
  /** sysv_ipc lifted in the supervised view: the supervisor makes the sandbox's SysV
   * objects (these gets), bounds how many it holds, and removes them at the end
   * (handlers/sysv.ts). */
  sysv?: { readonly calls: readonly string[] };
  /** The sandbox's epoll watches at most (EPOLL_BUDGET_SHARE of fs.epoll.max_user_watches):
   * every epoll_ctl(EPOLL_CTL_ADD) is counted (handlers/epoll.ts). */
  epoll?: {
    readonly budget: number;
    /** The budget is the policy's maxEpollWatches (else the host's share). */
    readonly explicit: boolean;
    /** The count at the budget holds the sandbox still: by the supervisor's ptrace freeze,
     * or, where the launcher traces every process (timeStart, policyFn: a thread has one
     * tracer), by the launcher's hold (SL_CMD_HOLD). */
    readonly traced: boolean;
  };
  /** The sandbox's pipe pages at most, in pipes of PIPE_PAGES (PIPE_BUDGET_SHARE of
   * fs.pipe-user-pages-soft): pipes it makes (pipe, pipe2), FIFOs it makes (mknod) and
   * threads that made the kernel's splice pipe (sendfile, copy_file_range), counted by
   * handlers/pipes.ts; F_SETPIPE_SZ may not grow a pipe past PIPE_PAGES. */
  pipes?: {
    readonly budget: number;
    /** The count at the budget holds the sandbox still (as epoll's). */
    readonly traced: boolean;
  };
  /** Network destinations, named unix sockets, the interface view and the synthetic
   * /etc/hosts (always set by computeFeatures: every connect and send is supervised). */
  net?: NetSupervision;
  /** Cap on private writable memory and memory-backed files, bytes. */
  maxMemory?: bigint;
  /** With maxMemory: the writable grants (tmpfs beneath them is memory). */
  memoryWritable?: readonly string[];
  /** With maxMemory: SysV shared memory is allowed (sysv_ipc lifted), so segments are
   * charged and removed at the end (supervise/sysv-segments.ts). */
  sysvShm?: boolean;
  /** What the sandbox sees of its host: hostname, CPUs, /proc (always set when computed). */
  view?: ViewSpec;
  /** File metadata changes, allowed beneath the writable grants only (set while the
   * filesystem protection is in force: Landlock has no right for them). */
  meta?: MetaSupervision;
  /** A learning run (sandlock learn): LEARN_SYSCALLS go to the recorder too. */
  learn?: boolean;
  /** timeStart: the supervisor answers the wall-clock calls (handlers/clock.ts). */
  clock?: boolean;
  /** policyFn: execve and execveat go to the callback (handlers/policy-exec.ts); the paths
   * granted (fsReadable, fsWritable) say whether the static policy denies the program. */
  policyExec?: { granted: readonly string[] };
  /** protectedFiles: the supervisor performs every name operation and write open beneath
   * the writable grants, refusing protected positions (handlers/names.ts). */
  names?: NameSupervision;
}

/** What a learning run's recorder notes (supervise/handlers/learn.ts): the paths opened,
 * run and changed, the ports bound and the processes started. bind goes whole (the filter
 * otherwise routes only netlink-sized addresses). */
export const LEARN_SYSCALLS = [
  "open", "openat", "openat2", "creat", "execve", "execveat",
  "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
  "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat", "truncate",
  "bind", "clone", "fork", "vfork",
] as const;

export interface Features {
  enforcement: Enforcement;
  supervision: Supervision;
  active: ReadonlySet<Protection>;
  grants: PathGrant[];
  net: NetGrants;
  seccomp: SeccompSpec;
  rlimits: Rlimit[];
  cpuCores: readonly number[] | undefined;
  noRandomizeMemory: boolean;
  noHugePages: boolean;
  /** Percent of one core the whole sandbox may use (SIGSTOP/SIGCONT throttling). */
  maxCpu: number | undefined;
  /** Values applied differently from the policy's, and why. */
  adjustments: readonly Adjustment[];
  /** Lower the command's priority by this many nice steps (RECEIVER_RAISE), or 0. */
  niceIncrement: number;
  /** The kernel view (policy procView, SANDLOCK_KERNEL_VIEW): the command gets its own
   * namespaces and a constructed root (plan/kernel-view.ts); `name` is its hostname. */
  kernelView?: { name: string | undefined };
  /** workdir: the overlay the launcher mounts on the workdir's real path (cow/, docs/cow.md). */
  cow?: { workdir: string; maxDisk: bigint | undefined };
  /** fsDenied: the paths the launcher covers in the sandbox's mount namespace (plan/deny.ts). */
  denied?: readonly DeniedPath[];
  /** protectedFiles: the existing protected paths the launcher makes read-only (plan/protect.ts). */
  protect?: readonly ProtectedPath[];
  /** Why the kernel view was asked for and not used (the supervised view is). */
  kernelViewFallback?: string;
  /** timeStart, ms since the epoch: the launcher traces the command and rewrites the
   * vDSO clock of every program it runs (native/launcher/vclock.c). */
  timeStartMs?: number;
  /** policyFn: every exec is held at its exec stop until the supervisor has checked that
   * the program is what the callback approved (handlers/policy-exec.ts). */
  traceExecs?: boolean;
  /** `user`: the ids the command appears to have, and the caller's they map to. */
  user?: UserMapping;
  /** chroot: the root the launcher builds (plan/chroot.ts); grants, denials are host paths. */
  chroot?: ChrootSpec;
}

/** The ids a sandbox with `user` appears to have (uid, gid) and the caller's effective
 * ids they stand for in the host's namespace (outerUid, outerGid). */
export interface UserMapping {
  readonly uid: number;
  readonly gid: number;
  readonly outerUid: number;
  readonly outerGid: number;
}

/**
 * fsDenied: the covers are mounts in a namespace of the sandbox's own (launcher/deny.c);
 * a host that refuses it gets a ConfinementError, never a run without the denial. The
 * supervisor then resolves the sandbox's paths from its root (ownMounts), where the
 * covers are: from its own, a chmod would reach the real file beneath.
 */
function deniedFeature(fsDenied: readonly string[], grants: readonly PathGrant[], fsActive: boolean): DeniedPath[] {
  const why = cowUnavailable();
  if (why !== undefined) {
    throw new ConfinementError(`fsDenied: covering ${JSON.stringify(fsDenied[0])} needs ${process.getuid?.() === 0 ? "a mount namespace" : "a user namespace"}, and this host refuses it: ${why}. Without it the denied paths would be reachable, so the run is refused`, {});
  }
  return planDenied(fsDenied, grants, fsActive);
}

/**
 * protectedFiles: the existing protected paths, made read-only in the sandbox's mount
 * namespace. A host that refuses namespaces still runs the workspace preset: the covers
 * are left out and the run says so (an adjustment; a workdir's commit check still holds
 * protected changes back). undefined when there is nothing to cover.
 */
function protectedFeature(grants: readonly PathGrant[], adjustments: Adjustment[], supervised: boolean): ProtectedPath[] | undefined {
  // The supervisor refuses every write at a protected position on its own (names.ts).
  if (supervised) return undefined;
  const paths = planProtected(grants);
  if (paths.length === 0) return undefined;
  const why = cowUnavailable();
  if (why === undefined) return paths;
  adjustments.push({ field: "protectedFiles", requested: 1, applied: 0, reason: `protectedFiles: the protected files that exist (${paths.map((p) => p.path).slice(0, 3).join(", ")}${paths.length > 3 ? ", ..." : ""}) stay writable: making them read-only needs ${process.getuid?.() === 0 ? "a mount namespace" : "a user namespace"}, and this host refuses it: ${why} (--allow-protected or protectedFiles: false says it is meant)` });
  return undefined;
}

/** A grant's real path (as the launcher pins it), or the path itself when it cannot be resolved. */
function rootedPath(path: string): string {
  try {
    return grantRealpath(path);
  } catch {
    return path;
  }
}

/** `user` needs a user namespace: where the host refuses one, the start fails by name. */
function userMapping(policy: Policy): UserMapping | undefined {
  if (policy.user === undefined) return undefined;
  const why = usernsUnavailable();
  if (why !== undefined) {
    throw new ConfinementError(`user: appearing as uid ${policy.user.uid} and gid ${policy.user.gid} needs a user namespace, which is not available here: ${why}`, {});
  }
  return { uid: policy.user.uid, gid: policy.user.gid, outerUid: process.geteuid?.() ?? 0, outerGid: process.getegid?.() ?? 0 };
}

export function reconcileProtections(policy: Policy, host: HostFacts): Enforcement {
  const out = {} as Record<Protection, EnforcementStatus>;
  for (const p of PROTECTIONS) {
    const need = PROTECTION_ABI[p];
    if (policy.protection.disable.includes(p)) out[p] = "disabled";
    else if (host.landlockAbi >= need) out[p] = "active";
    else if (policy.protection.allowDegraded.includes(p)) out[p] = "degraded";
    else {
      throw new ConfinementError(
        `protection "${p}" (${PROTECTION_LABEL[p]}) needs Landlock ABI ${need}, this kernel has ` +
          `${host.landlockAbi === 0 ? "no Landlock" : `ABI ${host.landlockAbi}`}; ` +
          `allow it to degrade with protection.allowDegraded or --allow-degraded ${p}`,
        { protection: p, requiredAbi: need, hostAbi: host.landlockAbi },
      );
    }
  }
  return Object.freeze(out);
}

function pathGrants(field: "fsReadable" | "fsWritable", paths: readonly string[]): PathGrant[] {
  return paths.map((path) => {
    let isDir: boolean;
    try {
      // Resolved as every later step will (plan/grant-path.ts): a link another process can
      // swap is refused here, by name, rather than followed.
      const real = observe(`realpath ${path}`, () => grantRealpath(path));
      isDir = observe(`isdir ${real}`, () => statSync(real).isDirectory());
    } catch (e) {
      if (e instanceof SwappableLinkError) {
        throw new PolicyError(field, path, `${field}: ${JSON.stringify(path)} passes through ${e.message}; another process could swap it while the sandbox starts, so it is not followed: grant what it leads to by its own path, or keep the link in a directory only root can change`);
      }
      const code = (e as NodeJS.ErrnoException).code ?? "error";
      const why = code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be inspected (${code})`;
      throw new PolicyError(field, path, `${field}: ${JSON.stringify(path)} ${why}`);
    }
    return { path, isDir, writable: field === "fsWritable" };
  });
}

/** Every port of the specs, or "any" when one of them covers all ports. */
export function expandBindSpecs(specs: readonly BindSpec[]): readonly number[] | "any" {
  const ports = new Set<number>();
  for (const s of specs) {
    if (s === "any") return "any";
    for (let p = s.lo; p <= s.hi; p++) ports.add(p);
  }
  return [...ports].sort((a, b) => a - b);
}

/** TCP connect grants of the rules Landlock can enforce on its own (TCP, any address). */
function connectGrants(policy: Policy): readonly number[] | "any" {
  const ports = new Set<number>();
  for (const rule of policy.netAllow) {
    if (rule.target.kind !== "any" || !rule.protocols.includes("tcp")) continue;
    if (rule.ports === "any") return "any";
    for (const p of rule.ports) ports.add(p);
  }
  return [...ports].sort((a, b) => a - b);
}

export const NET_SYSCALLS = ["connect", "sendto", "sendmsg", "sendmmsg", "socket", "bind", "listen", "getsockname", "setsockopt", "ioctl"] as const;

/** Threads of the whole sandbox (every process's main thread included) per allowed
 * process, and the least cap: one large program (a JVM on a many-core host starts a
 * hundred threads or more) must fit under a small maxProcesses. */
export const THREADS_PER_PROCESS = 64;
export const MIN_THREADS = 256;

/**
 * The thread cap that goes with a process limit. Threads are not processes (SPEC 4.1),
 * but each holds a kernel stack and a task (24 KiB measured on 6.18) and a slot of the
 * host-wide kernel.threads-max: without a cap, maxProcesses 2 made 8000 threads. RLIMIT_NPROC
 * cannot do it: it counts every task of the uid on the host and does not bind root.
 */
export function threadCap(maxProcesses: number): number {
  return Math.max(MIN_THREADS, THREADS_PER_PROCESS * maxProcesses);
}

/** The SysV calls that may make an object (handlers/sysv.ts). */
export const SYSV_GETS = ["shmget", "msgget", "semget"] as const;

/** The share of fs.epoll.max_user_watches one sandbox may hold: a quarter (1,372,911 of
 * 5,491,645 here), so that the uid's processes outside keep three quarters while one
 * sandbox runs, and a Node server inside still has room for a million connections. */
export const EPOLL_BUDGET_SHARE = 4;

export function epollBudget(limit: number): number {
  return Math.max(1, Math.floor(limit / EPOLL_BUDGET_SHARE));
}

/** The share of fs.pipe-user-pages-soft one sandbox may hold: a quarter (4,096 of 16,384
 * pages here: 256 pipes), so that the uid's processes outside keep three quarters at full
 * size while one sandbox runs (past the soft limit every new pipe of the uid has 2 pages). */
export const PIPE_BUDGET_SHARE = 4;
/** The pages a pipe is charged (PIPE_DEF_BUFFERS: a new pipe's, and a thread's splice
 * pipe's; F_SETPIPE_SZ may not grow one past it where the budget holds). */
export const PIPE_PAGES = 16;

/** The calls the pipe budget counts (handlers/pipes.ts): a FIFO's mknod among the mknods. */
export const PIPE_SYSCALLS = ["pipe", "pipe2", "mknod", "mknodat", "sendfile", "copy_file_range"] as const;

/** The pipes (of PIPE_PAGES) a sandbox may hold under fs.pipe-user-pages-soft `limit`. */
export function pipeBudget(limit: number): number {
  return Math.max(1, Math.floor(limit / PIPE_BUDGET_SHARE / PIPE_PAGES));
}

/** The syscalls the filter routes to the supervisor, from what it must enforce. clone is
 * listed when it makes a process (counted); one that makes a thread is routed apart, see
 * threadClones and SeccompSpec.notifyThreads. */
export function notifiedSyscalls(s: Supervision): string[] {
  const out: string[] = [];
  if (s.maxProcesses !== undefined) out.push("clone", "fork", "vfork");
  if (s.affinity !== undefined) out.push("sched_setaffinity");
  // Every connect and send that names a destination or carries a message in memory is
  // performed by the supervisor (the kernel would re-read both after a continue).
  // seccomp-net.ts narrows by argument: sendto only with a destination, bind only with a
  // netlink-sized address, setsockopt only at SOL_NETLINK, socket only for NETLINK_ROUTE,
  // ioctl only for interface queries; getsockname answers emulated netlink sockets.
  if (s.net !== undefined) out.push(...NET_SYSCALLS);
  if (s.net?.hostsFile !== undefined) out.push(...["open", "openat", "openat2", "creat"].filter((x) => !out.includes(x)));
  if (s.maxMemory !== undefined) out.push("mmap", "mremap", "brk", "memfd_create", "memfd_secret", "fallocate");
  if (s.maxMemory !== undefined && s.sysvShm === true) out.push("shmget");
  if (s.sysv !== undefined) out.push(...s.sysv.calls.filter((x) => !out.includes(x)));
  if (s.view !== undefined) out.push(...viewSyscalls(s.view).filter((x) => !out.includes(x)));
  // ioctl is routed by request (plan/seccomp.ts), not whole.
  if (s.meta !== undefined) out.push(...META_SYSCALLS);
  if (s.meta?.watchGrants !== undefined) out.push("inotify_add_watch");
  if (s.meta?.inotifyBroker === true) out.push("inotify_init", "inotify_init1");
  if (s.names !== undefined) out.push(...NAME_SYSCALLS.filter((x) => !out.includes(x)));
  // policyFnFiles: every open is an event (openat2 stays ENOSYS: seccomp-names.ts).
  if (s.names?.events === true) out.push(...["open", "openat"].filter((x) => !out.includes(x)));
  if (s.learn === true) out.push(...LEARN_SYSCALLS.filter((x) => !out.includes(x)));
  if (s.pipes !== undefined) out.push(...PIPE_SYSCALLS.filter((x) => !out.includes(x)));
  return out;
}

/** Whether thread clones go to the supervisor: for the thread cap, and for the memory cap,
 * which charges each thread's kernel stack and task (handlers/memory.ts). */
export function threadClones(s: Supervision): boolean {
  return s.maxThreads !== undefined || s.maxMemory !== undefined;
}

/**
 * The features of a learning run: the same confinement, with the recorder's calls routed
 * to the supervisor (bind whole). Throws for a policy without a supervisor.
 */
export function withLearning(f: Features): Features {
  if (f.seccomp.unsupervised === true) throw new PolicyError("supervisor", false, "learn mode records through the seccomp supervisor: it cannot run with supervisor: false (--no-supervisor)");
  const supervision: Supervision = { ...f.supervision, learn: true };
  return { ...f, supervision, seccomp: { ...f.seccomp, notify: notifiedSyscalls(supervision), notifyWhole: [...new Set([...(f.seccomp.notifyWhole ?? []), "bind"])] } };
}

export function supervised(f: Features): boolean {
  return f.seccomp.notify.length > 0;
}

/** `resolved`: the addresses of the host names in policy.netAllow (see resolveHosts). */
export function computeFeatures(policy: Policy, host: HostFacts, resolved: ResolvedHosts = new Map()): Features {
  const enforcement = reconcileProtections(policy, host);
  const active = new Set(PROTECTIONS.filter((p) => enforcement[p] === "active"));

  if (policy.cpuCores) {
    for (const c of policy.cpuCores) {
      if (c >= host.cpuCount) {
        throw new PolicyError("cpuCores", policy.cpuCores, `cpuCores: CPU ${c} does not exist on this host (CPUs 0-${host.cpuCount - 1})`);
      }
    }
  }
  // supervisor: false (a sandbox inside a sandbox): nothing is supervised; the policy has
  // refused the fields that need it (policy/unsupervised.ts) and the filter refuses what
  // only the supervisor could check (plan/seccomp-unsupervised.ts). The default
  // maxProcesses is not enforced: see docs/security.md, "Without a supervisor".
  const unsupervised = !policy.supervisor;
  if (unsupervised) checkSignalScope(host.landlockAbi);
  const supervision: Supervision = unsupervised ? {} : { maxProcesses: policy.maxProcesses, maxThreads: threadCap(policy.maxProcesses) };
  if (policy.maxMemory !== undefined) supervision.maxMemory = policy.maxMemory;
  if (policy.numCpus !== undefined && policy.numCpus > host.cpuCount) {
    throw new PolicyError("numCpus", policy.numCpus, `numCpus: ${policy.numCpus} is more than this host's ${host.cpuCount} CPUs (a sandbox can be shown fewer CPUs than exist, not more)`);
  }
  // chroot: the policy's paths are the sandbox's (inside the root), planned as the host
  // paths they name there (plan/chroot.ts); missing ones grant nothing.
  const chroot = planChroot(policy, policy.chroot !== undefined ? cowUnavailable() : undefined);
  const inRoot = (paths: readonly string[]): readonly string[] => (chroot === undefined ? paths : chrootHostPaths(chroot, paths));
  const planned = [...pathGrants("fsReadable", inRoot(policy.fsReadable)), ...pathGrants("fsWritable", inRoot(policy.fsWritable)), ...workdirGrants(policy.workdir)];
  const given = chroot === undefined ? planned : splitAroundBinds(chroot, planned);
  const mounts = procfsMounts();
  // The kernel-native view: the fresh procfs and the uts namespace show the sandbox's own
  // processes and name natively, so the view has no procfs mount and no hostname to serve.
  const user = userMapping(policy);
  const requested = kernelViewRequested(policy);
  const kernelBlock = requested ? (usernsUnavailable() ?? (policy.workdir !== undefined ? "workdir (its overlay is mounted in a namespace of its own)" : undefined) ?? (chroot !== undefined ? "chroot (its root is built in a mount namespace of the launcher's)" : undefined) ?? kernelViewBlocked(policy, active.has("fs"), given, mounts)) : undefined;
  // procView "kernel" asks for this view only: a fallback fails the start, naming why.
  if (policy.procView === "kernel" && kernelBlock !== undefined) throw new PolicyError("procView", "kernel", `procView: "kernel" cannot apply: ${kernelBlock} (leave procView unset to fall back to the supervised view)`);
  const kernel = requested && kernelBlock === undefined;
  // cpuCores is a bound where a supervisor can enforce it (every sched_setaffinity made by
  // it, intersected with these CPUs); without one it stays the starting affinity.
  if (!unsupervised && policy.cpuCores !== undefined) supervision.affinity = { cpus: [...policy.cpuCores], nsPids: kernel };
  // Epoll watches are counted per user (user_struct: no namespace has a level of its own,
  // the kernel view's included) and libuv aborts when an add fails: a sandbox that took
  // them all aborted every Node process of its uid that then added a descriptor, its own
  // supervisor among them (the twentieth review). The supervisor counts its adds.
  const epollLimit = unsupervised ? undefined : host.epollWatchesLimit;
  const asked = policy.maxEpollWatches;
  if (asked !== undefined && epollLimit !== undefined && asked > epollLimit) {
    throw new PolicyError("maxEpollWatches", asked, `maxEpollWatches: ${asked} is more than this host's fs.epoll.max_user_watches (${epollLimit}), which every process of the uid shares`);
  }
  const budget = asked ?? (epollLimit === undefined ? undefined : epollBudget(epollLimit));
  // The launcher traces every process (timeStart, policyFn): counts that hold the sandbox
  // still ask it to (supervise/count-still.ts).
  const traced = policy.timeStart !== undefined || policy.policyFn !== undefined;
  if (!unsupervised && budget !== undefined) supervision.epoll = { budget, explicit: asked !== undefined, traced };
  // Pipe pages are counted per user too (fs.pipe-user-pages-soft): past it every new pipe
  // of the uid has 2 pages instead of 16, root's processes without CAP_SYS_RESOURCE
  // included (the twentieth review). The supervisor counts the sandbox's pipes.
  const pipePages = unsupervised ? undefined : host.pipePagesLimit;
  if (pipePages !== undefined) supervision.pipes = { budget: pipeBudget(pipePages), traced };
  const viewPolicy = kernel ? { name: undefined, numCpus: policy.numCpus, maxMemory: policy.maxMemory, randomSeed: policy.randomSeed, deterministicDirs: policy.deterministicDirs, netAllow: policy.netAllow, netDeny: policy.netDeny } : policy;
  const computed = computeView(viewPolicy, given, active.has("fs"), kernel ? [] : mounts, undefined, resolved);
  // Without a supervisor nothing counts pseudo-terminals: the multiplexers get their rules
  // back, and kernel.pty.max alone bounds them (docs/security.md, Known limits).
  const grants = unsupervised ? [...withoutProcfs(given, computed.grants, mounts, active.has("fs")), ...multiplexerGrants(computed.view.ptmx ?? [])] : computed.grants;
  if (!unsupervised) supervision.view = traced ? { ...computed.view, traced: true } : computed.view;
  const denied = policy.fsDenied.length > 0 ? deniedFeature(inRoot(policy.fsDenied), grants, active.has("fs")) : undefined;
  const adjustments: Adjustment[] = [];
  // protectedFiles: the supervisor performs every name operation and write open beneath
  // the writable grants and refuses protected positions at any depth, existing or not
  // (handlers/names.ts). The read-only binds of the existing names (launcher/deny.c) are
  // then left out: the supervisor refuses more than they did, on every host, and a sandbox
  // without a namespace of its own resolves paths without going through its root. They
  // remain for a sandbox without a supervisor. A workdir keeps the binds and its commit
  // check (cow/commit.ts holds protected changes back): inside its overlay a new protected
  // name runs nothing outside, and the user decides at commit.
  const namesSupervised = policy.protectedFiles && active.has("fs") && !unsupervised && policy.workdir === undefined;
  // A config git reads that includes a file in a writable grant: refused (protect-includes.ts).
  if (policy.protectedFiles && active.has("fs")) refuseIncludedConfigs(grants);
  const protect = policy.protectedFiles ? protectedFeature(grants, adjustments, namesSupervised) : undefined;
  const blocked = blockedSyscalls(policy.extraDenySyscalls, policy.extraAllowSyscalls);
  // SysV lifted outside the kernel view (whose IPC namespace is the sandbox's own): the
  // objects live in the host's namespace, so the supervisor makes and removes them.
  const sysvCalls = kernel || unsupervised ? [] : SYSV_GETS.filter((c) => !blocked.includes(c));
  if (sysvCalls.length > 0) supervision.sysv = { calls: sysvCalls };
  if (policy.maxMemory !== undefined) {
    supervision.memoryWritable = grants.filter((g) => g.writable).map((g) => g.path);
    if (!blocked.includes("shmget")) supervision.sysvShm = true;
  }
  const bindPorts = expandBindSpecs(policy.netAllowBind);
  // chroot: the supervisor proves a file beneath a writable grant from the sandbox's root,
  // where each grant has its path inside the root.
  const proved = chroot === undefined ? grants : grants.map((g) => ({ ...g, inRoot: chrootVirtualPath(chroot, rootedPath(g.path)) ?? "" }));
  // The ports the supervisor holds its own binds and listens to: Landlock's bind rules, or
  // every port where its TCP protection is not in force.
  const tcpBind = active.has("net-tcp") ? bindPorts : "any";
  // A UDP socket the sandbox binds receives whatever is sent to its port, from the host or
  // anywhere (Landlock has no UDP rules before ABI 8): where UDP is allowed, the
  // supervisor makes the sandbox's UDP sockets with a locked filter that drops datagrams to
  // ports netAllowBind does not list, but for the ephemeral range (handlers/net.ts).
  // A denylist allows every protocol to every other address.
  const allows = (protocol: "udp" | "icmp"): boolean => policy.netDeny.length > 0 || policy.netAllow.some((r) => r.protocols.includes(protocol));
  const allowUdp = allows("udp");
  const udpBind = allowUdp && !unsupervised && !kernel && bindPorts !== "any" ? bindPorts : undefined;
  // The filter takes UDP_RANGES_MAX pairs of ports, one of them the ephemeral range.
  const udpRanges = udpBind === undefined ? 0 : portRanges(udpBind).length;
  if (udpRanges > UDP_RANGES_MAX - 1) {
    throw new PolicyError("netAllowBind", policy.netAllowBind, `netAllowBind: ${udpRanges} separate runs of ports; where UDP is allowed a UDP socket's filter takes at most ${UDP_RANGES_MAX - 1} (list ranges such as "9000-9100" rather than single ports)`);
  }
  const net = netSupervision(policy, resolved, {
    netTcp: active.has("net-tcp"), fs: active.has("fs"), grants: proved, scopes: active.has("scopes"), ownNetns: kernel, bind: tcpBind, portRemap: policy.portRemap, udpBind, maxOpenFiles: policy.maxOpenFiles,
  });
  if (!unsupervised) supervision.net = net;
  const timeStart = unsupervised ? undefined : policy.timeStart;
  if (timeStart !== undefined) supervision.clock = true;
  // policyFn needs the supervisor: policy/unsupervised.ts refuses it without one.
  const policyFn = !unsupervised && policy.policyFn !== undefined;
  if (policyFn) supervision.policyExec = { granted: grants.map((g) => g.path) };
  // Without the filesystem protection nothing bounds writes, so metadata is not trapped.
  // The supervisor resolves the sandbox's paths from its own root (ownMounts) when the
  // sandbox has mounts of its own: a workdir's overlay, fsDenied's covers, the read-only
  // binds, a chroot, or the kernel view's constructed root (where a path outside the grants
  // does not exist: ENOENT, as for the calls the kernel answers itself).
  const ownMounts = policy.workdir !== undefined || denied !== undefined || protect !== undefined || chroot !== undefined || kernel;
  // The supervised view: watches too (a path outside the grants exists there; Landlock has
  // no right for a watch). The kernel view's root holds only the grants, but a denied path's
  // parent is the host's directory there too (its watch names the denied entry).
  const watches = !kernel || denied !== undefined ? { watchGrants: proved, ...(denied !== undefined ? { watchDenied: denied.map((d) => d.path) } : {}), ...(kernel ? {} : { inotifyBroker: true as const }) } : {};
  if (active.has("fs") && !unsupervised) supervision.meta = { writable: proved.filter((g) => g.writable), ...(ownMounts ? { ownMounts: true } : {}), ...(user !== undefined ? { user } : {}), ...watches };
  if (namesSupervised && supervision.meta !== undefined) supervision.meta = { ...supervision.meta, protect: true };
  // policyFnFiles: every open is an event, performed by the supervisor (handlers/names-open.ts),
  // which proves reads and writes beneath the grants as Landlock would allow them.
  const fileEvents = policyFn && policy.policyFnFiles;
  if (fileEvents && !active.has("fs")) throw new ConfinementError("policyFnFiles: the supervisor performs the opens it asks the callback about, and proves each beneath the grants Landlock enforces; with the filesystem protection disabled there are none: enable it, or leave policyFnFiles off", {});
  if (namesSupervised || fileEvents) {
    supervision.names = { writable: grants.filter((g) => g.writable), grants, protect: namesSupervised, events: fileEvents, ...(ownMounts ? { ownMounts: true } : {}) };
  }
  const rlimits: Rlimit[] = [];
  if (policy.maxOpenFiles !== undefined) {
    let n = BigInt(policy.maxOpenFiles);
    // Never above the hard limit we run under: raising it would fail (EPERM) for an
    // unprivileged caller, and for root it would hand the sandbox more than its caller has.
    const hard = host.openFilesHardLimit;
    if (hard !== undefined && n > hard) {
      adjustments.push({ field: "maxOpenFiles", requested: policy.maxOpenFiles, applied: Number(hard), reason: `above this process's hard RLIMIT_NOFILE (${hard})` });
      n = hard;
    }
    rlimits.push({ resource: RLIMIT.NOFILE, name: "RLIMIT_NOFILE", cur: n, max: n, late: true });
  }
  if (policy.noCoredump) rlimits.push({ resource: RLIMIT.CORE, name: "RLIMIT_CORE", cur: 0n, max: 0n });
  // Queued signals are counted per user, the sandbox's with its caller's uid's, and a
  // queue is refused when that count passes the receiver's own limit: at half of its
  // caller's, a sandbox that queues all it may (real-time signals to its own blocked
  // threads, POSIX timers) leaves the other half to its uid's processes outside, whose
  // sigqueue and timer_create got EAGAIN until it ended (the twentieth review).
  const pending = host.pendingSignalsLimit;
  if (pending !== undefined && pending > 1n) rlimits.push({ resource: RLIMIT.SIGPENDING, name: "RLIMIT_SIGPENDING", cur: pending / 2n, max: pending / 2n });

  const notify = notifiedSyscalls(supervision);
  return {
    enforcement,
    active,
    grants,
    net: { connect: connectGrants(policy), bind: bindPorts },
    supervision,
    seccomp: {
      blocked,
      notify,
      notifyThreads: threadClones(supervision),
      ...(supervision.epoll !== undefined ? { epollAdds: true } : {}),
      // The sandbox's SysV objects may not be given to another owner (handlers/sysv.ts).
      ...(supervision.sysv !== undefined ? { refuseIpcSet: true } : {}),
      capBuffers: supervision.maxMemory !== undefined,
      ...(supervision.pipes !== undefined ? { capPipeSize: true } : {}),
      allowUdp,
      ...(udpBind !== undefined ? { udpOnBehalf: true } : {}),
      // Every bind but an autobind goes to the supervisor, which refuses abstract names.
      ...(!unsupervised && net.refuseAbstractBind ? { unixBinds: true } : {}),
      allowPing: allows("icmp"),
      // Port rules allow every address, so a source route reaches nothing they do not.
      denySourceRouting: !net.portRulesOnly,
      // The kernel view has a network namespace of its own; anywhere else a reuseport
      // group would be shared with the host's servers of the same uid. Under portRemap the
      // supervisor makes every TCP bind to a port, and one a host socket holds is remapped
      // (asked with a socket of its own, without the option): the sandbox's listeners may
      // share a port among themselves there.
      ...(kernel || (policy.portRemap && !unsupervised) ? {} : { refuseReusePort: true }),
      // The launcher scopes signals itself on ABI 6 (native/launcher/scope.c), whatever
      // the policy; below that, the supervisor decides every signal.
      trapSignals: host.landlockAbi < 6,
      inodeIoctls: supervision.meta !== undefined || (unsupervised && active.has("fs")) ? { notify: [...INODE_IOCTLS.keys()], unsupported: UNSUPPORTED_INODE_IOCTLS } : undefined,
      ...(unsupervised ? { unsupervised: true } : {}),
      // Without a supervisor, where TCP binds are restricted (to no port: the policy refuses
      // a list of ports, policy/unsupervised.ts), no listen is safe to let through.
      ...(unsupervised && tcpBind !== "any" ? { refuseListen: true } : {}),
      // The kernel view's pid namespace bounds every pid the sandbox can name.
      ...(kernel ? { pidNamespace: true } : {}),
      // portRemap: every bind goes to the supervisor (the filter otherwise routes only
      // netlink-sized ones).
      // policyFn: every bind too (an event), and execve and execveat.
      ...(policy.portRemap && !unsupervised || policyFn ? { notifyWhole: [...(policy.portRemap && !unsupervised || policyFn ? ["bind"] : []), ...(policyFn ? ["execve", "execveat"] : [])] } : {}),
      ...(timeStart !== undefined ? { virtualClock: true } : {}),
      ...(supervision.names !== undefined ? { names: true } : {}),
      // No set-id bit in a created file's mode, no whiteout, no dnotify, wherever the
      // filesystem protection holds.
      ...(active.has("fs") ? { fsGuards: true } : {}),
      ...(policy.noHugePages ? { keepThpDisabled: true } : {}),
    },
    rlimits,
    cpuCores: policy.cpuCores,
    noRandomizeMemory: policy.noRandomizeMemory,
    noHugePages: policy.noHugePages,
    maxCpu: policy.maxCpu,
    niceIncrement: notify.length > 0 && host.raisesPriority !== true ? RECEIVER_RAISE : 0,
    adjustments,
    ...(kernel ? { kernelView: { name: policy.name } } : {}),
    ...(policy.workdir !== undefined ? { cow: { workdir: realWorkdir(policy.workdir), maxDisk: policy.maxDisk } } : {}),
    ...(denied !== undefined ? { denied } : {}),
    ...(protect !== undefined ? { protect } : {}),
    ...(kernelBlock !== undefined ? { kernelViewFallback: kernelBlock } : {}),
    ...(timeStart !== undefined ? { timeStartMs: timeStart.getTime() } : {}),
    ...(policyFn ? { traceExecs: true } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(chroot !== undefined ? { chroot } : {}),
  };
}
