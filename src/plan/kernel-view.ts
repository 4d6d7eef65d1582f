// The kernel-native view (policy procView, SANDLOCK_KERNEL_VIEW): when the host allows user
// namespaces and the policy needs no host network, the command runs in its own namespaces
// with a constructed root (native/launcher/ns.c), and nothing of the /proc view or the
// hostname is trapped. Otherwise the supervised view, the declared fallback.

import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import type { Policy } from "../policy/policy.js";
import type { PathGrant } from "./landlock.js";
import { HIDDEN_PROC_FILES, within } from "./proc-grants.js";
import { grantRealpath } from "./grant-path.js";
import { refuseNul } from "./nul.js";
import { readProcText } from "../kernel/proc-text.js";

/**
 * The view a policy that leaves procView unset gets where the kernel view applies: the
 * kernel view (docs/kernel-view.md, "The default"); false makes the supervised view the
 * default again.
 */
export const KERNEL_VIEW_DEFAULT = true;

/**
 * Whether the kernel view is asked for: the policy's procView, else the environment's
 * SANDLOCK_KERNEL_VIEW (0 or 1: tests and benches run every case under either view), else
 * KERNEL_VIEW_DEFAULT. Read at each start (the bench toggles the environment in-process).
 */
export function kernelViewRequested(policy?: Pick<Policy, "procView">): boolean {
  if (policy?.procView !== undefined) return policy.procView === "kernel";
  const v = process.env.SANDLOCK_KERNEL_VIEW;
  if (v === undefined || v === "") return KERNEL_VIEW_DEFAULT;
  if (v === "0" || v === "1") return v === "1";
  throw new Error(`SANDLOCK_KERNEL_VIEW: ${JSON.stringify(v)} is neither 0 (the supervised view) nor 1 (the kernel view where it applies); unset it for the default`);
}

function sysctl(path: string): number | undefined {
  try {
    return Number(readProcText(path).trim());
  } catch {
    return undefined; // not this kernel's knob
  }
}

let usernsCached: string | undefined | null = null;

/**
 * Why this host cannot give the sandbox its own namespaces, or undefined when it can. Read
 * from the knobs that refuse them (the count, Debian's and Ubuntu's switches for
 * unprivileged callers) and from whether this process already runs under a seccomp filter
 * (a sandbox inside a sandbox: sandlock's own filter refuses namespace clones). A refusal
 * these miss (an LSM policy) fails the start with the step named, never a weaker view.
 */
export function usernsUnavailable(): string | undefined {
  if (usernsCached !== null) return usernsCached;
  const root = process.getuid?.() === 0;
  let why: string | undefined;
  if ((sysctl("/proc/sys/user/max_user_namespaces") ?? 1) === 0) why = "user.max_user_namespaces is 0";
  else if (!root && sysctl("/proc/sys/kernel/unprivileged_userns_clone") === 0) why = "kernel.unprivileged_userns_clone is 0";
  else if (!root && (sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") ?? 0) !== 0) why = "kernel.apparmor_restrict_unprivileged_userns is set";
  // The launcher reads the command's host pid from the init's children (init.c).
  else if (!existsSync(`/proc/self/task/${process.pid}/children`)) why = "the kernel has no /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN)";
  else if (/^Seccomp:\s*[12]/m.test(readProcText("/proc/self/status"))) why = "this process runs under a seccomp filter (a sandbox inside a sandbox)";
  usernsCached = why;
  return why;
}

/**
 * Why the policy keeps the supervised view, or undefined. The prototype covers the common
 * workspace policy: filesystem protection in force, no network at all (the net namespace
 * has only lo), /proc granted read-only as a whole if at all, and none of the views that
 * still need a virtual file (numCpus, maxMemory's meminfo, randomSeed's devices).
 */
export function kernelViewBlocked(policy: Policy, fsActive: boolean, grants: readonly PathGrant[], procMounts: readonly string[]): string | undefined {
  if (!fsActive) return "the filesystem protection is not in force";
  if (!policy.supervisor) return "supervisor: false";
  if (policy.netAllow.length > 0 || policy.netDeny.length > 0 || policy.netAllowBind.length > 0 || policy.portRemap) return "the policy uses the host network";
  // The launcher traces the command's process from its start; with the init in between
  // the exec stops would have to follow the init's fork: not done yet.
  if (policy.timeStart !== undefined || policy.policyFn !== undefined) return "timeStart and policyFn trace the command from the launcher (not combined with the init yet)";
  if (policy.numCpus !== undefined || policy.maxMemory !== undefined || policy.randomSeed !== undefined) return "numCpus, maxMemory or randomSeed need virtual files";
  // The USERNS step writes the nested namespace's maps through /proc/self (userns.c), which
  // the constructed root has only where /proc is granted: not combined yet.
  if (policy.user !== undefined) return "user (its id maps are written through /proc/self, absent from the constructed root: not combined yet)";
  for (const g of grants) {
    const real = realOr(g.path);
    if (real === "/") return "a grant of / (the constructed root would be the host's)";
    // /dev/ptmx opens the host's devpts multiplexer, whose terminals the bound /dev/pts
    // would not show to the sandbox: a devpts instance of its own is not built yet.
    if (g.writable && within("/dev/ptmx", real)) return `${g.path} is writable and reaches /dev/ptmx (pseudo-terminals need a devpts instance of the sandbox's own: not built yet)`;
    for (const m of procMounts) {
      if (within(m, real) && real !== m) return `${g.path} contains the procfs mount ${m}`;
      if (within(real, m) && (real !== "/proc" || m !== "/proc")) return `${g.path} is in the procfs mount ${m} (only /proc as a whole)`;
      if (real === "/proc" && g.writable) return "/proc granted writable";
    }
  }
  return undefined;
}

export function realOr(p: string): string {
  try {
    return grantRealpath(p);
  } catch {
    return p;
  }
}

/** One operation of the NS_VIEW step (ns.c's run_op): D dir, L symlink, B dir bind,
 * F file bind, P procfs, H hidden file, W content file, N hostname, U a per-user limit of
 * the sandbox's user namespace. */
export type NsOp = readonly [op: "D" | "B" | "F" | "P" | "H", path: string] | readonly [op: "L" | "W", path: string, arg: string] | readonly [op: "N", name: string] | readonly [op: "U", name: string, value: string];

/**
 * The constructed root: every grant bound at its real path (one recursive bind per tree;
 * a grant inside another needs none), symlinked ancestors recreated (/lib -> usr/lib), a
 * fresh procfs at /proc with the hidden files covered, the hostname and /etc/hostname for
 * a named sandbox, and the working directory (empty when it is not granted, absent when
 * the host has none: the chdir step then fails as under the supervised view).
 */
export function nsViewOps(grants: readonly PathGrant[], name: string | undefined, cwd: string): NsOp[] {
  const binds: { real: string; dir: boolean }[] = [];
  const dirsOnly: string[] = [];
  const links = new Map<string, string>();
  let proc = false;
  // The host root's own symlinks (/lib64 -> usr/lib64, /bin -> usr/bin...), whatever the
  // grants name: programs reach their loader and interpreters by these paths (an ELF's
  // PT_INTERP is /lib64/ld-linux-x86-64.so.2 whichever of the two names was granted), and
  // under Landlock a link resolves wherever it lies. Only names: a link whose target is not
  // granted leads nowhere in the constructed root. "/" is root's (grant-path.ts refuses
  // links in a directory others can change), so these are the host's system links.
  for (const [path, target] of rootLinks()) links.set(path, target);
  for (const g of grants) {
    addLinks(g.path, links);
    const real = realOr(g.path);
    if (real === "/proc") proc = true;
    else if (g.dirOnly) dirsOnly.push(real);
    else binds.push({ real, dir: g.isDir });
  }
  binds.sort((a, b) => a.real.length - b.real.length);
  const kept: { real: string; dir: boolean }[] = [];
  for (const b of binds) if (!kept.some((k) => k.dir && within(b.real, k.real))) kept.push(b);
  const covered = (p: string): boolean => kept.some((k) => within(p, k.real)) || (proc && within(p, "/proc"));
  const ops: NsOp[] = [];
  for (const d of dirsOnly) if (!covered(d)) ops.push(["D", d]);
  for (const [path, target] of links) if (!covered(path)) ops.push(["L", path, target]);
  for (const k of kept) ops.push([k.dir ? "B" : "F", k.real]);
  if (proc) {
    ops.push(["P", "/proc"]);
    for (const f of HIDDEN_PROC_FILES) ops.push(["H", `/proc/${f}`]);
    // The kernel lists every open-file-description lock of the host in each pid namespace
    // (pid -1: it has no owner to translate), with the file's device, inode and range: an
    // empty file over /proc/locks (found 2026-12-07). The sandbox's own locks are not
    // listed either; the supervised view serves a copy filtered to its processes.
    ops.push(["H", "/proc/locks"]);
  }
  // Only a directory the host has: a missing one fails the chdir step (ENOENT), as under
  // the supervised view, rather than appearing empty.
  refuseNul(cwd);
  const realCwd = realOr(cwd);
  if (!covered(realCwd) && lstatSync(realCwd, { throwIfNoEntry: false })?.isDirectory() === true) ops.push(["D", realCwd]);
  for (const [limit, value] of sandboxUserLimits()) ops.push(["U", limit, String(value)]);
  if (name !== undefined) {
    ops.push(["N", name]);
    const hostname = realOr("/etc/hostname");
    if (kept.some((k) => within(hostname, k.real))) ops.push(["W", hostname, `${name}\n`]);
  }
  return ops;
}

/** The per-user counts a sandbox could otherwise take whole from its uid (the twentieth
 * review): inotify instances (128 per user here) and watches. (fanotify's groups and marks
 * are counted the same way, but fanotify_init is in the blocklist; the namespace counts
 * need unshare or clone flags the filter refuses.) */
export const USER_LIMITS = ["max_inotify_instances", "max_inotify_watches"] as const;

let userLimitsCached: [string, number][] | undefined;

/**
 * Half of each of the caller's per-user limits (its user namespace's /proc/sys/user, read
 * once per process): the kernel view's sandbox gets a user namespace of its own with these
 * limits (ns.c, user_limit), and since the kernel charges each level up to the host's, a
 * sandbox that holds all it may leaves at least the other half to its uid's processes
 * outside. A limit the kernel lacks is left out.
 */
export function sandboxUserLimits(): [string, number][] {
  if (userLimitsCached !== undefined) return userLimitsCached;
  const out: [string, number][] = [];
  for (const limit of USER_LIMITS) {
    let text: string;
    try {
      text = readFileSync(`/proc/sys/user/${limit}`, "latin1");
    } catch {
      continue;
    }
    const n = Number(text.trim());
    if (Number.isSafeInteger(n) && n > 0) out.push([limit, Math.max(1, Math.floor(n / 2))]);
  }
  userLimitsCached = out;
  return out;
}

let rootLinksCached: [string, string][] | undefined;

/** The symbolic links directly in "/" with their targets (read once per process). */
function rootLinks(): [string, string][] {
  if (rootLinksCached !== undefined) return rootLinksCached;
  const out: [string, string][] = [];
  try {
    if (lstatSync("/").uid === 0) {
      for (const d of readdirSync("/", { withFileTypes: true })) if (d.isSymbolicLink()) out.push([`/${d.name}`, readlinkSync(`/${d.name}`)]);
    }
  } catch {
    // an unreadable root: no links (grants through links still add theirs)
  }
  rootLinksCached = out;
  return out;
}

/** Each symlink on the way to `path`, with its target as written (relative stays relative). */
function addLinks(path: string, links: Map<string, string>): void {
  let cur = "";
  for (const part of path.split("/").filter((x) => x.length > 0)) {
    cur = `${cur}/${part}`;
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isSymbolicLink()) {
      links.set(cur, readlinkSync(cur));
      cur = realOr(cur);
    }
  }
}

/** Where the launcher mounts its staging tmpfs: any directory works (the mount is in the
 * sandbox's own mount namespace, and pivoted away before exec); the first that exists. */
export function stagingDir(): string {
  for (const d of ["/tmp", "/mnt", "/var/tmp", "/opt", "/srv"]) {
    const st = lstatSync(d, { throwIfNoEntry: false });
    if (st?.isDirectory() === true) return d;
  }
  return "/usr";
}

/** The caller's ids for the maps: each maps itself only (ns.c says why root does too). */
export function nsViewPayload(ops: readonly NsOp[], staging: string): Buffer {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const head = Buffer.alloc(16);
  head.writeUInt32LE(uid, 4);
  head.writeUInt32LE(gid, 8);
  const strings: string[] = [staging];
  for (const op of ops) strings.push(...op);
  strings.push("");
  for (const s of strings) refuseNul(s);
  return Buffer.concat([head, Buffer.from(strings.join("\0") + "\0", "utf8")]);
}
