// Process files whose kernel text tells the host's secrets (issue 9): the mount tables and
// /proc/<pid>/net. The sandbox gets a filtered copy of its process's real file as a sealed
// memfd; /proc/net files that name host interfaces and have no filtered form are refused.

import { closeSync, readSync, writeSync } from "node:fs";
import { native } from "../../confine/native.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { visibleInterfaces } from "../interface-view.js";
import { deny, type Action } from "../action.js";
import { fdObjectParts } from "../fd-objects.js";
import { InParts, runInSlices } from "../slices.js";
import { processTree } from "../members.js";
import { AT_FDCWD, O, RESOLVE } from "../paths.js";
import { filterMountinfo, filterMounts, filterMountstats } from "../proc-mounts.js";
import { filterInterfaceBlocks, filterInterfaces, netFileRule, SocketLines, type NetFileRule } from "../proc-net.js";
import type { SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";

const EACCES = 13;
const EEXIST = 17;
const EINTR = 4;
const ENOMEM = 12;
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

/** A file read whole, then filtered: a mount table, or a /proc/net file of interfaces. */
type WholeFile = Extract<VirtualProcFile, { kind: "mounts" }> | { kind: "net"; file: string; rule: Exclude<NetFileRule, { kind: "pass" } | { kind: "sockets" }> };

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
/** How many descriptors a table's read may scan inside the open before the rest of the scan
 * goes on between other work (SocketOwners): one part (fd-objects.ts), about 6 ms on a
 * quiet machine and 16 to 20 on a slow VM, where 8,192 socket descriptors took 65 ms. A
 * count, not a time: a sandbox with fewer is always scanned whole inside the open, however
 * loaded the machine. */
const SYNC_DESCRIPTORS = 2048;
/** Inodes kept as another's, or waiting for a scan, at most (then forgotten: learnt again). */
const MAX_INODES_KEPT = 65_536;

interface OwnerScan {
  /** Unknown inodes of tables read before this scan began: another's if it does not find them. */
  candidates: Set<number>;
  done: boolean;
}

/**
 * Which sockets are the sandbox's, for its filtered socket tables (/proc/<pid>/net/tcp,
 * unix...): those the last scan of its processes' descriptor tables found (`ours`), and
 * inodes of tables read before a scan that the scan did not find (`others`: a socket's
 * inode is not reused while it lives, so another's stays another's). A scan reads every
 * descriptor of every process of the sandbox, as many as the sandbox makes: 8 processes
 * holding 19,000 each made every open of such a file a 1.2 s walk on the event loop (9.9 s
 * of lag for 8 opens). So a scan is made only when a table shows an inode neither set
 * knows, inside the open for up to SYNC_DESCRIPTORS descriptors: a sandbox with ordinary
 * tables is scanned whole there, at every unknown inode, and sees its new sockets at once.
 * A longer scan goes on in slices between other work, and once a scan was that long, the
 * next is made only between other work, no sooner than the last one's own time after it
 * ended. Meanwhile unknown inodes are left out, as closed sockets would be.
 */
class SocketOwners {
  /** The sandbox's socket tables read in parts (serveSockets). */
  readonly reads = new InParts();
  #ours = new Set<number>();
  #others = new Set<number>();
  /** Unknown inodes of tables read since the running scan began (or since the last one). */
  #pending = new Set<number>();
  #scan: OwnerScan | undefined;
  #readyAt = 0;
  /** Whether the last scan read more than SYNC_DESCRIPTORS. */
  #lastLong = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly launcherPid: number) {}

  /** Membership for one table, read just before: `has(inode)`. */
  forTable(): { has(inode: number): boolean } {
    // The scan this table started (it was read before that scan began).
    let mine: OwnerScan | undefined;
    return {
      has: (inode) => {
        if (this.#ours.has(inode)) return true;
        if (this.#others.has(inode)) return false;
        if (mine === undefined && this.#scan === undefined && !this.#lastLong) {
          mine = this.#start(true);
          if (this.#ours.has(inode)) return true;
        } else if (mine === undefined && this.#scan === undefined && performance.now() >= this.#readyAt) {
          mine = this.#start(false);
        }
        if (mine?.done) this.#noteOther(inode);
        else if (mine !== undefined) mine.candidates.add(inode);
        else if (this.#pending.size < MAX_INODES_KEPT) {
          this.#pending.add(inode);
          this.#later();
        }
        return false;
      },
    };
  }

  #noteOther(inode: number): void {
    if (this.#others.size >= MAX_INODES_KEPT) this.#others.clear();
    this.#others.add(inode);
  }

  /** Starts a scan: inside the open (`inOpen`: its first SYNC_DESCRIPTORS descriptors read
   * at once), or from the loop's next turn; then in slices (slices.ts). When it is over,
   * what it found replaces `ours`. */
  #start(inOpen: boolean): OwnerScan {
    const read = { descriptors: 0 };
    const scan: OwnerScan = { candidates: this.#pending, done: false };
    this.#pending = new Set();
    this.#scan = scan;
    const run = (): void => runInSlices(this.#steps(read), (found, busy) => this.#finish(scan, found, read.descriptors, busy), inOpen ? { first: () => read.descriptors < SYNC_DESCRIPTORS } : {});
    if (inOpen) run();
    else setImmediate(run);
    return scan;
  }

  /** One part of a process's descriptor table per step (fd-objects.ts). */
  *#steps(read: { descriptors: number }): Generator<void, Set<number>> {
    const found = new Set<number>();
    for (const pid of processTree(this.launcherPid, false, TREE_AGE_MS).keys()) {
      yield* fdObjectParts(pid, ["socket"], (_kind, inode) => void found.add(inode), read);
      yield;
    }
    return found;
  }

  #finish(scan: OwnerScan, found: Set<number>, descriptors: number, busy: number): void {
    scan.done = true;
    this.#scan = undefined;
    this.#ours = found;
    for (const c of scan.candidates) if (!found.has(c)) this.#noteOther(c);
    this.#lastLong = descriptors > SYNC_DESCRIPTORS;
    this.#readyAt = performance.now() + busy;
    if (this.#pending.size > 0) this.#later();
  }

  /** A scan for the pending inodes, once the last one's time has passed. */
  #later(): void {
    if (this.#scan !== undefined || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#scan === undefined && this.#pending.size > 0) this.#start(false);
    }, Math.max(0, this.#readyAt - performance.now()));
    this.#timer.unref();
  }
}

const socketOwners = new WeakMap<VirtualSpec, SocketOwners>();

function ownersOf(spec: VirtualSpec): SocketOwners {
  let owners = socketOwners.get(spec);
  if (owners === undefined) socketOwners.set(spec, (owners = new SocketOwners(spec.launcherPid)));
  return owners;
}

/** A mount table or an interface file, filtered (socket tables: serveSockets). */
function filtered(file: WholeFile, text: string, spec: VirtualSpec): string {
  if (file.kind === "mounts") {
    if (file.file === "mountinfo") return filterMountinfo(text, spec.reach);
    if (file.file === "mounts") return filterMounts(text, spec.reach);
    return filterMountstats(text, spec.reach);
  }
  const rule = file.rule;
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
export function serveVirtual(
  file: VirtualProcFile, dirfd: number, sub: string, flags: number, trailingSlash: boolean, spec: VirtualSpec, n: Notification, ctx: SupervisorContext,
): Action | Promise<Action> {
  if (file.kind === "refused") return deny(EACCES);
  if (trailingSlash || (flags & O.DIRECTORY) !== 0) return deny(ENOTDIR);
  if ((flags & (O.CREAT | O.EXCL)) === (O.CREAT | O.EXCL)) return deny(EEXIST);
  // Read-only, as the kernel's files are.
  if ((flags & O.ACCMODE) !== 0 || (flags & (O.TRUNC | O.CREAT | O.TMPFILE)) !== 0) return deny(EACCES);
  const nat = native();
  const fd = nat.openat2(dirfd, sub, O.CLOEXEC, 0, BENEATH_ONLY);
  if (fd < 0) return deny(-fd);
  let whole: WholeFile;
  if (file.kind === "mounts") whole = file;
  else if (file.rule.kind === "sockets") return serveSockets({ file: file.file, rule: file.rule }, fd, flags, spec, n, ctx, false);
  else whole = { kind: "net", file: file.file, rule: file.rule };
  let text: string;
  try {
    text = readAll(fd).toString("latin1");
  } finally {
    closeSync(fd);
  }
  const memfd = nat.memfdReadonly(`sandlock-${file.kind === "mounts" ? file.file : `net-${file.file}`}`, Buffer.from(filtered(whole, text, spec), "latin1"));
  return { kind: "inject", fd: memfd, cloexec: (flags & O.CLOEXEC) !== 0, close: true };
}

/** 64 KiB reads of a socket table made inside the open: a host with up to about 1,800 unix
 * sockets (400 TCP) is answered there. */
const SYNC_TABLE_READS = 4;

/**
 * A socket table (fd: the kernel's file, closed here), filtered to the sandbox's sockets.
 * The table is the host's (the network namespace every sandbox process shares with the
 * supervisor: the launcher makes none, and seccomp refuses the calls that would), and the
 * sandbox decides how long it is: 18,000 sockets of its own made each read a 48 ms step of
 * the event loop (106 ms at worst), and it may hold 64 processes of 20,000 here. Past
 * SYNC_TABLE_READS, the rest is read in parts, one part of the sandbox's table reads per
 * turn of the loop, at most IN_PARTS_AT_ONCE of them at once; another waits holding
 * nothing but its notification, then reads the table through the caller's own /proc entry
 * (the same table: one namespace), once the caller is proved still blocked in this open.
 */
function serveSockets(
  file: { file: string; rule: { kind: "sockets"; inode: number } }, fd: number, flags: number, spec: VirtualSpec, n: Notification, ctx: SupervisorContext, slot: boolean,
): Action | Promise<Action> {
  const nat = native();
  const owners = ownersOf(spec);
  const table = new SocketLines(file.rule.inode, owners.forTable());
  const buf = Buffer.allocUnsafe(65536);
  // What is kept goes out part by part too: the sandbox decides how many of its sockets
  // the table shows (18,000 made 1.1 MB; joined and copied in one step, 15 ms).
  let out: number;
  try {
    out = nat.memfdWritable(`sandlock-net-${file.file}`);
  } catch (e) {
    closeSync(fd);
    if (slot) owners.reads.release();
    throw e;
  }
  const write = (text: string): void => {
    if (text !== "") writeSync(out, text, null, "latin1");
  };
  const step = (): boolean => {
    const got = readSync(fd, buf, 0, buf.length, null);
    if (got > 0) write(table.add(buf.toString("latin1", 0, got)));
    return got === 0;
  };
  const answer = (): Action => {
    write(table.end());
    nat.memfdSeal(out);
    return { kind: "inject", fd: out, cloexec: (flags & O.CLOEXEC) !== 0, close: true };
  };
  let done = false;
  try {
    if (!slot) for (let i = 0; i < SYNC_TABLE_READS && !done; i++) done = step();
  } catch (e) {
    closeSync(fd);
    closeSync(out);
    throw e;
  }
  if (done) {
    closeSync(fd);
    try {
      return answer();
    } catch (e) {
      closeSync(out);
      throw e;
    }
  }
  if (!slot && !owners.reads.take()) {
    closeSync(fd);
    closeSync(out);
    if (!owners.reads.canWait()) return deny(ENOMEM);
    return owners.reads.wait().then((): Action | Promise<Action> => {
      const again = nat.openat2(AT_FDCWD, `/proc/${n.pid}/net/${file.file}`, O.CLOEXEC, 0, RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS);
      if (again < 0 || !ctx.memory.stillValid(n)) {
        if (again >= 0) closeSync(again);
        owners.reads.release();
        return deny(again < 0 ? -again : EINTR);
      }
      return serveSockets(file, again, flags, spec, n, ctx, true);
    });
  }
  return (async (): Promise<Action> => {
    let answered = false;
    try {
      // The caller gone (killed, the sandbox ended): the rest is not read.
      if (!(await owners.reads.run(step, () => ctx.memory.stillValid(n)))) return deny(EINTR);
      const a = answer();
      answered = true;
      return a;
    } finally {
      closeSync(fd);
      if (!answered) closeSync(out);
      owners.reads.release();
    }
  })();
}
