// Listing directories while /proc is reachable (SPEC 4.4) or under deterministicDirs
// (SPEC 2.1): getdents is performed by the supervisor on a duplicate of the caller's
// descriptor, and on a procfs root the names of processes outside the sandbox are dropped
// before the entries reach the caller's buffer, in /proc/sys/net/*/{conf,neigh} the
// interfaces it may not see (issue 9); sorted by name under deterministicDirs.

import { closeSync, fstatSync, readlinkSync, statfsSync, statSync, type BigIntStats } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import { filterDirents } from "../dirents.js";
import { compareEntries, cookieOf, encodeFrom, parseDirents64, type DirEntry, type SortedPositions } from "../sorted-dirents.js";
import type { Handler, SupervisorContext } from "../handler.js";
import type { Members } from "../members.js";
import type { Notification } from "../notification.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { visibleInterfaces } from "../interface-view.js";
import { within } from "../../plan/proc-grants.js";
import { sysctlEntryShown, sysctlInterfaceEntry } from "../proc-net.js";

const EFAULT = 14;
const EINVAL = 22;
const ESTALE = 116;
const NUMERIC = /^[0-9]+$/;
/** Our read size: the caller's count, capped (a smaller read only returns fewer entries). */
const MAX_READ = 1 << 16;

/** The procfs mounts whose listings are filtered (none without the /proc view), and under
 * deterministicDirs the positions of sorted listings. */
export interface ListingSpec {
  mounts: readonly string[];
  interfaces: InterfaceScope;
  sorted?: SortedPositions;
}

export function listingHandler(spec: ListingSpec, ctx: SupervisorContext, members: Members, legacy: boolean): Handler {
  const { mounts, interfaces, sorted } = spec;
  let roots: { mount: string; dev: number; ino: number }[] | undefined;
  /** The procfs mount whose superblock holds (dev), and whether ino is its root. */
  const procfsOf = (dev: number, ino: number): { mount: string; root: boolean } | undefined => {
    roots ??= mounts.flatMap((mount) => {
      try {
        const st = statSync(mount);
        return [{ mount, dev: st.dev, ino: st.ino }];
      } catch {
        return [];
      }
    });
    const r = roots.find((x) => x.dev === dev);
    return r === undefined ? undefined : { mount: r.mount, root: r.ino === ino };
  };
  const keepPid = (name: string): boolean => !NUMERIC.test(name) || members.has(Number(name));
  /** What to drop from a listing of the duplicate's directory; undefined: nothing. */
  const filterFor = (dup: number): ((name: string) => boolean) | undefined => {
    const st = fstatSync(dup);
    const procfs = procfsOf(st.dev, st.ino);
    if (procfs === undefined) return undefined;
    if (procfs.root) return keepPid;
    // Our own descriptor's path: what we read is this directory, whatever the caller's
    // number names by now.
    let path: string;
    try {
      path = readlinkSync(`/proc/self/fd/${dup}`);
    } catch {
      return undefined;
    }
    if (!within(path, procfs.mount) || path === procfs.mount) return undefined;
    if (sysctlInterfaceEntry(path.slice(procfs.mount.length + 1).split("/")) !== "") return undefined;
    const visible = visibleInterfaces(interfaces).names;
    return (name) => sysctlEntryShown(name, visible);
  };
  return (n) => {
    // Every listing is performed here, on the duplicate, whatever the descriptor names: a
    // decision "not /proc, continue" would rest on what the number refers to, and another
    // thread could dup2 a /proc descriptor onto it before the kernel looks it up again,
    // which would list every pid of the host. The duplicate is what we decide on and read.
    const dup = native().threadGetfd(n.pid, n.argI32(0));
    if (dup < 0) return deny(-dup); // EBADF for a bad descriptor, as the kernel answers
    try {
      const keep = mounts.length > 0 ? filterFor(dup) : undefined;
      return sorted === undefined ? list(n, dup, ctx, keep, legacy) : listSorted(n, dup, ctx, keep, legacy, sorted);
    } finally {
      closeSync(dup);
    }
  };
}

const SEEK_SET = 0;
const SEEK_CUR = 1;

/** getdents on dup into the caller's buffer; with `keep`, only the entries it keeps. */
function list(n: Notification, dup: number, ctx: SupervisorContext, keep: ((name: string) => boolean) | undefined, legacy: boolean): Action {
  const nat = native();
  const count = n.argU32(2);
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(count, MAX_READ)));
  // The duplicate shares the caller's directory offset: what we read is consumed for it
  // too. So the offset is saved first and put back when the caller does not receive the
  // entries (its buffer is not writable, or it is gone): otherwise a failed call would
  // silently skip them, and after a failure at the end of a batch every later read would
  // report an empty directory.
  // (A descriptor that cannot seek is no directory: getdents fails on it with ENOTDIR
  // before consuming anything, as the kernel's own would.)
  const start = nat.lseek(dup, 0n, SEEK_CUR);
  const undo = (errno: number): Action => {
    if (start >= 0n) nat.lseek(dup, start, SEEK_SET);
    return deny(errno);
  };
  // A batch with nothing left after filtering is not an end of directory: read on.
  for (;;) {
    const got = nat.getdents(dup, buf, legacy ? 1 : 0);
    if (got < 0) return undo(-got);
    if (got === 0) return returnValue(0);
    const kept = keep === undefined ? buf.subarray(0, got) : filterDirents(buf.subarray(0, got), legacy, keep);
    if (kept.length === 0) continue;
    // Written only into the buffer the call handed over, after confirming the thread is
    // still the one blocked in it.
    if (!ctx.memory.stillValid(n) || !ctx.memory.write(n, n.argAddr(1), kept)) return undo(EFAULT);
    return returnValue(kept.length);
  }
}

/** File systems whose directories' change time moves with every entry added, removed or
 * renamed in them: ext2/3/4, XFS, Btrfs, tmpfs. (Not overlayfs: a merged directory's time
 * is its upper directory's, which a change of a lower layer leaves alone; nor network
 * and FUSE file systems.) */
const STAMPED_FS = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994]);
/** How long before a listing's read its directory must have last changed for the stamp to
 * be trusted: a change in the same tick of the kernel's coarse clock as the last one would
 * leave the time as it was. */
const STAMP_SETTLED_NS = 100_000_000n;

/**
 * What identifies a directory's entries as they are (modification and change times, size,
 * links), when its file system keeps them so and it last changed long enough ago (see
 * STAMP_SETTLED_NS); undefined otherwise (the listing is read afresh).
 */
function dirStamp(dup: number, st: BigIntStats): string | undefined {
  try {
    if (!STAMPED_FS.has(statfsSync(`/proc/self/fd/${dup}`).type)) return undefined;
  } catch {
    return undefined;
  }
  if (BigInt(Date.now()) * 1_000_000n - st.ctimeNs < STAMP_SETTLED_NS) return undefined;
  return `${st.mtimeNs}:${st.ctimeNs}:${st.size}:${st.nlink}`;
}

/**
 * getdents under deterministicDirs: the whole directory read on the duplicate (from its
 * start), filtered as above, sorted by name, and the entries after the caller's position
 * written into its buffer; the position left is the last entry's cookie (sorted-dirents.ts).
 * A listing from the start reads and sorts the whole directory; its later batches continue
 * from that snapshot (sorted-dirents.ts), except under procfs, read afresh each time.
 */
function listSorted(n: Notification, dup: number, ctx: SupervisorContext, keep: ((name: string) => boolean) | undefined, legacy: boolean, positions: SortedPositions): Action {
  const nat = native();
  const pos = nat.lseek(dup, 0n, SEEK_CUR);
  if (pos < 0n) return deny(Number(-pos));
  const st = fstatSync(dup, { bigint: true });
  if (!st.isDirectory()) {
    // The kernel's own answer (ENOTDIR), before anything moves its offset.
    const got = nat.getdents(dup, Buffer.allocUnsafe(1), legacy ? 1 : 0);
    return got < 0 ? deny(-got) : deny(EINVAL);
  }
  const restore = (errno: number): Action => {
    nat.lseek(dup, pos, SEEK_SET);
    return deny(errno);
  };
  const dir = `${st.dev}:${st.ino}`;
  // A procfs listing is filtered by who is in the sandbox now: always read afresh.
  const stamp = keep === undefined && pos === 0n ? dirStamp(dup, st) : undefined;
  let entries = pos > 0n && keep === undefined ? positions.snapshot(dir) : undefined;
  if (stamp !== undefined) entries = positions.unchangedSnapshot(dir, stamp);
  if (entries === undefined) {
    const rewound = nat.lseek(dup, 0n, SEEK_SET);
    if (rewound < 0n) return restore(Number(-rewound));
    const chunk = Buffer.allocUnsafe(MAX_READ);
    const read: DirEntry[] = [];
    for (;;) {
      const got = nat.getdents(dup, chunk, 0);
      if (got < 0) return restore(-got);
      if (got === 0) break;
      // Appended in place: concat copied everything read so far for every 64 KiB batch
      // (quadratic in the directory's size, on the event loop).
      for (const e of parseDirents64(chunk.subarray(0, got))) if (keep === undefined || keep(e.key)) read.push(e);
    }
    read.sort(compareEntries);
    // The stamp is kept only if the directory did not change while it was read.
    const after = stamp === undefined ? undefined : dirStamp(dup, fstatSync(dup, { bigint: true }));
    if (keep === undefined) positions.keepSnapshot(dir, read, after === stamp ? stamp : undefined);
    entries = read;
  }
  const from = positions.resumeAt(dir, entries, pos);
  // A position naming an entry deleted since, whose name is no longer remembered: where to
  // resume is unknown, and guessing would skip or repeat entries.
  if (from === undefined) return restore(ESTALE);
  if (from >= entries.length) {
    nat.lseek(dup, pos, SEEK_SET);
    return returnValue(0);
  }
  const { bytes, taken } = encodeFrom(entries, from, n.argU32(2), legacy);
  if (taken === 0) return restore(EINVAL); // not even one entry fits, as the kernel answers
  if (!ctx.memory.stillValid(n) || !ctx.memory.write(n, n.argAddr(1), bytes)) return restore(EFAULT);
  const last = entries[from + taken - 1]!.key;
  const cookie = cookieOf(last);
  positions.remember(dir, cookie, last);
  nat.lseek(dup, BigInt(cookie), SEEK_SET);
  return returnValue(bytes.length);
}
