// Opens of a pseudo-terminal multiplexer (/dev/ptmx), made by the supervisor and counted.
// Each open makes a terminal pair out of kernel.pty.max, which every user of the host
// shares: a sandbox under a grant on /dev made 4,095 in 70 ms, after which /dev/ptmx gave
// every user ENOSPC (the twentieth review; a read-only grant did it too: the multiplexer
// makes a pair whatever the open's access mode). Landlock grants no multiplexer where a
// supervisor runs (plan/dev-grants.ts), so no open the kernel makes for the sandbox reaches
// one; the supervisor opens those named by a multiplexer's path and hands the descriptor
// over (ADDFD), while
// - the host keeps kernel.pty.reserve terminals free: the kernel keeps that many for the
//   host's own devpts instance against every other instance (containers'); the sandbox's
//   terminals are the host instance's, so the same rule is applied here;
// - the sandbox holds fewer than its share, a quarter of kernel.pty.max: counted as the
//   pairs opened since the last count, and counted again when that reaches the share: the
//   distinct pairs whose multiplexer or terminal its processes hold, read with the sandbox
//   held still (count-still.ts: read while it ran, a program could move its descriptors
//   from processes not yet read to ones already read), and no sooner than four times that
//   count's work after the last one (count-still.ts StillCount; an open at the share
//   meanwhile: ENOSPC).
// Past either, ENOSPC, what the multiplexer answers at kernel.pty.max.

import { closeSync, fstatSync, statSync } from "node:fs";
import { native } from "../../confine/native.js";
import { readProcText } from "../../kernel/proc-text.js";
import type { Multiplexer } from "../../plan/dev-grants.js";
import { deny, type Action } from "../action.js";
import { StillCount } from "../count-still.js";
import { fdObjectPartsOffLoop, type FdObjectKind } from "../fd-objects.js";
import type { Handler, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O, RESOLVE, callerStatus, readOpen, wantsWrite } from "../paths.js";
import type { Step } from "../slices.js";
import { chargeOf } from "./memory.js";
import { parseStatus, supervisorStatus } from "./procfs-open.js";

const EACCES = 13;
const EEXIST = 17;
const ENOTDIR = 20;
/** The kernel enters the call again (the caller never sees it): linux/errno.h. */
const ERESTARTNOINTR = 513;
const ENOSPC = 28;
export const O_NOCTTY = 0o400;
/** Flags openat2 accepts (it refuses unknown bits where openat ignores them). */
const VALID_FLAGS = 0o37777703;
/** The multiplexer's device number (char 5, 2), /dev/ptmx's and every devpts's ptmx. */
const PTMX_RDEV = (5 << 8) | 2;
/** The terminals' major (UNIX98 pty slaves: one major, the index as the minor). */
const PTS_MAJOR = 136;
/** The share of kernel.pty.max one sandbox may hold. */
export const PTY_SHARE_DIVISOR = 4;

/**
 * Opens the terminal device `path` (no link followed) for the caller of n as its own open
 * would be made: with its capabilities, refused (EACCES) when its identities differ from
 * the supervisor's, and O_NOCTTY (the supervisor's process must never take a controlling
 * terminal). The descriptor and the caller's process id, or -errno. Shared with
 * dev-pts.ts.
 */
export function openTerminalAs(n: Notification, path: string, flags: number): { fd: number; tgid: number } | number {
  const caller = parseStatus(callerStatus(n) ?? "");
  const self = supervisorStatus();
  if (caller === null || self === null || caller.ids !== self.ids || caller.capEff < 0n) return -EACCES;
  const nat = native();
  const how = [AT_FDCWD, path, (flags & VALID_FLAGS & ~O.CREAT) | O_NOCTTY | O.CLOEXEC, 0, RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS] as const;
  const fd = caller.capEff !== self.capEff ? nat.openat2As(...how, caller.capEff) : nat.openat2(...how);
  return fd < 0 ? fd : { fd, tgid: caller.tgid };
}

/** The host's pty sysctls, or undefined when unreadable. */
function ptySysctl(name: "max" | "reserve" | "nr"): number | undefined {
  try {
    const v = Number(readProcText(`/proc/sys/kernel/pty/${name}`).trim());
    return Number.isInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A terminal's index from its device number (st_rdev as glibc encodes it), or undefined
 * when it is no UNIX98 terminal. */
export function terminalIndex(rdev: number): number | undefined {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  return major === PTS_MAJOR ? minor : undefined;
}

/**
 * `use` called with our duplicate of descriptor fd of process pid and the index of its
 * pair, when it is a multiplexer: asked of it (TIOCGPTN) once fstat shows it is the
 * multiplexer device (a link only says its name ends in "ptmx"), never read from its
 * fdinfo, whose text also lists the locks taken through it, which the sandbox can multiply
 * (30,000: 32 ms a read). Undefined otherwise; the duplicate is closed after. Shared with
 * dev-pts.ts. Throws when the descriptor went meanwhile.
 */
export function withMultiplexer<T>(pid: number, fd: number, use: (dup: number, index: number) => T): T | undefined {
  const nat = native();
  const dup = nat.threadGetfd(pid, fd);
  if (dup < 0) return undefined;
  try {
    const d = fstatSync(dup);
    if (!d.isCharacterDevice() || d.rdev !== PTMX_RDEV) return undefined;
    const index = nat.ptyIndex(dup);
    return index >= 0 ? use(dup, index) : undefined;
  } finally {
    closeSync(dup);
  }
}

/**
 * The index of the terminal pair a descriptor of process pid belongs to (as fdObjectParts
 * classified it), or undefined: a multiplexer's by asking it (withMultiplexer), a
 * terminal's from its device number.
 */
function pairOf(pid: number, fd: number, kind: FdObjectKind): number | undefined {
  try {
    if (kind === "ptmx") return withMultiplexer(pid, fd, (_dup, index) => index);
    const st = statSync(`/proc/${pid}/fd/${fd}`);
    return st.isCharacterDevice() ? terminalIndex(st.rdev) : undefined;
  } catch {
    return undefined; // closed or exited meanwhile
  }
}

/** Descriptors looked at between two yields of heldPairs (a multiplexer's look is a
 * duplicate, an fstat and an ioctl: about 10 us). */
const LOOKS_PER_STEP = 64;

/** The number of distinct terminal pairs processes `pids` (the sandbox's, held still) hold
 * an end of: steps of a part of a descriptor table (read on Node's pool in `owner`'s turn)
 * or LOOKS_PER_STEP looks each; undefined when a table could not be read while its process
 * lives. */
function* heldPairs(owner: object, pids: Iterable<number>): Generator<Step, number | undefined> {
  const pairs = new Set<number>();
  for (const pid of pids) {
    const c = chargeOf(pid);
    if (c === null) continue;
    const found: [FdObjectKind, number][] = [];
    let unreadable = false;
    yield* fdObjectPartsOffLoop(owner, c.task, ["ptmx", "numbered", "numbered-deleted"], (kind, _value, fd) => void found.push([kind, fd]), () => void (unreadable = true));
    if (unreadable) return undefined;
    for (let i = 0; i < found.length; i++) {
      const index = pairOf(c.task, found[i]![1], found[i]![0]);
      if (index !== undefined) pairs.add(index);
      if (i % LOOKS_PER_STEP === LOOKS_PER_STEP - 1) yield;
    }
  }
  return pairs.size;
}

/**
 * Race-free: the decision rests on the supervisor's copy of the path and its own count, and
 * the caller gets the descriptor the supervisor opened (ADDFD), never a CONTINUE. Another
 * spelling of the path (a symlink of the sandbox's, a relative path through one, a
 * /proc/self/fd link, openat2's RESOLVE_* rules) goes to the kernel, where Landlock, with
 * no rule on any multiplexer, refuses it (EACCES). Opened with the caller's identity and
 * capabilities (none for root inside) and O_NOCTTY (a multiplexer never becomes a
 * controlling terminal anyway).
 */
export function devPtmxHandler(ptmx: readonly Multiplexer[], traced: boolean, ctx: SupervisorContext): Handler {
  const max = ptySysctl("max");
  const reserve = ptySysctl("reserve") ?? 0;
  const share = max === undefined ? 0 : Math.floor(max / PTY_SHARE_DIVISOR);
  // The pairs held at the last count plus those opened since (an upper bound: a pair
  // closed since still counts until the next count).
  let count = 0;
  const owner = {}; // this sandbox's turn on Node's pool (fd-objects.ts offLoop)
  const why = (e: unknown): void => ctx.observe({ kind: "refused", syscall: "open", errno: ENOSPC, target: "count", why: `the sandbox's pseudo-terminals could not be counted: ${(e as Error)?.message ?? String(e)}` });
  // Not counted (not held still, a table unreadable): the share stands as reached.
  const counts = new StillCount(ctx, traced, (pids) => heldPairs(owner, pids), why, (total) => (count = total ?? share));

  const refuse = (why: string, node: string): Action => {
    ctx.observe({ kind: "refused", syscall: "open", errno: ENOSPC, target: node, why });
    return deny(ENOSPC);
  };

  const make = (n: Notification, node: string, flags: number): Action => {
    const nr = ptySysctl("nr");
    if (max === undefined || nr === undefined || nr >= max - reserve) {
      return refuse(`the host's pseudo-terminals are at kernel.pty.max less kernel.pty.reserve (${nr ?? "?"} of ${max ?? "?"}, ${reserve} kept for the host's own)`, node);
    }
    const opened = openTerminalAs(n, node, flags);
    if (typeof opened === "number") return deny(-opened);
    const fd = opened.fd;
    try {
      const st = fstatSync(fd);
      if (!st.isCharacterDevice() || st.rdev !== PTMX_RDEV) throw new Error("not a multiplexer");
    } catch {
      closeSync(fd);
      return deny(EACCES);
    }
    count++;
    return { kind: "inject", fd, cloexec: (flags & O.CLOEXEC) !== 0, close: true };
  };

  return (n) => {
    const req = readOpen(n, ctx.memory);
    if (req === null || req.target.kind !== "path") return undefined;
    const path = req.target.path;
    const hits = ptmx.filter((m) => m.name === path);
    // O_PATH makes no terminal; RESOLVE_* rules are not reproduced: the kernel, then Landlock.
    if (hits.length === 0 || (req.flags & O.PATH) !== 0 || req.resolve !== 0) return undefined;
    if (req.target.trailingSlash || (req.flags & O.DIRECTORY) !== 0) return deny(ENOTDIR);
    if ((req.flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) return deny(EEXIST);
    // As Landlock would have: writing only under a writable grant.
    if (wantsWrite(req.flags) && !hits.some((m) => m.writable)) return deny(EACCES);
    const node = hits[0]!.node;
    const full = (): Action => refuse(`the sandbox holds its share of pseudo-terminals: ${count} of ${share} (a quarter of kernel.pty.max)`, node);
    if (count < share) return make(n, node, req.flags);
    if (!counts.due) return full();
    // Parked until the count ends; the freeze's interrupt has the caller enter the open
    // again once let go (which comes back here, counted).
    return counts.park(n).then((restart) => (restart ? deny(ERESTARTNOINTR) : count < share ? make(n, node, req.flags) : full()));
  };
}
