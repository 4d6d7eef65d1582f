// What the sandbox sees of its host (SPEC 4.4): its hostname, its CPU count, the procfs
// mounts where other processes are hidden, and the virtual files the supervisor serves.
// Only files the grants reach are virtual: the others Landlock refuses, as it should.

import { hostMounts, type MountEntry } from "../kernel/mounts.js";
import type { NetRule } from "../policy/types.js";
import { interfaceScope, type InterfaceScope } from "./interface-view.js";
import type { PathGrant } from "./landlock.js";
import type { ResolvedHosts } from "./net-rules.js";
import { carveOut } from "./carve.js";
import { deviceTrees, limitDevices, type Multiplexer } from "./dev-grants.js";
import { kernelFs, readOnlyKernelFs } from "./kernel-fs-grants.js";
import { HOST_FS, childPath, hideProcesses, within, type EntryType, type FsView } from "./proc-grants.js";

/** locks, sysvipc: /proc files that list host processes' pids, served with the
 * sandbox's own lines (supervise/proc-host.ts). */
export type VirtualKind = "hostname" | "cpuinfo" | "cpulist" | "meminfo" | "locks" | "sysvipc" | "random";

/** The random devices a randomSeed makes a seeded stream (getrandom too). */
export const RANDOM_DEVICES = ["/dev/urandom", "/dev/random"];

export interface VirtualFile {
  path: string;
  kind: VirtualKind;
}

export interface ViewSpec {
  /** The hostname the sandbox sees (uname's nodename, /etc/hostname, /proc/sys/kernel/hostname)
   * when the policy names the sandbox; without a name it sees the host's (SPEC 4.4). */
  hostname?: string;
  /** CPUs shown by sched_getaffinity, /proc/cpuinfo and /sys/devices/system/cpu/{online,...}. */
  numCpus?: number;
  /** maxMemory, shown as MemTotal in /proc/meminfo. */
  memoryCap?: bigint;
  /** randomSeed: getrandom and the random devices give a stream seeded with it. */
  randomSeed?: bigint;
  /** deterministicDirs: every listing is performed by the supervisor, sorted by name. */
  sortedDirs?: boolean;
  /** Procfs mounts the grants reach, where only the sandbox's processes are visible.
   * reach: the grants' real paths; the mount tables show only the mounts they reach. */
  procfs?: { mounts: readonly string[]; writable: boolean; reach: readonly string[] };
  /** The host network interfaces the sandbox sees (plan/interface-view.ts). */
  interfaces: InterfaceScope;
  /** Virtual files the grants reach. */
  files: readonly VirtualFile[];
  /** devpts mounts the grants reach: the sandbox opens its own pseudo-terminals there
   * through the supervisor (Landlock grants none of them); writable: a writable grant. */
  pts?: { mounts: readonly string[]; writable: boolean };
  /** Pseudo-terminal multiplexers the grants reach (/dev/ptmx): the supervisor makes their
   * opens, each a new terminal pair counted against the sandbox's share of kernel.pty.max
   * (plan/dev-grants.ts Multiplexer); Landlock grants none of them. */
  ptmx?: readonly Multiplexer[];
  /** The launcher traces the sandbox (timeStart, policyFn): a count that needs the sandbox
   * held still asks the launcher to hold it (supervise/count-still.ts). */
  traced?: boolean;
}

/** The syscalls the supervisor answers for this view: uname for a named sandbox, opens only
 * when a virtual file or a procfs mount is reachable (each open then pays a round trip). */
export function viewSyscalls(v: ViewSpec): string[] {
  const out: string[] = [];
  if (v.hostname !== undefined) out.push("uname");
  if (v.numCpus !== undefined) out.push("sched_getaffinity");
  if (v.randomSeed !== undefined) out.push("getrandom");
  if (v.procfs !== undefined || v.files.length > 0 || v.pts !== undefined || v.ptmx !== undefined) out.push("open", "openat", "openat2", "creat");
  if (v.procfs !== undefined || v.sortedDirs === true) out.push("getdents64", "getdents");
  return out;
}

const CPU_LISTS = ["online", "possible", "present"].map((f) => `/sys/devices/system/cpu/${f}`);

function candidates(mounts: readonly string[], named: boolean, numCpus: number | undefined, memoryCap: bigint | undefined, seeded: boolean): VirtualFile[] {
  const files: VirtualFile[] = [];
  if (seeded) for (const path of RANDOM_DEVICES) files.push({ path, kind: "random" });
  if (named) {
    files.push({ path: "/etc/hostname", kind: "hostname" });
    for (const m of mounts) files.push({ path: `${m}/sys/kernel/hostname`, kind: "hostname" });
  }
  if (numCpus !== undefined) {
    for (const m of mounts) files.push({ path: `${m}/cpuinfo`, kind: "cpuinfo" });
    for (const path of CPU_LISTS) files.push({ path, kind: "cpulist" });
  }
  if (memoryCap !== undefined) for (const m of mounts) files.push({ path: `${m}/meminfo`, kind: "meminfo" });
  for (const m of mounts) {
    files.push({ path: `${m}/locks`, kind: "locks" });
    for (const f of ["shm", "msg", "sem"]) files.push({ path: `${m}/sysvipc/${f}`, kind: "sysvipc" });
  }
  return files;
}

/**
 * The view and the grants to give Landlock. With Landlock's filesystem protection off,
 * everything is reachable: every procfs mount is virtualised, best effort (see
 * handlers/procfs-open.ts on what only Landlock makes race-free).
 */
export function computeView(
  policy: {
    name: string | undefined;
    numCpus: number | undefined;
    maxMemory?: bigint | undefined;
    randomSeed?: bigint | undefined;
    deterministicDirs?: boolean;
    netAllow?: readonly NetRule[];
    netDeny?: readonly NetRule[];
  },
  grants: readonly PathGrant[],
  fsActive: boolean,
  mounts: readonly string[],
  fs: FsView = HOST_FS,
  resolved: ResolvedHosts = new Map(),
  table: readonly MountEntry[] = hostMounts(),
): { view: ViewSpec; grants: PathGrant[] } {
  // Each pass below asks for the real path of every grant it sees, most of them the
  // entries an earlier pass produced: one lookup per path for the whole computation.
  fs = cachedRealpath(fs);
  const real = (p: string): string => {
    try {
      return fs.realpath(p);
    } catch {
      return p;
    }
  };
  let out = [...grants];
  let procfs: ViewSpec["procfs"];
  const roots = grants.map((g) => real(g.path));
  let pts: ViewSpec["pts"];
  let ptmx: ViewSpec["ptmx"];
  if (fsActive) {
    // Kernel interfaces first, on the policy's own grants (a writable one naming sysfs is
    // refused; debugfs and tracefs are left out), then the process directories, then the
    // device nodes.
    out = readOnlyKernelFs(grants, kernelFs(table, (p) => realIfExists(fs, p).length > 0), fs);
    const hidden = hideProcesses(out, mounts, fs);
    if (hidden.reached.length > 0) procfs = { mounts: hidden.reached, writable: hidden.writable, reach: roots };
    const devices = limitDevices(hidden.grants, deviceTrees(table, realIfExists(fs, "/dev")[0]), fs);
    out = devices.grants;
    pts = devices.pts;
    if (devices.ptmx.length > 0) ptmx = devices.ptmx;
  } else {
    // No filesystem rules: every path is reached, so every mount is shown.
    procfs = { mounts, writable: true, reach: ["/"] };
  }
  const reachable = (f: string): boolean => !fsActive || roots.some((r) => within(real(f), r));
  const files = candidates(mounts, policy.name !== undefined, policy.numCpus, policy.maxMemory, policy.randomSeed !== undefined).filter((f) => reachable(f.path));
  // The real files behind the virtual ones get no Landlock rule (race-free serving).
  if (fsActive) out = carveOut(out, files.flatMap((f) => realIfExists(fs, f.path)), fs).grants;
  const interfaces = interfaceScope({ netAllow: policy.netAllow ?? [], netDeny: policy.netDeny ?? [] }, resolved);
  const view: ViewSpec = { files, interfaces };
  if (policy.name !== undefined) view.hostname = policy.name;
  if (policy.numCpus !== undefined) view.numCpus = policy.numCpus;
  if (policy.maxMemory !== undefined) view.memoryCap = policy.maxMemory;
  if (policy.randomSeed !== undefined) view.randomSeed = policy.randomSeed;
  if (policy.deterministicDirs === true) view.sortedDirs = true;
  if (procfs !== undefined) view.procfs = procfs;
  if (pts !== undefined) view.pts = pts;
  if (ptmx !== undefined) view.ptmx = ptmx;
  return { view, grants: out };
}

function realIfExists(fs: FsView, path: string): string[] {
  try {
    return [fs.realpath(path)];
  } catch {
    return []; // no such file: nothing to leave out
  }
}

function cachedRealpath(fs: FsView): FsView {
  const seen = new Map<string, string | Error>();
  const realpath = (p: string): string => {
    let r = seen.get(p);
    if (r === undefined) {
      try {
        r = fs.realpath(p);
        if (!seen.has(r)) seen.set(r, r); // a real path is its own
      } catch (e) {
        r = e as Error;
      }
      seen.set(p, r);
    }
    if (r instanceof Error) throw r;
    return r;
  };
  // An entry listed in a directory whose real path is itself, and that is not a symbolic
  // link, is its own real path too: that follows from the listing (names and types, noted
  // for the plan cache's check) and the directory's own resolution, so it needs no lstat
  // of its own, nor a read of its own for the check to repeat (a /proc grant split into its
  // 40-odd entries made 40 of each: 0.3 ms of every cached start).
  const list = (dir: string, wanted: (name: string) => boolean, procRoot?: boolean): { name: string; type: EntryType }[] => {
    const entries = fs.list(dir, wanted, procRoot);
    if (seen.get(dir) === dir) {
      for (const e of entries) {
        if (e.type === "symlink") continue;
        const path = childPath(dir, e.name);
        if (!seen.has(path)) seen.set(path, path);
      }
    }
    return entries;
  };
  const out: FsView = { realpath, list };
  if (fs.type !== undefined) out.type = (p) => fs.type!(p);
  return out;
}
