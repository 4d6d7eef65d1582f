// Listing directories while /proc is reachable (SPEC 4.4) or under deterministicDirs
// (SPEC 2.1): getdents is performed by the supervisor on a duplicate of the caller's
// descriptor, and on a procfs root the names of processes outside the sandbox are dropped
// before the entries reach the caller's buffer, in /proc/sys/net/*/{conf,neigh} the
// interfaces it may not see (issue 9); sorted by name under deterministicDirs.

import { closeSync, constants, fstatSync, openSync, readlinkSync, statfsSync, statSync, type BigIntStats } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import { filterDirents } from "../dirents.js";
import { cookieOf, encodeFrom, ListingBuilder, type Listing, type SortedPositions } from "../sorted-dirents.js";
import type { Handler, SupervisorContext } from "../handler.js";
import type { Members } from "../members.js";
import type { Notification } from "../notification.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { visibleInterfaces } from "../interface-view.js";
import { within } from "../../plan/proc-grants.js";
import { sysctlEntryShown, sysctlInterfaceEntry } from "../proc-net.js";

const EFAULT = 14;
const EINVAL = 22;
const EINTR = 4;
const ENOMEM = 12;
const ESTALE = 116;
const { O_RDONLY, O_DIRECTORY } = constants;
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
  const handle = (n: Notification, slot: boolean): Action | Promise<Action> => {
    // Every listing is performed here, on the duplicate, whatever the descriptor names: a
    // decision "not /proc, continue" would rest on what the number refers to, and another
    // thread could dup2 a /proc descriptor onto it before the kernel looks it up again,
    // which would list every pid of the host. The duplicate is what we decide on and read.
    const dup = native().threadGetfd(n.pid, n.argI32(0));
    if (dup < 0) {
      if (slot) sorted!.parts.release();
      return deny(-dup); // EBADF for a bad descriptor, as the kernel answers
    }
    let later: Promise<Action> | undefined;
    try {
      const keep = mounts.length > 0 ? filterFor(dup) : undefined;
      if (sorted === undefined) return list(n, dup, ctx, keep, legacy);
      let r: ReturnType<typeof listSorted>;
      try {
        r = listSorted(n, dup, ctx, keep, legacy, sorted, slot);
      } catch (e) {
        if (slot) sorted.parts.release();
        throw e;
      }
      if (r === WAIT) {
        // Every listing in parts this sandbox may have runs: this one waits for a place,
        // holding nothing but its notification (the duplicate closes below), and is made
        // again from the start once one is reserved for it.
        return sorted.parts.wait().then((): Action | Promise<Action> => (ctx.memory.stillValid(n) ? handle(n, true) : (sorted.parts.release(), deny(EINTR))));
      }
      if (!(r instanceof Promise)) return r;
      later = r.finally(() => closeSync(dup));
      return later;
    } finally {
      if (later === undefined) closeSync(dup);
    }
  };
  return (n) => handle(n, false);
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
 * getdents under deterministicDirs: the whole directory read (from its start), filtered as
 * above, sorted by name, and the entries after the caller's position written into its
 * buffer; the position left is the last entry's cookie (sorted-dirents.ts). A listing from
 * the start reads and sorts the whole directory unless its stamp says the kept one is
 * still right; its later batches continue from that snapshot (sorted-dirents.ts), except
 * under procfs, read afresh each time.
 *
 * A directory's size is the sandbox's to choose (200,000 names took 425 ms to read and
 * sort here, in one step of the event loop every sandbox of this process shares). Within
 * the call the read goes on for SYNC_WORK entries read or merged (an ordinary directory is
 * answered there, as before); past that, in parts (InParts.run) of getdents batches and
 * MERGE_STEP entries merged, one part of the sandbox's listings per turn of the loop, at most
 * IN_PARTS_AT_ONCE listings of a sandbox in parts at once (the others wait, holding nothing
 * but their notification: WAIT). Read on a file description of the supervisor's own where
 * it can open one (the duplicate shares its offset with the caller's other threads).
 */
function listSorted(
  n: Notification, dup: number, ctx: SupervisorContext, keep: ((name: string) => boolean) | undefined, legacy: boolean, positions: SortedPositions, slot: boolean,
): Action | Promise<Action> | typeof WAIT {
  const nat = native();
  const done = (a: Action): Action => {
    if (slot) positions.parts.release();
    return a;
  };
  // Load-bearing: an O_PATH descriptor cannot seek (EBADF). It can name a directory the
  // sandbox may not read (Landlock allows O_PATH opens), and the fresh read below is made
  // on a description of the supervisor's own, which could read it.
  const pos = nat.lseek(dup, 0n, SEEK_CUR);
  if (pos < 0n) return done(deny(Number(-pos)));
  const st = fstatSync(dup, { bigint: true });
  if (!st.isDirectory()) {
    // The kernel's own answer (ENOTDIR), before anything moves its offset.
    const got = nat.getdents(dup, Buffer.allocUnsafe(1), legacy ? 1 : 0);
    return done(got < 0 ? deny(-got) : deny(EINVAL));
  }
  const restore = (errno: number): Action => {
    nat.lseek(dup, pos, SEEK_SET);
    return deny(errno);
  };
  const dir = `${st.dev}:${st.ino}`;
  const answer = (entries: Listing): Action => {
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
    const last = entries.key(from + taken - 1);
    const cookie = cookieOf(last);
    positions.remember(dir, cookie, last);
    nat.lseek(dup, BigInt(cookie), SEEK_SET);
    return returnValue(bytes.length);
  };
  // A procfs listing is filtered by who is in the sandbox now: always read afresh.
  const stamp = keep === undefined && pos === 0n ? dirStamp(dup, st) : undefined;
  let entries = pos > 0n && keep === undefined ? positions.snapshot(dir) : undefined;
  if (stamp !== undefined) entries = positions.unchangedSnapshot(dir, stamp);
  if (entries !== undefined) return done(answer(entries));

  let own = keep === undefined ? reopenDirectory(dup) : -1;
  if (own < 0) {
    const rewound = nat.lseek(dup, 0n, SEEK_SET);
    if (rewound < 0n) return done(restore(Number(-rewound)));
  }
  const steps = readSorted(own >= 0 ? own : dup, keep);
  /** Ends the read: the generator returned, our description closed (once). */
  const stop = (): void => {
    steps.return(0);
    if (own >= 0) closeSync(own);
    own = -1;
  };
  const fresh = (read: Listing | number): Action => {
    stop();
    if (typeof read === "number") return restore(-read);
    // The stamp is kept only if the directory did not change while it was read.
    const after = stamp === undefined ? undefined : dirStamp(dup, fstatSync(dup, { bigint: true }));
    if (keep === undefined) positions.keepSnapshot(dir, read, after === stamp ? stamp : undefined);
    return answer(read);
  };
  let step = steps.next();
  // With a place reserved (a listing that waited for one), the parts start at once.
  for (let work = 0; !slot && step.done !== true && work < SYNC_WORK; step = steps.next()) work += step.value;
  if (step.done === true) return done(fresh(step.value));
  if (!slot && !positions.parts.take()) {
    // What was read is dropped: the listing is made again from the start (see listingHandler).
    stop();
    if (!positions.parts.canWait()) return restore(ENOMEM);
    return WAIT;
  }
  return (async (): Promise<Action> => {
    try {
      // The caller gone (killed, the sandbox ended): the rest is not read.
      const last: { value?: Listing | number } = {};
      const next = (): boolean => {
        const r = steps.next();
        if (r.done === true) last.value = r.value;
        return r.done === true;
      };
      if (!(await positions.parts.run(next, () => ctx.memory.stillValid(n))) || last.value === undefined) {
        stop();
        return restore(EINTR);
      }
      return fresh(last.value);
    } catch (e) {
      stop();
      throw e;
    } finally {
      positions.parts.release();
    }
  })();
}

/** What listSorted answers when the listing must wait for a place among those in parts. */
const WAIT = Symbol("wait");
/** Entries read or merged within the call before a listing goes on in parts (about 10 ms here). */
const SYNC_WORK = 8_192;
/** Entries merged in one step. */
const MERGE_STEP = 8_192;

/** A description of the duplicate's directory of the supervisor's own (its offset is not
 * the caller's), or -1. Opened through the supervisor's descriptor: the same directory. */
function reopenDirectory(dup: number): number {
  try {
    return openSync(`/proc/self/fd/${dup}`, O_RDONLY | O_DIRECTORY); // libuv adds O_CLOEXEC
  } catch {
    return -1;
  }
}

/**
 * The entries of directory fd from its offset, kept by `keep`, sorted by name: a batch
 * read and sorted per step, then the batches merged MERGE_STEP entries per step. Each
 * step yields the entries it handled; the value is the sorted listing or -errno.
 */
function* readSorted(fd: number, keep: ((name: string) => boolean) | undefined): Generator<number, Listing | number> {
  const chunk = Buffer.allocUnsafe(MAX_READ);
  const listing = new ListingBuilder();
  let runs: Uint32Array[] = [];
  for (;;) {
    const got = native().getdents(fd, chunk, 0);
    if (got < 0) return got;
    if (got === 0) break;
    const from = listing.length;
    const walked = listing.addRecords(chunk.subarray(0, got), keep);
    if (listing.length > from) runs.push(listing.sorted(from));
    yield walked;
  }
  while (runs.length > 1) {
    const next: Uint32Array[] = [];
    for (let i = 0; i + 1 < runs.length; i += 2) next.push(yield* mergeRuns(listing, runs[i]!, runs[i + 1]!));
    if (runs.length % 2 === 1) next.push(runs[runs.length - 1]!);
    runs = next;
  }
  return listing.finish(runs[0] ?? new Uint32Array(0));
}

function* mergeRuns(l: ListingBuilder, a: Uint32Array, b: Uint32Array): Generator<number, Uint32Array> {
  const out = new Uint32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    out[k++] = l.compare(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
    if (k % MERGE_STEP === 0) yield MERGE_STEP;
  }
  out.set(a.subarray(i), k);
  out.set(b.subarray(j), k + a.length - i);
  yield (a.length + b.length) % MERGE_STEP;
  return out;
}
