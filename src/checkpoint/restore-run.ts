// Rebuilding one captured process inside a new, fully confined sandbox whose command's
// process waits in the launcher's restore step (native/launcher/restore.c): with remote
// system calls (inject.ts) it unmaps the launcher, moves the vDSO and vvar where the
// image had them, maps every region back (files reopened by the confined process itself,
// so through the new policy's grants), writes the captured pages, reopens descriptors at
// their offsets, sets cwd, umask, ignored signals and the signal mask, then loads the
// saved registers and lets the thread go. Nothing of the image runs before that.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { errnoName } from "../confine/errno.js";
import { CheckpointError } from "../errors.js";
import { native } from "../confine/native.js";
import { inOwnPidNamespace, type FdEntry, type MapEntry, type ProcessImage, type ThreadImage } from "./image.js";
import { CLONE_LOOP, NR, REG, Remote } from "./inject.js";
import { parseMapsInTurns, parseStatus } from "./procfs.js";
import { KERNEL_MAPS } from "./restore-check.js";
import { Turns } from "./turns.js";
import { restoreSched, SchedError } from "./sched.js";
import { armSleep, fixRobustOwners, restoreItimers, restorePosixTimers, restoreThreadState, type Sys } from "./restore-state.js";

const PAGE = 4096n;
const PROT = { r: 1, w: 2, x: 4 } as const;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_GROWSDOWN = 0x100;
const MAP_FIXED_NOREPLACE = 0x100000;
const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;
const AT_FDCWD = -100;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NOCTTY = 0o400;
const O_TRUNC = 0o1000;
const O_CLOEXEC = 0o2000000;
const F_DUPFD = 0;
const PR_SET_MM = 35;
const PR_SET_MM_MAP = 14;
const SIG_IGN = 1n;
const SIG_SETMASK = 2;
/** Restart codes a thread stopped inside a call holds in rax (-ERESTARTSYS...-ERESTART_RESTARTBLOCK). */
const RESTART_MIN = -516n;
const RESTART_MAX = -512n;
const NR_RESTART_SYSCALL = 219n;
/** A thread of the process: CLONE_VM | FS | FILES | SIGHAND | THREAD | SYSVSEM, and
 * CHILD_CLEARTID when glibc's tid field is found (the kernel then clears it and wakes
 * pthread_join when the thread exits). */
const CLONE_THREAD_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000;
const CLONE_CHILD_CLEARTID = 0x200000;
/** x86_64 glibc's struct pthread, at the thread pointer: header.self at 16, tid at 0x2d0. */
const GLIBC_SELF = 16n;
const GLIBC_TID = 0x2d0n;

/** The lowest page-aligned address at or above `from` with `size` bytes clear of `taken`. */
export function holeFor(taken: readonly { start: bigint; end: bigint }[], size: bigint, from: bigint): bigint {
  const sorted = [...taken].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let at = from;
  for (const t of sorted) {
    if (t.end <= at) continue;
    if (t.start >= at + size) break;
    at = (t.end + PAGE - 1n) & ~(PAGE - 1n);
  }
  return at;
}

/** Where the restore step maps its two pages: a hole of the image above 4 GiB (clear of
 * the non-PIE launcher at 0x400000, below the usual places of PIE programs and libraries). */
export function restorePages(ps: readonly ProcessImage[]): bigint {
  return holeFor(ps.flatMap((p) => p.maps), 2n * PAGE, 1n << 32n);
}

/** A failure while rebuilding: the sandbox is then killed (nothing of the image ran). */
function failed(p: ProcessImage, message: string, extra: { fd?: number; errno?: string; refused?: boolean } = {}): CheckpointError {
  return new CheckpointError(extra.refused ? "CHECKPOINT_REFUSED" : "CHECKPOINT_FAILED", `restore: process ${p.pid}${extra.fd !== undefined ? ` fd ${extra.fd}` : ""}: ${message}`, {
    pid: p.pid,
    ...(extra.fd !== undefined ? { fd: extra.fd } : {}),
    ...(extra.errno !== undefined ? { errno: extra.errno } : {}),
  });
}

const protOf = (perms: string): number => (perms[0] === "r" ? PROT.r : 0) | (perms[1] === "w" ? PROT.w : 0) | (perms[2] === "x" ? PROT.x : 0);
const hex = (a: bigint): string => `0x${a.toString(16)}`;

export interface RebuildOptions {
  timeoutMs: number;
  /** Every thread seized so far; on a failure the caller detaches them before killing the
   * sandbox (a killed tracee stays a zombie its parent cannot reap until its tracer lets go). */
  attached?: number[];
}

/** One process of the tree rebuilt up to its threads: its main thread's remote, the
 * threads made so far (the main one first), and each captured tid's new id as the
 * process itself sees it (its pid namespace's: what its memory must hold). */
interface Built {
  pid: number;
  p: ProcessImage;
  r: Remote;
  sys: Sys;
  threads: [Remote, ThreadImage][];
  own: Map<number, number>;
}

/** The id a thread had where it ran: its pid namespace's under the kernel view. */
const ownId = (t: ThreadImage): number => t.nsTid ?? t.tid;

/**
 * Rebuilds image p in process pid (stopped in the restore step with its pages at `at`),
 * its descendants of `tree` and every thread of them; resolves with what lets them all run.
 *
 * The ids. A program keeps its threads' ids in memory: glibc's control block, and the owner
 * of a recursive or error-checking mutex, of an rwlock's writer, of any lock or cache a
 * program built on gettid(). Given new ids, a thread that held such a lock at the capture
 * waits for itself for good once restored. So a capture from the kernel view (ids of the
 * sandbox's own pid namespace: `nsTid`) is restored in the kernel view with the same ids:
 * the root is pid 2 there again (the init is 1), and every other thread and process is
 * made in the order of its id, the ids between used up by threads that end at once
 * (`Ids`), which is how the kernel would have handed them out. A capture from the
 * supervised view holds host ids, which cannot be chosen: those threads get new ids, and
 * glibc's record of each and the owners on robust lists are rewritten (docs/checkpoint.md).
 */
export async function rebuild(pid: number, p: ProcessImage, at: bigint, opts: RebuildOptions, tree: readonly ProcessImage[] = [p]): Promise<() => void> {
  const kernel = inOwnPidNamespace(p);
  const root = await rebuildProcess(pid, p, at, opts, tree);
  const ids = kernel ? new Ids(at, opts.timeoutMs, root) : undefined;
  const built = new Map([[p.pid, root]]);
  // Everything to make, in the order of the ids: each process after its parent, each thread
  // after its process (the kernel handed their ids out in that order).
  // Each process once, whatever the image says (checkImage refuses repeated ids already),
  // found through an index of children rather than a scan of the tree per parent.
  const childrenOf = new Map<number, ProcessImage[]>();
  for (const x of tree) {
    const siblings = childrenOf.get(x.ppid);
    if (siblings === undefined) childrenOf.set(x.ppid, [x]);
    else siblings.push(x);
  }
  const byPid = new Map(tree.map((x) => [x.pid, x]));
  const descendants: ProcessImage[] = [];
  const reached = new Set<ProcessImage>([p]);
  for (let i = -1; i < descendants.length; i++) {
    const parent = i < 0 ? p : descendants[i]!;
    for (const x of childrenOf.get(parent.pid) ?? []) {
      if (reached.has(x)) continue;
      reached.add(x);
      descendants.push(x);
    }
  }
  // Without ids to give back (the supervised view), processes parent first, then threads:
  // host ids may have wrapped, so their order says nothing.
  type Make = { id: number; thread: ThreadImage; of: ProcessImage; process?: ProcessImage };
  const makes: Make[] = [
    ...descendants.map((c) => ({ id: ownId(c.threads[0]!), thread: c.threads[0]!, of: byPid.get(c.ppid)!, process: c })),
    ...[p, ...descendants].flatMap((x) => x.threads.slice(1).map((u) => ({ id: ownId(u), thread: u, of: x }))),
  ];
  if (kernel) makes.sort((a, b) => a.id - b.id);
  for (const m of makes) {
    const owner = built.get(m.of.pid);
    const made = m.process ?? m.of;
    if (owner === undefined) throw failed(made, `process ${m.of.pid}, which makes ${m.process !== undefined ? "it" : `its thread ${m.thread.tid}`}, has a higher id than ${m.id}: the ids of the capture's pid namespace were not handed out in order, and cannot be given back`);
    await ids?.skipTo(owner, m.id, made, m.thread);
    if (m.process === undefined) {
      const own = await makeThread(owner, m.thread, at, opts, kernel);
      ids?.check(own, m.id, made, m.thread);
      continue;
    }
    const c = m.process;
    const own = Number(await owner.sys(`fork (for process ${c.pid})`, NR.fork));
    ids?.check(own, m.id, c, m.thread);
    try {
      built.set(c.pid, await rebuildProcess(kernel ? await hostIdOf(owner.pid, own, "child") : own, c, at, opts, tree));
    } catch (e) {
      // Named after the child, not the root the caller wraps other errors with.
      if (e instanceof CheckpointError) throw e;
      throw failed(c, (e as Error).message.replace(/^restore: /, ""));
    }
  }
  const all = [...built.values()];
  for (const b of all) await finish(b, at);
  // The signal masks last (PTRACE_SETSIGMASK: no call runs after them, so none can be
  // interrupted by a signal they let through); until now every thread blocked them all.
  for (const b of all) {
    for (const [rt, ti] of b.threads) {
      const mask = Buffer.alloc(8);
      mask.writeBigUInt64LE(BigInt(`0x${ti.sigBlocked || "0"}`));
      const rc = native().ptraceSetSigmask(rt.tid, mask);
      if (rc < 0) throw failed(b.p, `thread ${ti.tid}: ptrace(PTRACE_SETSIGMASK): ${errnoName(-rc)}`);
    }
  }
  return () => {
    for (const b of all) for (const [rt, ti] of b.threads) rt.detach(ti.stop === "signal" ? ti.pendingSignal : 0);
  };
}

/** Steps 1 to 7 in process pid (the root, stopped in the restore step, or a fork of its
 * rebuilt parent sleeping in the pause loop, with the pages at `at`). */
async function rebuildProcess(pid: number, p: ProcessImage, at: bigint, opts: RebuildOptions, tree: readonly ProcessImage[]): Promise<Built> {
  const r = await Remote.attach(pid, at, at + PAGE, opts.timeoutMs);
  opts.attached?.push(pid);
  const sys = sysOf(r, p);
  const ours = { start: at, end: at + 2n * PAGE };
  // Every signal blocked from the first call on (a fork inherits it, a clone too): one sent
  // meanwhile (a terminal's SIGWINCH to the sandbox's group) stays queued instead of
  // stopping a remote call, and no handler of the image runs before its registers are set.
  // The image's masks are set last (rebuild).
  await sys("rt_sigprocmask(SIG_SETMASK, every signal)", NR.rtSigprocmask, SIG_SETMASK, r.put(Buffer.alloc(8, 0xff)), 0, 8);

  // 1. Everything of the launcher (or of the parent this is a fork of) goes, descriptors
  // above stdio too; the kernel's own mappings stay (moved in 2). A descriptor this process
  // shares with its parent (inherited: one open file description, one offset) is kept: moved
  // above every number of the images first, put at its own number in 6.
  const inherited = await keepInherited(p, tree, sys);
  const keepFrom = inherited.size > 0 ? Math.min(...inherited.values()) : 0xffffffff;
  await sys("close_range(3, ...)", NR.closeRange, 3, keepFrom - 1, 0);
  if (inherited.size > 0) await sys("close_range(above the kept ones)", NR.closeRange, keepFrom + inherited.size, 0xffffffff, 0);
  // A fork of a rebuilt parent holds the parent's mappings (up to 65,530): read on the
  // pool, parsed in turns.
  const now = await parseMapsInTurns(await readFile(`/proc/${pid}/maps`, "latin1"), new Turns());
  for (const m of now) {
    if (KERNEL_MAPS.has(m.path) || (m.start >= ours.start && m.end <= ours.end)) continue;
    await sys(`munmap(${hex(m.start)})`, NR.munmap, m.start, m.end - m.start);
  }

  // 2. vDSO and vvar where the image had them (the image's code calls the vDSO there).
  // Same kernel (checked), so the same sizes; moved out of the way first, then in place.
  const specials = now.filter((m) => KERNEL_MAPS.has(m.path) && m.path !== "[vsyscall]");
  const imageSpecial = new Map(p.maps.filter((m) => KERNEL_MAPS.has(m.path)).map((m) => [m.path, m]));
  const moves: [MapEntry, MapEntry][] = [];
  for (const m of specials) {
    const want = imageSpecial.get(m.path);
    if (want === undefined || want.end - want.start !== m.end - m.start) {
      throw failed(p, `the kernel's ${m.path} (${m.end - m.start} bytes) does not match the checkpoint's (${want === undefined ? "none" : `${want.end - want.start} bytes`})`, { refused: true });
    }
    if (want.start !== m.start) moves.push([m, want]);
  }
  const taken = [...p.maps, ours, ...specials];
  let park = 1n << 40n;
  for (const [m] of moves) {
    const size = m.end - m.start;
    park = holeFor(taken, size, park);
    await sys(`mremap(${m.path} to a free place)`, NR.mremap, m.start, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, park);
    taken.push({ start: park, end: park + size });
    m.start = park;
    m.end = park + size;
    park += size + PAGE;
  }
  for (const [m, want] of moves) {
    await sys(`mremap(${m.path} to ${hex(want.start)})`, NR.mremap, m.start, want.end - want.start, want.end - want.start, MREMAP_MAYMOVE | MREMAP_FIXED, want.start);
  }

  // 3. Every region, writable while its pages are filled; files opened by the confined
  // process itself, so the new policy's grants (Landlock, the supervisor) decide.
  const fileFds = new Map<string, bigint>();
  for (const m of p.maps) {
    if (KERNEL_MAPS.has(m.path)) continue;
    const len = m.end - m.start;
    let fd = -1n;
    if (m.inode !== 0) {
      fd = fileFds.get(m.path) ?? -1n;
      if (fd < 0n) {
        const rc = await r.call(NR.openat, AT_FDCWD, r.put(m.path), 0, 0);
        if (rc < 0n) throw failed(p, `the mapped file ${m.path} cannot be opened in the new sandbox: ${errnoName(Number(-rc))}`, { errno: errnoName(Number(-rc)), refused: true });
        fd = rc;
        sameFile(p, pid, fd, m.path, m.file?.dev, m.file?.ino);
        fileFds.set(m.path, fd);
      }
    }
    // Shared (read-only, restore-check.ts): the file's own pages, mapped with their final
    // protection (a shared writable map of a read-only descriptor is refused by the kernel).
    const shared = m.perms[3] === "s";
    const flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED_NOREPLACE | (fd < 0n ? MAP_ANONYMOUS : 0) | (m.path === "[stack]" ? MAP_GROWSDOWN : 0);
    const got = await sys(`mmap(${hex(m.start)}, ${m.path || "anonymous"})`, NR.mmap, m.start, len, shared ? protOf(m.perms) : PROT.r | PROT.w, flags, fd, fd < 0n ? 0 : m.offset);
    if (got !== m.start) throw failed(p, `mmap(${hex(m.start)}) placed the region at ${hex(got)}`);
  }
  for (const fd of fileFds.values()) await sys("close", NR.close, fd);

  // 4. The captured pages, then each region's own protection.
  for (const s of p.memory) r.write(s.start, s.data);
  for (const m of p.maps) {
    if (KERNEL_MAPS.has(m.path)) continue;
    await sys(`mprotect(${hex(m.start)}, ${m.perms})`, NR.mprotect, m.start, m.end - m.start, protOf(m.perms));
  }

  // 5. The kernel's layout fields: brk (malloc's heap grows from the image's, not the
  // launcher's), and the argument and environment areas /proc/<pid>/cmdline reads. No
  // privilege is needed as long as the executable file is not changed (exe_fd -1).
  if (p.mm !== undefined) {
    const mm = Buffer.alloc(104);
    const v = p.mm;
    [v.startCode, v.endCode, v.startData, v.endData, v.startBrk, v.brk, v.startStack, v.argStart, v.argEnd, v.envStart, v.envEnd].forEach((x, i) => mm.writeBigUInt64LE(x, i * 8));
    const auxv = p.auxv.subarray(0, Math.min(p.auxv.length, 2048));
    mm.writeBigUInt64LE(r.scratch + 128n, 88);
    mm.writeUInt32LE(auxv.length, 96);
    mm.writeUInt32LE(0xffffffff, 100);
    r.put(Buffer.concat([mm, Buffer.alloc(128 - 104), auxv]));
    await sys("prctl(PR_SET_MM, PR_SET_MM_MAP)", NR.prctl, PR_SET_MM, PR_SET_MM_MAP, r.scratch, 104, 0);
  }

  // 6. Descriptors above stdio, at their numbers, flags and offsets; one that shared its
  // open file description with a lower one or its parent's is a dup of it (one offset).
  for (const f of p.fds) {
    if (f.fd <= 2) continue;
    const from = f.sharedWith === undefined ? undefined : f.sharedWith.pid === p.pid ? f.sharedWith.fd : inherited.get(f.fd);
    if (from === undefined) {
      await reopen(r, p, pid, f);
      continue;
    }
    await sys(`dup3(${from}, ${f.fd}) (one open file)`, NR.dup3, from, f.fd, f.flags & O_CLOEXEC);
    if (f.sharedWith!.pid !== p.pid) await sys("close", NR.close, from);
  }

  // 7. Working directory, umask, ignored signals and handlers.
  await sys(`chdir(${p.cwd})`, NR.chdir, r.put(p.cwd));
  if (p.umask >= 0) await sys("umask", NR.umask, p.umask);
  const ignored = BigInt(`0x${p.sigIgnored || "0"}`);
  for (let sig = 1; sig <= 64; sig++) {
    if ((ignored >> BigInt(sig - 1)) & 1n) {
      const act = Buffer.alloc(32);
      act.writeBigUInt64LE(SIG_IGN, 0);
      await sys(`rt_sigaction(${sig}, SIG_IGN)`, NR.rtSigaction, sig, r.put(act), 0, 8);
    }
  }
  for (const a of p.sigActions ?? []) {
    const act = Buffer.alloc(32);
    [a.handler, a.flags, a.restorer, a.mask].forEach((x, i) => act.writeBigUInt64LE(x, i * 8));
    await sys(`rt_sigaction(${a.sig})`, NR.rtSigaction, a.sig, r.put(act), 0, 8);
  }
  const t = p.threads[0]!;
  return { pid, p, r, sys, threads: [[r, t]], own: new Map([[t.tid, ownTidOf(pid)]]) };
}

/** Another thread of owner: cloned by its main thread, it starts in the pause loop and is
 * seized there; resolves with its id as the process sees it. glibc's record of the thread's
 * id (CLONE_CHILD_CLEARTID on it: the kernel clears it and wakes pthread_join when the
 * thread exits) is moved to that id in finish(), when it is a new one. */
async function makeThread(owner: Built, u: ThreadImage, at: bigint, opts: RebuildOptions, kernel: boolean): Promise<number> {
  const tidField = glibcTidField(owner.pid, u);
  const own = Number(await owner.sys(`clone (thread ${u.tid})`, NR.clone, CLONE_THREAD_FLAGS | (tidField !== undefined ? CLONE_CHILD_CLEARTID : 0), 0, 0, tidField ?? 0, 0));
  const tid = kernel ? await hostIdOf(owner.pid, own, "thread") : own;
  const ru = await Remote.attach(tid, at, at + PAGE, opts.timeoutMs);
  opts.attached?.push(tid);
  owner.threads.push([ru, u]);
  owner.own.set(u.tid, own);
  return own;
}

/**
 * The rest of process b, once every thread and process of the tree is made: glibc's
 * records of the threads' ids, rseq and the robust-futex list (each thread its own; after
 * the forks, which inherit an rseq registration), nice, policy and affinity (each thread
 * its own, once all are made: a clone inherits its caller's), the interval and POSIX
 * timers (a timer may signal one thread: by its id), a sleep's time left, the restore
 * pages gone, the saved registers.
 */
async function finish(b: Built, at: bigint): Promise<void> {
  const { pid, p, r, sys } = b;
  for (const [, ti] of b.threads) fixTid(pid, p, ti, b.own.get(ti.tid)!);
  // rseq_cs is written back at the end (the kernel clears it on each return to user
  // outside a critical section).
  const rseqCs: { at: bigint; value: Buffer }[] = [];
  for (const [rt, ti] of b.threads) {
    const cs = await restoreThreadState(rt, ti, rt === r ? sys : sysOf(rt, p, ti));
    if (cs !== undefined) rseqCs.push(cs);
  }
  fixRobustOwners(pid, p, b.own);
  for (const [rt, ti] of b.threads) {
    try {
      await restoreSched(rt, pid, ti);
    } catch (e) {
      if (!(e instanceof SchedError)) throw e;
      throw failed(p, e.message, { refused: e.refused, ...(e.errno !== 0 ? { errno: errnoName(e.errno) } : {}) });
    }
  }
  // Interval timers (alarm included) with the time they had left; POSIX timers, each
  // signalling its thread by the id the process sees.
  await restoreItimers(r, p, sys);
  try {
    await restorePosixTimers(r, pid, p, b.own, sys);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw failed(p, (e as Error).message, { refused: true });
  }

  // A thread captured in a relative sleep sleeps the time it had left (restore-state.ts).
  const sleeping = new Set<ThreadImage>();
  for (const [rt, ti] of b.threads) if (await armSleep(rt, ti)) sleeping.add(ti);

  // The restore step's pages go (the call returns to an address that is gone; the
  // registers below replace it before any thread runs).
  await sys("munmap(the restore step's pages)", NR.munmap, at, 2n * PAGE);
  for (const cs of rseqCs) r.write(cs.at, cs.value);

  // The saved registers, every thread's before any runs. A thread captured inside a
  // call holds the kernel's restart code: it re-issues the call, as the kernel would
  // have on thaw (a relative sleep armed above enters restart_syscall instead; one
  // without a rem pointer sleeps its whole time again: its time left is not in the image).
  for (const [rt, ti] of b.threads) {
    for (const set of ti.regsets) {
      if (set.name === "prstatus") continue;
      rt.setRegs(set.data, set.note);
    }
    const regs = Buffer.from(ti.regsets[0]!.data);
    const rax = regs.readBigInt64LE(REG.rax * 8);
    const orig = regs.readBigInt64LE(REG.origRax * 8);
    if (sleeping.has(ti)) {
      // restart_syscall, as the kernel itself restarts such a sleep: it reads the restart
      // block armSleep left (the sleep's end), so only the time left is slept.
      regs.writeBigInt64LE(NR_RESTART_SYSCALL, REG.rax * 8);
      regs.writeBigUInt64LE(regs.readBigUInt64LE(REG.rip * 8) - 2n, REG.rip * 8);
    } else if (orig >= 0n && rax >= RESTART_MIN && rax <= RESTART_MAX) {
      regs.writeBigInt64LE(orig, REG.rax * 8);
      regs.writeBigUInt64LE(regs.readBigUInt64LE(REG.rip * 8) - 2n, REG.rip * 8);
    }
    regs.writeBigInt64LE(-1n, REG.origRax * 8);
    rt.setRegs(regs);
  }
}

/** The calls of thread rt of image p: a failure names the call (and the thread, when it is
 * not the main one) and its errno. */
function sysOf(rt: Remote, p: ProcessImage, t?: ThreadImage): Sys {
  return async (what, nr, ...args) => {
    const rc = await rt.call(nr, ...args);
    if (rc < 0n && rc > -4096n) throw failed(p, `${t !== undefined ? `thread ${t.tid}: ` : ""}${what}: ${errnoName(Number(-rc))}`, { errno: errnoName(Number(-rc)) });
    return rc;
  };
}

/** Ids used up at most to reach one of the image's: each costs a supervised clone of a
 * thread that ends at once (about 0.1 ms here, docs/checkpoint.md "Ids"). */
export const SKIPPED_IDS_MAX = 1 << 16;
/** Time allowed per id used up, on top of a step's timeout. */
const SKIP_MS = 1;

/**
 * The restore's pid namespace hands ids out in order, from the last one handed out up
 * (wrapping only at pid_max), and reuses none before it wraps. To give a thread or process
 * the id it had, the ids below it are used up first, by the restore page's clone loop
 * (native/launcher/restore.c): threads that end at once. An id already handed out cannot
 * be had again: the restore then fails, naming it.
 */
class Ids {
  private last: number;
  private skipped = 0;

  constructor(
    private readonly at: bigint,
    private readonly timeoutMs: number,
    root: Built,
  ) {
    const t = root.p.threads[0]!;
    this.last = root.own.get(t.tid)!;
    this.check(this.last, ownId(t), root.p, t);
  }

  /** Uses up ids in owner's namespace until the next one handed out is `id`. */
  async skipTo(owner: Built, id: number, p: ProcessImage, t: ThreadImage): Promise<void> {
    const count = id - 1 - this.last;
    if (count <= 0) return;
    this.skipped += count;
    if (this.skipped > SKIPPED_IDS_MAX) throw failed(p, `thread ${t.tid}: its id ${id} in the sandbox's pid namespace is past more than ${SKIPPED_IDS_MAX} ids not in the checkpoint, which the restore would use up one at a time to give it back`, { refused: true });
    const got = await owner.r.cloneLoop(this.at + CLONE_LOOP, count, [CLONE_THREAD_FLAGS, 0, 0, 0, 0], this.timeoutMs + count * SKIP_MS);
    if (got < 0n) throw failed(owner.p, `clone (threads using up ids ${this.last + 1} to ${id - 1}): ${errnoName(Number(-got))}`, { errno: errnoName(Number(-got)) });
    this.last = Number(got);
    if (this.last >= id) throw failed(p, `thread ${t.tid}: its id ${id} in the sandbox's pid namespace cannot be given back (the kernel handed out ${this.last} while using up the ids below it)`);
  }

  /** The id the kernel gave (`got`) must be the one the image had (`want`). */
  check(got: number, want: number, p: ProcessImage, t: ThreadImage): void {
    if (got !== want) throw failed(p, `thread ${t.tid}: its id ${want} in the sandbox's pid namespace cannot be given back (the kernel handed out ${got}${got > want ? `: ${want} was taken already` : ""})`);
    this.last = got;
  }
}

/** The host's id of the thread (or the child process) that process pid just made, known to
 * it by `own` (its pid namespace's id). Newest first: both lists are in the order the tasks
 * were made (host ids ascending unless they wrapped), so one status is read, not all. The
 * kernel lists a task before clone returns; one CI run still did not find a just-made
 * thread, so the lists are read again for up to 100 ms, and a failure names what they held. */
async function hostIdOf(pid: number, own: number, kind: "thread" | "child"): Promise<number> {
  const list = () => (kind === "thread" ? readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b) : readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1").trim().split(/\s+/).filter(Boolean).map(Number));
  const seen: string[] = [];
  const until = Date.now() + 100;
  for (;;) {
    const candidates = list();
    for (const id of candidates.reverse()) {
      let ns: number | string;
      try {
        ns = ownTidOf(id);
      } catch (e) {
        ns = (e as NodeJS.ErrnoException).code ?? "unreadable"; // gone meanwhile: not the one just made, which is stopped or asleep
      }
      if (ns === own) return id;
      seen.push(`${id}:${ns}`);
    }
    if (Date.now() >= until) break;
    seen.push("|");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new CheckpointError("CHECKPOINT_FAILED", `restore: the ${kind === "thread" ? "thread" : "process"} ${pid} just made (id ${own} in its pid namespace) is not in /proc/${pid} (host id:namespace id seen, passes split by |: ${seen.slice(0, 40).join(" ")})`);
}

/** Thread tid's id in its own pid namespace (the last of /proc/<tid>/status NSpid). */
function ownTidOf(tid: number): number {
  return Number(parseStatus(readFileSync(`/proc/${tid}/status`, "latin1")).get("NSpid")?.split(/\s+/).pop());
}

/** For a child of the tree: each of its descriptors it shares with its parent (which, rebuilt
 * and forked, holds them at their captured numbers) is duplicated above every descriptor
 * number of both images; resolves with fd -> that temporary number (consecutive). */
async function keepInherited(p: ProcessImage, tree: readonly ProcessImage[], sys: Sys): Promise<Map<number, number>> {
  const kept = new Map<number, number>();
  const parent = tree.find((x) => x.pid === p.ppid && x !== p);
  const shared = p.fds.filter((f) => f.fd > 2 && parent !== undefined && f.sharedWith?.pid === parent.pid);
  if (shared.length === 0) return kept;
  const base = 1 + Math.max(...p.fds.map((f) => f.fd), ...parent!.fds.map((f) => f.fd));
  for (const f of shared) {
    const tmp = Number(await sys(`fcntl(${f.sharedWith!.fd}, F_DUPFD, ${base})`, NR.fcntl, f.sharedWith!.fd, F_DUPFD, base));
    kept.set(f.fd, tmp);
  }
  return kept;
}

/** The address of glibc's tid field of thread t (in the rebuilt memory), when its thread
 * pointer holds a glibc control block (self pointer at +16) whose tid is the captured one. */
function glibcTidField(pid: number, t: ThreadImage): bigint | undefined {
  const fsBase = t.regsets[0]!.data.readBigUInt64LE(21 * 8);
  if (fsBase === 0n) return undefined;
  const b = Buffer.alloc(8);
  if (native().readMemory(pid, Number(fsBase + GLIBC_SELF), b) !== 8 || b.readBigUInt64LE(0) !== fsBase) return undefined;
  // The tid glibc recorded is the one the thread had in its own pid namespace (nsTid).
  if (native().readMemory(pid, Number(fsBase + GLIBC_TID), b.subarray(0, 4)) !== 4 || b.readInt32LE(0) !== (t.nsTid ?? t.tid)) return undefined;
  return fsBase + GLIBC_TID;
}

/** Writes the new tid into glibc's record of thread t, when found. */
function fixTid(pid: number, p: ProcessImage, t: ThreadImage, tid: number): void {
  const at = glibcTidField(pid, t);
  if (at === undefined) return;
  const b = Buffer.alloc(4);
  b.writeInt32LE(tid);
  if (native().writeMemory(pid, Number(at), b) !== 4) throw failed(p, `thread ${t.tid}: cannot write its new tid into its control block`);
}

/** The descriptor fd of pid must be the file the image had (device and inode). */
function sameFile(p: ProcessImage, pid: number, fd: bigint, path: string, dev: number | undefined, ino: number | undefined, imageFd?: number): void {
  const st = statSync(`/proc/${pid}/fd/${fd}`, { bigint: true });
  if (dev === undefined || ino === undefined || Number(st.dev) !== dev || Number(st.ino) !== ino) {
    throw failed(p, `${path} opened in the new sandbox is not the file of the checkpoint (it was replaced)`, { refused: true, ...(imageFd !== undefined ? { fd: imageFd } : {}) });
  }
}

async function reopen(r: Remote, p: ProcessImage, pid: number, f: FdEntry): Promise<void> {
  const flags = f.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
  const rc = await r.call(NR.openat, AT_FDCWD, r.put(f.target), flags & ~O_CLOEXEC, 0);
  if (rc < 0n) {
    throw failed(p, `${f.target} cannot be opened in the new sandbox: ${errnoName(Number(-rc))}`, { fd: f.fd, errno: errnoName(Number(-rc)), refused: true });
  }
  sameFile(p, pid, rc, f.target, f.file?.dev, f.file?.ino, f.fd);
  const call = async (what: string, nr: number, ...args: (bigint | number)[]): Promise<bigint> => {
    const n = await r.call(nr, ...args);
    if (n < 0n) throw failed(p, `${what}: ${errnoName(Number(-n))}`, { fd: f.fd, errno: errnoName(Number(-n)) });
    return n;
  };
  if (rc !== BigInt(f.fd)) {
    await call(`dup3(${rc}, ${f.fd})`, NR.dup3, rc, f.fd, f.flags & O_CLOEXEC);
    await call("close", NR.close, rc);
  } else if ((f.flags & O_CLOEXEC) !== 0) {
    await call("fcntl(F_SETFD, FD_CLOEXEC)", NR.fcntl, rc, 2, 1);
  }
  if (f.pos > 0 && statSync(f.target).isFile()) await call(`lseek(${f.pos})`, NR.lseek, f.fd, f.pos, 0);
}
