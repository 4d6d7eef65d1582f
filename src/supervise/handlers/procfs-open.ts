// Opens under /proc (SPEC 4.4): another process's directory and the hidden kernel files
// give EACCES; the sandbox's own process files are opened by the supervisor on the
// caller's behalf, because Landlock (plan/proc-grants.ts) grants no process directory;
// its mount tables and /proc/net are filtered copies (procfs-virtual.ts).

import { closeSync, readSync } from "node:fs";
import { native } from "../../confine/native.js";
import { HIDDEN_PROC_FILES, within } from "../../plan/proc-grants.js";
import { CONTINUE, deny, type Action } from "../action.js";
import type { Handler, SupervisorContext } from "../handler.js";
import type { Members } from "../members.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O, RESOLVE, callerStatus, readOpen, readSmall, wantsWrite, type OpenRequest, type Resolved } from "../paths.js";
import { visibleInterfaces } from "../interface-view.js";
import { sysctlEntryShown, sysctlInterfaceEntry } from "../proc-net.js";
import { serveVirtual, virtualProcFile, type VirtualSpec } from "./procfs-virtual.js";

const EACCES = 13;
const ENOENT = 2;
const NUMERIC = /^[0-9]+$/;
/** Flags openat2 accepts (it refuses unknown bits where openat ignores them). */
const VALID_FLAGS = 0o37777703;
const BENEATH_ONLY = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;

/** Files of a fellow process the sandbox may read: world-readable, and none checks the
 * opener's ptrace rights or remembers its credentials (what ps, top and pgrep read). */
const INFO_FILES = new Set([
  "stat", "statm", "status", "cmdline", "comm", "cgroup", "limits", "oom_score", "oom_score_adj",
  "oom_adj", "loginuid", "sessionid", "wchan", "schedstat", "sched", "cpuset",
]);

export interface ProcStatus {
  tgid: number;
  ppid: number;
  /** The Uid, Gid and Groups lines: equal strings, equal identities. */
  ids: string;
  /** The effective capabilities (CapEff). */
  capEff: bigint;
}

export function parseStatus(text: string): ProcStatus | null {
  const line = (key: string): string | undefined => new RegExp(`^${key}:(.*)$`, "m").exec(text)?.[1]?.trim();
  const tgid = Number(line("Tgid"));
  const ppid = Number(line("PPid"));
  if (!Number.isInteger(tgid) || !Number.isInteger(ppid) || tgid <= 0) return null;
  const capEff = /^[0-9a-f]{1,16}$/.test(line("CapEff") ?? "") ? BigInt(`0x${line("CapEff")}`) : -1n;
  return { tgid, ppid, ids: ["Uid", "Gid", "Groups"].map((k) => line(k) ?? "").join("|"), capEff };
}

/** The status of the process whose /proc directory dirfd is (null: gone or unreadable). */
export function statusAt(dirfd: number): ProcStatus | null {
  const fd = native().openat2(dirfd, "status", O.CLOEXEC, 0, BENEATH_ONLY);
  if (fd < 0) return null;
  try {
    const buf = Buffer.alloc(8192);
    return parseStatus(buf.toString("latin1", 0, readSync(fd, buf)));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

let ownStatus: ProcStatus | null | undefined;
/** The supervising process's own status (identities and capabilities), read once. */
export function supervisorStatus(): ProcStatus | null {
  if (ownStatus === undefined) ownStatus = parseStatus(readSmall("/proc/self/status") ?? "");
  return ownStatus;
}

/** rest (below a process directory) is that directory, task/, task/<tid>/, or an info file in one. */
function infoPath(rest: readonly string[]): boolean {
  const r = rest[0] === "task" && rest.length >= 2 && NUMERIC.test(rest[1]!) ? rest.slice(2) : rest[0] === "task" ? rest.slice(1) : rest;
  return r.length === 0 || (r.length === 1 && INFO_FILES.has(r[0]!));
}

export interface ProcfsOpenSpec extends VirtualSpec {
  mounts: readonly string[];
  writable: boolean;
}

/** EACCES for an open of `path`, noted as a refusal of the /proc view (RunResult.refused). */
function refuse(ctx: SupervisorContext, path: string, why: string): Action {
  ctx.observe({ kind: "refused", syscall: "open", errno: EACCES, target: path, why });
  return deny(EACCES);
}

export function procfsOpenHandler(spec: ProcfsOpenSpec, ctx: SupervisorContext, members: Members): Handler {
  return (n) => {
    const req = readOpen(n, ctx.memory);
    if (req === null || req.target.kind === "unknown") return undefined; // the kernel and Landlock decide
    // Every process directory on the way counts: "/proc/1/cwd/x" and "/proc/1/exe" are
    // /proc/1's. The caller's own process is a member too.
    if (req.target.pids.some((pid) => pid !== n.pid && !members.has(pid))) return refuse(ctx, req.target.kind === "path" || req.target.kind === "magic" ? req.target.path : req.raw, "another process's /proc entry (the /proc view)");
    if (req.target.kind === "magic") return undefined; // Landlock checks where the link leads
    const path = req.target.path;
    const mount = spec.mounts.find((m) => path !== m && within(path, m));
    if (mount === undefined) return undefined;
    const rel = path.slice(mount.length + 1).split("/");
    // Denials act on the supervisor's copy of the path: whatever the caller's memory says
    // later, this call fails. A racing rewrite of a path we let continue meets Landlock,
    // which grants none of these.
    if (HIDDEN_PROC_FILES.includes(rel[0]!)) return refuse(ctx, path, "hidden by the /proc view");
    // /proc/sys/net/*/{conf,neigh}/<interface>: an interface the sandbox may not see does
    // not exist for it. (Landlock grants /proc/sys whole, so a racing rewrite of a path we
    // let continue can still read these sysctls, for a name the sandbox already knows:
    // stat, not trapped, tells which names exist anyway. Listing them is race-free.)
    const sysctlEntry = sysctlInterfaceEntry(rel);
    if (sysctlEntry !== undefined && sysctlEntry !== "" && !sysctlEntryShown(sysctlEntry, visibleInterfaces(spec.interfaces).names)) return deny(ENOENT);
    if (!NUMERIC.test(rel[0]!)) return undefined; // meminfo, sys/...: granted entries
    return openProcessFile(n, ctx, req, req.target, mount, Number(rel[0]), rel.slice(1), spec, members);
  };
}

function openProcessFile(
  n: Notification, ctx: SupervisorContext, req: OpenRequest, target: Extract<Resolved, { kind: "path" }>,
  mount: string, pid: number, rest: string[], spec: ProcfsOpenSpec, members: Members,
): Action | Promise<Action> | undefined {
  const nat = native();
  const caller = parseStatus(callerStatus(n) ?? "");
  if (caller === null) return deny(EACCES);
  // The directory first, then who it is: a directory fd stays bound to its process, so a
  // pid that dies and is reused after this check cannot swap what we open below.
  const dirfd = nat.openat2(AT_FDCWD, `${mount}/${pid}`, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS);
  if (dirfd < 0) return deny(-dirfd);
  try {
    // The caller's own process or thread needs no second look: it is blocked in this call
    // (still valid after the directory was opened), so its pid cannot have been reused.
    let own = (pid === caller.tgid || pid === n.pid) && ctx.memory.stillValid(n);
    if (!own) {
      const status = statusAt(dirfd);
      if (status === null) return deny(ENOENT);
      own = status.tgid === caller.tgid;
      if (!own && !members.hasParent(status.ppid)) return refuse(ctx, target.path, "another process's /proc entry (the /proc view)");
    }
    // O_PATH gives no content and openat2 with RESOLVE_* flags is not reproduced here: the
    // kernel decides, and Landlock refuses content of any process directory.
    if ((req.flags & O.PATH) !== 0 || req.resolve !== 0) return CONTINUE;
    if (target.symlinkLast && (req.flags & O.NOFOLLOW) !== 0) return CONTINUE; // the kernel's ELOOP
    // The mount tables and /proc/net: a filtered copy, for any process of the sandbox.
    const virtual = virtualProcFile(rest);
    if (virtual !== undefined) return serveVirtual(virtual, dirfd, rest.join("/"), req.flags, target.trailingSlash, spec, n, ctx);
    const write = wantsWrite(req.flags);
    // What Landlock would have allowed had /proc been granted whole: writes only under a
    // writable grant.
    if (write && !spec.writable) return deny(EACCES);
    // The supervisor opens on the caller's behalf; that must give the caller no more than
    // opening the file itself would. It does for the caller's own process when the
    // identities (uid, gid, groups) are the same and the open is made with the caller's
    // effective capabilities: the supervisor's thread lowers its own to the caller's for
    // the call (root inside the sandbox holds none, the root supervisor all), so DAC
    // override, CAP_SYS_ADMIN-only content (pagemap frame numbers, kernel stacks) and the
    // credentials the kernel records in the open file are the caller's. Anything else is
    // limited to the files any process may read.
    const self = supervisorStatus();
    const trusted = own && self !== null && caller.ids === self.ids && caller.capEff >= 0n;
    if (!trusted && (write || !infoPath(rest))) return deny(EACCES);
    let sub = rest.length > 0 ? rest.join("/") : ".";
    if (target.trailingSlash) sub += "/"; // ENOTDIR on a file, as the kernel answers
    const creating = (req.flags & (O.CREAT | O.TMPFILE)) !== 0;
    const how = [dirfd, sub, (req.flags & VALID_FLAGS) | O.CLOEXEC, creating ? req.mode & 0o7777 : 0, BENEATH_ONLY] as const;
    const fd = trusted && caller.capEff !== self!.capEff ? nat.openat2As(...how, caller.capEff) : nat.openat2(...how);
    if (fd < 0) return deny(-fd);
    return { kind: "inject", fd, cloexec: (req.flags & O.CLOEXEC) !== 0, close: true };
  } finally {
    closeSync(dirfd);
  }
}
