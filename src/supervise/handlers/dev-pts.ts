// Opens of /dev/pts/N (plan/dev-grants.ts): Landlock grants no pseudo-terminal, since uid 0
// and every user own their other terminals (a login's, another sandbox's); the supervisor
// opens the ones the sandbox holds an end of, the pairs it made through /dev/ptmx included.

import { closeSync, fstatSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, type Action } from "../action.js";
import type { Handler, SupervisorContext } from "../handler.js";
import { processTree } from "../members.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O, RESOLVE, callerStatus, readOpen, wantsWrite } from "../paths.js";
import { parseStatus, supervisorStatus } from "./procfs-open.js";
import { readProcText } from "../../kernel/proc-text.js";

const ENOENT = 2;
const EACCES = 13;
const EEXIST = 17;
const ENOTDIR = 20;
const O_NOCTTY = 0o400;
/** Flags openat2 accepts (it refuses unknown bits where openat ignores them). */
const VALID_FLAGS = 0o37777703;

export interface PtsSpec {
  mounts: readonly string[];
  writable: boolean;
}

interface TtyId {
  dev: number;
  rdev: number;
}

const same = (a: TtyId, b: TtyId): boolean => a.dev === b.dev && a.rdev === b.rdev;

/**
 * Whether a process of the sandbox holds an end of the terminal `id` (index `index`): a
 * descriptor on the terminal itself (compared by device and device number: devpts
 * instances number their terminals alike), or on the multiplexer whose pair it is (the
 * fdinfo's tty-index, confirmed by asking the master for its peer, TIOCGPTPEER, on our
 * duplicate of it: the peer is that pair's terminal, in its own devpts instance).
 */
function held(launcherPid: number, caller: number, id: TtyId, index: number): boolean {
  // The caller first (it made the pair, most often), then the sandbox's other processes
  // from a recent pass over /proc, then from a fresh one (a process forked since).
  const seen = new Set<number>();
  for (const tree of [() => [caller], () => processTree(launcherPid, false, TREE_AGE_MS).keys(), () => processTree(launcherPid).keys()]) {
    for (const pid of tree()) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      if (holds(pid, id, index)) return true;
    }
  }
  return false;
}

/** How old a pass over /proc may be for the first look (see proc-net.ts). */
const TREE_AGE_MS = 100;

/** Whether process pid has a descriptor on an end of the terminal (see held). */
function holds(pid: number, id: TtyId, index: number): boolean {
  const nat = native();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // exited meanwhile
  }
  for (const fd of fds) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.endsWith(`/${index}`)) {
        const st = statSync(`/proc/${pid}/fd/${fd}`);
        if (st.isCharacterDevice() && same(st, id)) return true;
      } else if (link.endsWith("/ptmx")) {
        const tty = /^tty-index:\s*(\d+)$/m.exec(readProcText(`/proc/${pid}/fdinfo/${fd}`));
        if (tty === null || Number(tty[1]) !== index) continue;
        const dup = nat.threadGetfd(pid, Number(fd));
        if (dup < 0) continue;
        const peer = nat.ptyPeer(dup, O_NOCTTY | O.CLOEXEC);
        closeSync(dup);
        if (peer < 0) continue;
        const st = fstatSync(peer);
        closeSync(peer);
        if (same(st, id)) return true;
      }
    } catch {
      // closed or exited meanwhile
    }
  }
  return false;
}

/**
 * Race-free: the decision rests on the supervisor's copy of the path and on the terminal
 * it opened itself, which stays the same terminal while the descriptor is open (its index
 * cannot go to another pair); the caller gets that descriptor (ADDFD), never a CONTINUE.
 * Other paths the caller could rewrite its buffer into meet Landlock, which has no rule on
 * any terminal of devpts. Opened with the caller's identity and capabilities (none for
 * root inside), so file modes apply as they would have, and with O_NOCTTY: the
 * supervisor's process must never take a controlling terminal (the caller acquires one
 * with TIOCSCTTY, as login_tty does).
 */
export function devPtsHandler(spec: PtsSpec, ctx: SupervisorContext): Handler {
  return (n) => {
    const req = readOpen(n, ctx.memory);
    if (req === null || req.target.kind !== "path") return undefined;
    const path = req.target.path;
    const mount = spec.mounts.find((m) => path.startsWith(`${m}/`));
    if (mount === undefined) return undefined;
    const name = path.slice(mount.length + 1);
    // ptmx and anything else of devpts: Landlock decides (no rule). O_PATH gives no
    // content; openat2's RESOLVE_* rules are not reproduced: the kernel, then Landlock.
    if (!/^(0|[1-9][0-9]*)$/.test(name) || (req.flags & O.PATH) !== 0 || req.resolve !== 0) return undefined;
    if (req.target.trailingSlash || (req.flags & O.DIRECTORY) !== 0) return deny(ENOTDIR);
    if ((req.flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) return deny(EEXIST);
    // As Landlock would have: writing only under a writable grant.
    if (wantsWrite(req.flags) && !spec.writable) return deny(EACCES);
    return open(n, ctx, path, Number(name), req.flags);
  };
}

function open(n: Notification, ctx: SupervisorContext, path: string, index: number, flags: number): Action {
  const nat = native();
  const caller = parseStatus(callerStatus(n) ?? "");
  const self = supervisorStatus();
  // The supervisor opens with the caller's capabilities, not its identity: it must be the same.
  if (caller === null || self === null || caller.ids !== self.ids || caller.capEff < 0n) return deny(EACCES);
  const how = [AT_FDCWD, path, (flags & VALID_FLAGS & ~O.CREAT) | O_NOCTTY | O.CLOEXEC, 0, RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS] as const;
  const fd = caller.capEff !== self.capEff ? nat.openat2As(...how, caller.capEff) : nat.openat2(...how);
  if (fd < 0) return deny(-fd === ENOENT && (flags & O.CREAT) !== 0 ? EACCES : -fd);
  let st: TtyId;
  try {
    const s = fstatSync(fd);
    if (!s.isCharacterDevice()) throw new Error("not a terminal");
    st = s;
  } catch {
    closeSync(fd);
    return deny(EACCES);
  }
  if (!held(ctx.launcherPid, caller.tgid, st, index)) {
    closeSync(fd);
    return deny(EACCES);
  }
  return { kind: "inject", fd, cloexec: (flags & O.CLOEXEC) !== 0, close: true };
}
