// Opens of /dev/pts/N (plan/dev-grants.ts): Landlock grants no pseudo-terminal, since uid 0
// and every user own their other terminals (a login's, another sandbox's); the supervisor
// opens the ones the sandbox holds an end of, the pairs it made through /dev/ptmx included.

import { closeSync, fstatSync, statSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, type Action } from "../action.js";
import type { Handler, SupervisorContext } from "../handler.js";
import { fdObjectParts, type FdObjectKind } from "../fd-objects.js";
import { InParts } from "../slices.js";
import { processTree } from "../members.js";
import type { Notification } from "../notification.js";
import { O, readOpen, wantsWrite } from "../paths.js";
import { O_NOCTTY, openTerminalAs, withMultiplexer } from "./dev-ptmx.js";

const ENOENT = 2;
const EACCES = 13;
const EEXIST = 17;
const ENOTDIR = 20;
const EINTR = 4;
const ENOMEM = 12;

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
 *
 * A step per part of a descriptor table (fd-objects.ts) and per process, run in parts
 * (InParts.run): the sandbox decides how many descriptors its processes hold, and a walk
 * of 8 processes holding 19,000 each took 1.2 s in one go (every other sandbox of this
 * process waited).
 */
function* heldSteps(launcherPid: number, caller: number, id: TtyId, index: number): Generator<void, boolean> {
  // The caller first (it made the pair, most often), then the sandbox's other processes
  // from a recent pass over /proc, then from a fresh one (a process forked since).
  const seen = new Set<number>();
  for (const tree of [() => [caller], () => processTree(launcherPid, false, TREE_AGE_MS).keys(), () => processTree(launcherPid).keys()]) {
    for (const pid of tree()) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      if (yield* fdObjectParts(pid, ["numbered", "ptmx"], (kind, value, fd) => holdsEnd(pid, fd, kind, value, id, index))) return true;
      yield;
    }
  }
  return false;
}

/** Walks of one sandbox that go on in parts at once, each holding the terminal the
 * supervisor opened; the others wait for a place holding nothing but their notification
 * (InParts). */
const WALKS_AT_ONCE = 16;

/** How old a pass over /proc may be for the first look (see proc-net.ts). */
const TREE_AGE_MS = 100;

/** Whether descriptor fd of process pid (as fdObjectParts classified it) is an end of the
 * terminal (see held). */
function holdsEnd(pid: number, fd: number, kind: FdObjectKind, value: number, id: TtyId, index: number): boolean {
  if ((kind !== "numbered" || value !== index) && kind !== "ptmx") return false;
  const nat = native();
  try {
    if (kind === "numbered") {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      return st.isCharacterDevice() && same(st, id);
    }
    // Which terminal it opened: asked of the multiplexer (withMultiplexer), then its peer.
    const peer = withMultiplexer(pid, fd, (dup, at) => (at === index ? nat.ptyPeer(dup, O_NOCTTY | O.CLOEXEC) : -1)) ?? -1;
    if (peer < 0) return false;
    const st = fstatSync(peer);
    closeSync(peer);
    return same(st, id);
  } catch {
    return false; // closed or exited meanwhile
  }
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
  const walks = new InParts(WALKS_AT_ONCE);
  return (n) => {
    const req = readOpen(n, ctx.memory);
    if (req === null || req.target.kind !== "path") return undefined;
    const path = req.target.path;
    const mount = spec.mounts.find((m) => path.startsWith(`${m}/`));
    if (mount === undefined) return undefined;
    const name = path.slice(mount.length + 1);
    // ptmx (dev-ptmx.ts when a grant reaches it) and anything else of devpts: Landlock
    // decides (no rule). O_PATH gives no
    // content; openat2's RESOLVE_* rules are not reproduced: the kernel, then Landlock.
    if (!/^(0|[1-9][0-9]*)$/.test(name) || (req.flags & O.PATH) !== 0 || req.resolve !== 0) return undefined;
    if (req.target.trailingSlash || (req.flags & O.DIRECTORY) !== 0) return deny(ENOTDIR);
    if ((req.flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) return deny(EEXIST);
    // As Landlock would have: writing only under a writable grant.
    if (wantsWrite(req.flags) && !spec.writable) return deny(EACCES);
    return open(n, ctx, path, Number(name), req.flags, walks, false);
  };
}

/**
 * The open, once the caller may have a place among the sandbox's walks in parts (`slot`:
 * it holds one already, reserved while it waited). Every way out gives the place back: an
 * answer, an error thrown, the walk's end.
 */
function open(n: Notification, ctx: SupervisorContext, path: string, index: number, flags: number, walks: InParts, slot: boolean): Action | Promise<Action> {
  if (!slot && !walks.take()) {
    // Every walk in parts this sandbox may have runs: this open waits for a place, holding
    // nothing but its notification, and is made again from the start once it has one.
    if (!walks.canWait()) return deny(ENOMEM);
    return walks.wait().then((): Action | Promise<Action> => {
      if (ctx.memory.stillValid(n)) return open(n, ctx, path, index, flags, walks, true);
      walks.release();
      return deny(EINTR);
    });
  }
  let later = false;
  try {
    const a = check(n, ctx, path, index, flags, walks);
    later = a instanceof Promise;
    return a;
  } finally {
    // A walk gives its place back when it ends (check's promise).
    if (!later) walks.release();
  }
}

/** The open itself, holding a place among the walks in parts: the terminal opened as the
 * caller would have, then the sandbox's descriptor tables walked for an end of it. */
function check(n: Notification, ctx: SupervisorContext, path: string, index: number, flags: number, walks: InParts): Action | Promise<Action> {
  // The supervisor opens with the caller's capabilities, not its identity: it must be the same.
  const opened = openTerminalAs(n, path, flags);
  if (typeof opened === "number") return deny(-opened === ENOENT && (flags & O.CREAT) !== 0 ? EACCES : -opened);
  const { fd, tgid } = opened;
  let st: TtyId;
  try {
    const s = fstatSync(fd);
    if (!s.isCharacterDevice()) throw new Error("not a terminal");
    st = s;
  } catch {
    closeSync(fd);
    return deny(EACCES);
  }
  return (async (): Promise<Action> => {
    let injected = false;
    const steps = heldSteps(ctx.launcherPid, tgid, st, index);
    let found = false;
    try {
      const step = (): boolean => {
        const r = steps.next();
        if (r.done === true) found = r.value;
        return r.done === true;
      };
      // The caller gone (killed, the sandbox ended): the rest is not read.
      if (!(await walks.run(step, () => ctx.memory.stillValid(n)))) return deny(EINTR);
      if (!found) return deny(EACCES);
      injected = true;
      return { kind: "inject", fd, cloexec: (flags & O.CLOEXEC) !== 0, close: true };
    } finally {
      steps.return(false);
      if (!injected) closeSync(fd);
      walks.release();
    }
  })();
}
