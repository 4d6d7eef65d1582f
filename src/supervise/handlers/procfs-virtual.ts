// Process files whose kernel text tells the host's secrets (issue 9): the mount tables and
// /proc/<pid>/net. The sandbox gets a filtered copy of its process's real file as a sealed
// memfd; /proc/net files that name host interfaces and have no filtered form are refused.

import { closeSync, readdirSync, readSync, readlinkSync } from "node:fs";
import { native } from "../../confine/native.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { visibleInterfaces } from "../interface-view.js";
import { deny, type Action } from "../action.js";
import { processTree } from "../members.js";
import { O, RESOLVE } from "../paths.js";
import { filterMountinfo, filterMounts, filterMountstats } from "../proc-mounts.js";
import { filterInterfaceBlocks, filterInterfaces, filterSockets, netFileRule, type NetFileRule } from "../proc-net.js";

const EACCES = 13;
const EEXIST = 17;
const ENOTDIR = 20;
const NUMERIC = /^[0-9]+$/;
const BENEATH_ONLY = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;
const MOUNT_FILES = new Set(["mounts", "mountinfo", "mountstats"]);

export type VirtualProcFile =
  | { kind: "mounts"; file: "mounts" | "mountinfo" | "mountstats" }
  | { kind: "net"; file: string; rule: Exclude<NetFileRule, { kind: "pass" }> }
  /** A /proc/net entry that names host interfaces and has no filtered form. */
  | { kind: "refused" };

/** What the sandbox gets for `rest` below a process directory (task/<tid>/ included);
 * undefined: not one of these files (the net directory itself and the counters too). */
export function virtualProcFile(rest: readonly string[]): VirtualProcFile | undefined {
  const r = rest[0] === "task" && rest.length >= 3 && NUMERIC.test(rest[1]!) ? rest.slice(2) : rest;
  if (r.length === 1 && MOUNT_FILES.has(r[0]!)) return { kind: "mounts", file: r[0] as "mounts" | "mountinfo" | "mountstats" };
  if (r[0] !== "net" || r.length < 2) return undefined;
  const rule = netFileRule(r[1]!);
  if (rule === undefined) return { kind: "refused" };
  if (rule.kind === "pass") return undefined;
  return r.length === 2 ? { kind: "net", file: r[1]!, rule } : { kind: "refused" };
}

export interface VirtualSpec {
  /** Real paths of the grants: the mounts shown are those they reach. */
  reach: readonly string[];
  interfaces: InterfaceScope;
  launcherPid: number;
}

/** Every byte of a procfs file (its text is generated on read, so no size is known before). */
function readAll(fd: number): Buffer {
  const parts: Buffer[] = [];
  for (;;) {
    const buf = Buffer.allocUnsafe(65536);
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) return Buffer.concat(parts);
    parts.push(buf.subarray(0, n));
  }
}

/** How old a pass over /proc the socket tables may share (see processTree). A process
 * forked since is missed (its sockets hidden: closed, not open); a stale pid would need
 * the pid space to wrap in that time to name a host process. */
const TREE_AGE_MS = 100;

/** Inodes of the sockets the sandbox's processes hold (their fd tables, from /proc). */
export function sandboxSocketInodes(launcherPid: number): Set<number> {
  const out = new Set<number>();
  for (const pid of processTree(launcherPid, false, TREE_AGE_MS).keys()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) out.add(Number(m[1]));
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

function filtered(file: Exclude<VirtualProcFile, { kind: "refused" }>, text: string, spec: VirtualSpec): string {
  if (file.kind === "mounts") {
    if (file.file === "mountinfo") return filterMountinfo(text, spec.reach);
    if (file.file === "mounts") return filterMounts(text, spec.reach);
    return filterMountstats(text, spec.reach);
  }
  const rule = file.rule;
  if (rule.kind === "sockets") return filterSockets(text, rule.inode, sandboxSocketInodes(spec.launcherPid));
  const visible = visibleInterfaces(spec.interfaces).names;
  return rule.kind === "interface-blocks" ? filterInterfaceBlocks(text, visible) : filterInterfaces(text, rule, visible);
}

/**
 * Answers an open of one of these files of a sandbox process (membership already checked;
 * `dirfd` is its process directory, `sub` the path below it). The answer is an fd we
 * inject, built from our copy of the path: whatever the caller's memory says afterwards,
 * it gets this content. A racing rewrite of a path we let continue gets nothing either:
 * Landlock grants no process directory (plan/proc-grants.ts).
 */
export function serveVirtual(file: VirtualProcFile, dirfd: number, sub: string, flags: number, trailingSlash: boolean, spec: VirtualSpec): Action {
  if (file.kind === "refused") return deny(EACCES);
  if (trailingSlash || (flags & O.DIRECTORY) !== 0) return deny(ENOTDIR);
  if ((flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) return deny(EEXIST);
  // Read-only, as the kernel's files are.
  if ((flags & O.ACCMODE) !== 0 || (flags & (O.TRUNC | O.CREAT | O.TMPFILE)) !== 0) return deny(EACCES);
  const nat = native();
  const fd = nat.openat2(dirfd, sub, O.CLOEXEC, 0, BENEATH_ONLY);
  if (fd < 0) return deny(-fd);
  let text: string;
  try {
    text = readAll(fd).toString("latin1");
  } finally {
    closeSync(fd);
  }
  const memfd = nat.memfdReadonly(`sandlock-${file.kind === "mounts" ? file.file : `net-${file.file}`}`, Buffer.from(filtered(file, text, spec), "latin1"));
  return { kind: "inject", fd: memfd, cloexec: (flags & O.CLOEXEC) !== 0, close: true };
}
