// maxMemory: a cap on the sandbox's private writable memory and what it holds in
// memory-backed files (memfds, tmpfs). mmap, mremap and brk come here; a request that
// would take the sandbox past the cap gets ENOMEM and its process is killed; fallocate
// of a memory-backed file past the cap is refused. A watchdog catches growth no request
// announced (mprotect of a reservation, write() into a memfd or a tmpfs file).
// In a fork group the cap applies to each clone (with the processes it starts) and to
// the zygote separately: clones share the zygote's memory copy-on-write, and each is
// charged what it maps, inherited mappings included.

import { closeSync, readdirSync } from "node:fs";
import { native } from "../../confine/native.js";
import type { LimitExceeded } from "../../result.js";
import { CONTINUE, deny, returnValue, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { cloneUnit, parentOf, processTree, statFields } from "../members.js";
import { isPathHandleOnMemory, MemoryFiles, sysvKey } from "../memory-files.js";
import { SysvSegments } from "../sysv-segments.js";
import { IN_FLIGHT_MS, KernelBuffers } from "../kernel-buffers.js";
import type { Notification } from "../notification.js";
import type { PassedHook } from "./net.js";
import { CLONE_THREAD } from "../../plan/seccomp.js";
import { readProcText } from "../../kernel/proc-text.js";
import { runInSlices, type Step } from "../slices.js";

const ENOMEM = 12;
const EINVAL = 22;
const EINTR = 4;
const ENOSPC = 28;
const EFBIG = 27;
const EMFILE = 24;

/** memfds a sandbox may hold at once (see memfd_create below). */
export const MAX_HELD_MEMFDS = 1024;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const EFAULT = 14;
const ENOSYS = 38;
const MFD_CLOEXEC = 1;
/** memfd_create's name limit: NAME_MAX less the "memfd:" prefix. */
const MEMFD_NAME_MAX = 249;
const PROT_WRITE = 0x2;
const MAP_SHARED = 0x01;
const MAP_ANONYMOUS = 0x20;
const PAGE = 4096;
const WATCH_MS = 100;
const EAGAIN = 11;
/**
 * The kernel memory of one thread, charged for every thread of every process: its kernel
 * stack (THREAD_SIZE, 16 KiB on x86_64: /proc/meminfo's KernelStack grew by exactly that
 * per thread) and its task (task_struct 5,952 bytes on this 6.18 kernel, with the pid and
 * the rest of its slab objects about 8 KiB). Measured: 4,096 threads on 1 KiB user stacks
 * took 16.7-20.4 KiB of MemAvailable each, charged nowhere before.
 */
export const THREAD_KERNEL_BYTES = 24 * 1024;

/** The status text of a thread that is not a zombie, when thread-group leader `tgid` has
 * exited while other threads of its process go on (SYS_exit from the main thread): the
 * leader's own /proc entry then shows no memory, no mappings and no descriptors, though
 * the process holds all of them. Returns the thread and its status, or null. */
function liveThread(tgid: number): { task: number; status: string } | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${tgid}/task`);
  } catch {
    return null;
  }
  for (const t of tids) {
    if (Number(t) === tgid) continue;
    try {
      const status = readProcText(`/proc/${t}/status`);
      if (!/^State:\s+[ZX]/m.test(status)) return { task: Number(t), status };
    } catch {
      // that thread exited meanwhile
    }
  }
  return null;
}

/**
 * What a process is charged: VmData (the kernel's count of its private writable
 * mappings, heap and anonymous memory included, PROT_NONE reservations excluded, the
 * figure RLIMIT_DATA limits), VmStk (stacks: the main one, and every MAP_GROWSDOWN
 * mapping, which grow on page faults with no syscall and which VmData leaves out), plus
 * RssShmem (shared memory it has touched; memory-files.ts charges the shared objects
 * themselves), plus kernel memory: its page tables (VmPTE: a read-only mapping costs no
 * VmData, but touching it a byte every 2 MiB costs a page table page each, measured 128
 * MiB for 64 GiB mapped) and its threads' (THREAD_KERNEL_BYTES each). Returns the
 * thread's process id with it, and `task`, the thread whose /proc entry shows the
 * process's memory and descriptors (the process's own id, unless its leader has exited;
 * see liveThread), or null when the process is gone.
 */
export function chargeOf(tid: number): { tgid: number; task: number; bytes: number; shmem: number } | null {
  let status: string;
  try {
    status = readProcText(`/proc/${tid}/status`);
  } catch {
    return null;
  }
  const tgid = Number(/^Tgid:\s+(\d+)/m.exec(status)?.[1] ?? tid);
  let task = tid;
  if (/^State:\s+[ZX]/m.test(status) && Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1) > 1) {
    const live = liveThread(tgid);
    if (live !== null) [task, status] = [live.task, live.status];
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
  const bytes = (kb("VmData") + kb("VmStk") + kb("RssShmem") + kb("VmPTE")) * 1024 + threads * THREAD_KERNEL_BYTES;
  return { tgid, task, bytes, shmem: kb("RssShmem") * 1024 };
}

/** Per sandbox (by launcher pid), as the last watchdog pass found them: bytes in
 * memory-backed files per accounting unit (/proc/meminfo's figures include them), and each
 * process's pages of those files it maps (in its RssShmem and in the files' charge, so
 * taken off once). */
const lastLooks = new Map<number, { files: ReadonlyMap<number, number>; mapped: ReadonlyMap<number, number>; maps: ReadonlyMap<number, number> }>();

/** Every process of the sandbox (zombies included): its charge and accounting unit (0,
 * or in a fork group the clone it belongs to; see memoryGuard), keyed by process id.
 * `maxAgeMs` lets callers share a recent /proc pass (see processTree). */
function sandboxCharges(launcherPid: number, forkParent: number | undefined, maxAgeMs = 0): Map<number, { bytes: number; shmem: number; unit: number; task: number }> {
  const tree = processTree(launcherPid, true, maxAgeMs);
  const out = new Map<number, { bytes: number; shmem: number; unit: number; task: number }>();
  for (const pid of tree.keys()) {
    const c = chargeOf(pid);
    if (c !== null) out.set(c.tgid, { bytes: c.bytes, shmem: c.shmem, task: c.task, unit: cloneUnit(c.tgid, forkParent, (p) => tree.get(p)) });
  }
  return out;
}

/** Bytes charged right now to the accounting unit of process `caller`; `maxAgeMs` as for
 * sandboxCharges. */
export function unitCharge(launcherPid: number, forkParent: number | undefined, caller: number, maxAgeMs = 0): number {
  const charges = sandboxCharges(launcherPid, forkParent, maxAgeMs);
  const unit = charges.get(caller)?.unit ?? cloneUnit(caller, forkParent, parentOf);
  const look = lastLooks.get(launcherPid);
  let sum = look?.files.get(unit) ?? 0;
  for (const [tgid, c] of charges) if (c.unit === unit) sum += c.bytes - Math.min(look?.mapped.get(tgid) ?? 0, c.shmem) + (look?.maps.get(tgid) ?? 0);
  return sum;
}

function pageUp(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

/** Where the process's heap starts (start_brk, /proc/<tid>/stat field 47): a new value
 * means a new program (execve), whose break starts there. null when unreadable. */
function heapStart(tid: number): number | null {
  try {
    const stat = readProcText(`/proc/${tid}/stat`);
    const v = Number(statFields(stat)[44]);
    return Number.isFinite(v) && v > 0 ? v : null;
  } catch {
    return null;
  }
}

/** The end of the [heap] mapping, which is the current program break, or null. */
function currentBreak(tid: number): number | null {
  try {
    const heap = /^([0-9a-f]+)-([0-9a-f]+) [^\n]*\[heap\]$/m.exec(readProcText(`/proc/${tid}/maps`));
    return heap ? parseInt(heap[2]!, 16) : null;
  } catch {
    return null;
  }
}

export interface MemoryGuard {
  handlers: HandlerTable;
  /** Descriptors a performed unix send of thread tid passed in flight (net.ts). */
  passed: PassedHook;
  /** Whether a unix send may not pass descriptor `dup` (the supervisor's duplicate) with
   * SCM_RIGHTS (net.ts netHandlers). */
  refuseRight(dup: number): boolean;
  close(): void;
}

/** The supervisor's own RLIMIT_FSIZE in bytes (null: unlimited). A fallocate the
 * supervisor performs past it would earn the supervisor SIGXFSZ. */
function ownFileSizeLimit(): number | null {
  try {
    const m = /^Max file size\s+(\S+)/m.exec(readProcText("/proc/self/limits"));
    return m === null || m[1] === "unlimited" ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** The NUL-terminated string at addr in the caller's memory, without its NUL: EFAULT
 * when unreadable, EINVAL when longer than max (as the kernel answers), read page by page
 * so a string ending before an unmapped page is found, and only used once the caller is
 * known to still wait in its call (so the memory was its own). */
function cString(n: Notification, ctx: SupervisorContext, addr: number, max: number): Buffer | number {
  const parts: Buffer[] = [];
  let total = 0;
  for (let at = addr; total <= max; ) {
    const chunk = Math.min(PAGE - (at % PAGE), max + 1 - total);
    const buf = ctx.memory.read(n, at, chunk);
    if (buf === null) return EFAULT;
    const nul = buf.indexOf(0);
    if (nul >= 0) {
      parts.push(buf.subarray(0, nul));
      return ctx.memory.stillValid(n) ? Buffer.concat(parts) : EINTR;
    }
    parts.push(buf);
    total += chunk;
    at += chunk;
  }
  return EINVAL;
}

/** The caller's duplicate of its descriptor fd, or -errno (see net-socket.ts: before
 * Linux 6.9 only a thread-group leader has a pidfd). */
function callerFd(n: Notification, fd: number): number {
  const nat = native();
  let dup = nat.threadGetfd(n.pid, fd);
  if (dup === -EINVAL) {
    const status = chargeOf(n.pid);
    if (status !== null && status.tgid !== n.pid) dup = nat.threadGetfd(status.tgid, fd);
  }
  return dup;
}

/**
 * The check is "charged now + what this request adds > cap". Charges come from the kernel
 * (fresh for the caller, at most one watchdog period old for the others), so unmaps and
 * exits are credited without being trapped, and no address ranges need tracking here.
 * `writable`: the writable grants, beneath which tmpfs files are memory too.
 */
export function memoryGuard(max: bigint, ctx: SupervisorContext, writable: readonly string[] = [], sysvShm = false): MemoryGuard {
  let cap = Number(max);
  const charged = new Map<number, number>(); // tgid -> bytes at the last look
  const units = new Map<number, number>(); // tgid -> accounting unit (0, or a clone's pid)
  /** tgid -> the break we let it set, and its program's heap start (execve changes it). */
  const lastBreak = new Map<number, { start: number | null; brk: number }>();
  const files = new MemoryFiles(writable, ctx.stageFd);
  const buffers = new KernelBuffers(ctx.chargeCpu, (fd) => files.chargedFileKey(fd));
  const segments = sysvShm ? new SysvSegments(ctx.launcherPid) : undefined;
  let inFiles = new Map<number, number>(); // unit -> bytes in memory-backed files
  const mappedPages = new Map<number, number>(); // tgid -> its pages of such files, last look
  const mapBytes = new Map<number, number>(); // tgid -> its mappings' kernel memory, last look (MAPPING_BYTES)
  const fsizeLimit = ownFileSizeLimit();
  /** While a look runs: the processes whose charge a request recorded meanwhile (fresher
   * than the look's, which then keeps them). */
  let touched: Set<number> | undefined;

  const unitOf = (tgid: number): number => {
    let u = units.get(tgid);
    if (u === undefined) units.set(tgid, (u = cloneUnit(tgid, ctx.forkParent(), parentOf)));
    return u;
  };

  const total = (unit: number): number => {
    let sum = inFiles.get(unit) ?? 0;
    for (const [tgid, b] of charged) if (unitOf(tgid) === unit) sum += b;
    return sum;
  };

  /** Records the kill for the RunResult: unit 0's for the sandbox itself (in a fork group,
   * its zygote); a clone's for the clone's own result, not the group's. */
  const exceeded = (unit: number, used: number): void => {
    const hit: LimitExceeded = { kind: "memory", field: "maxMemory", cap, used };
    if (unit === 0) ctx.limitExceeded(hit);
    else ctx.cloneLimitExceeded(unit, hit);
  };

  /** A process's charge read now, less its pages of memory-backed files as the last look
   * found them (they are charged as the files, in inFiles): every place that records a
   * fresh figure goes through here, or mapped memfd pages counted twice until the next
   * look (a 32 MiB mapping under a 64 MiB cap was killed at 78 MiB). */
  const record = (c: { tgid: number; bytes: number; shmem: number }): number => {
    const bytes = c.bytes - Math.min(mappedPages.get(c.tgid) ?? 0, c.shmem) + (mapBytes.get(c.tgid) ?? 0);
    charged.set(c.tgid, bytes);
    touched?.add(c.tgid);
    return bytes;
  };

  /** Every process's charge read again, as the last look counted it (its mapped pages of
   * memory-backed files taken off, as the look found them): one status read per process,
   * no walk of /proc. A process born since the last look is found by the next one, as
   * before. */
  const refreshKnown = (): void => {
    for (const tgid of [...charged.keys()]) {
      const c = chargeOf(tgid);
      if (c === null) charged.delete(tgid);
      else record(c);
    }
  };

  /**
   * One look at the whole sandbox: every process's figures, its memory-backed files and
   * mappings, its kernel buffers. A generator that yields between processes (and within a
   * long descriptor table): how long a look takes is the sandbox's to decide (descriptors
   * and mappings by the tens of thousands), so the watchdog runs it in slices
   * (slices.ts) between the event loop's other work (every sandbox of this process is
   * served by that loop). What it found replaces the last look's figures at its end only:
   * a handler between two slices sees the last look, never half of this one.
   */
  function* look(): Generator<Step, void> {
    touched = new Set();
    const found = new Map<number, number>(); // tgid -> accounting unit
    const procs = new Map<number, { unit: number; shmem: number; task: number; bytes: number }>();
    // One /proc pass per period serves every sandbox of this process.
    for (const [tgid, c] of sandboxCharges(ctx.launcherPid, ctx.forkParent(), WATCH_MS / 2)) {
      found.set(tgid, c.unit);
      procs.set(tgid, c);
    }
    yield;
    // Always: shared anonymous memory is held by mappings whose pages need not be in any
    // process's RssShmem (MADV_DONTNEED, a fork, a mapping cut down to one page).
    const sysv = segments?.look().map((g) => ({ unit: g.unit, key: sysvKey(g.id), bytes: g.bytes })) ?? [];
    // Memory-backed files passed in flight, charged once with the same files wherever else
    // the unit holds them (which of them may still be queued: the last look's dump).
    const seen = yield* files.measure(procs, [...sysv, ...buffers.sentFiles()]);
    // Socket queues and pipes: memory like a file's, held apart from any process's figures.
    // The socket dumps, shared by every sandbox of this process, are taken once a period.
    const held = yield* buffers.measure(procs, WATCH_MS);
    for (const [unit, bytes] of held) seen.files.set(unit, (seen.files.get(unit) ?? 0) + bytes);
    // Pages of memory-backed files a process maps are in its RssShmem and in the file's
    // blocks: charged once, as the file. A settled process (FileCharges.settled: every
    // shared page it maps is in a file this look charged, or its address space was gone)
    // pays none of its RssShmem: the status read before its maps may count pages that left
    // its mappings in between, which the files hold (a munmap takes the mapping out of the
    // maps before its pages out of the count, measured 20-32 MiB of a 32 MiB mapping; an
    // exiting process's maps read empty: the CI failure of stop 28, 32 MiB mapped under a
    // 64 MiB cap reported at 78 MiB). Any other process is taken off the pages its maps
    // showed. What is taken off is what a request's fresh figure takes off until the next
    // look (record).
    // A charge a request recorded while this look ran is fresher than the look's (and a
    // thread allowed meanwhile is in it, not in the status the look read first): kept.
    const fresher = new Map<number, number>();
    for (const tgid of touched) {
      const b = charged.get(tgid);
      if (b !== undefined) fresher.set(tgid, b);
    }
    touched = undefined;
    charged.clear();
    units.clear();
    mappedPages.clear();
    mapBytes.clear();
    for (const [tgid, unit] of found) units.set(tgid, unit);
    for (const [tgid, p] of procs) {
      const mapped = seen.mappedFilePages.get(tgid) ?? 0;
      const pages = seen.settled.has(tgid) ? Math.max(mapped, p.shmem) : mapped;
      mappedPages.set(tgid, pages);
      const maps = seen.mappingBytes.get(tgid) ?? 0;
      mapBytes.set(tgid, maps);
      charged.set(tgid, p.bytes - Math.min(pages, p.shmem) + maps);
    }
    for (const [tgid, b] of fresher) charged.set(tgid, b);
    inFiles = seen.files;
    lastLooks.set(ctx.launcherPid, { files: inFiles, mapped: mappedPages, maps: mapBytes });
    // Breaks of processes gone since (a pid reused by a new process of the sandbox starts
    // from the kernel's figure, as at an execve).
    for (const tgid of lastBreak.keys()) if (!found.has(tgid)) lastBreak.delete(tgid);
  }

  /**
   * The fast path's credit (native/memcredit.c): growth calls that fit in it are continued
   * in C and never come here; every one that comes here was forwarded and is settled
   * exactly once (settled() below), with the room its decision leaves as the next credit.
   * No credit in a fork group: one listener serves the zygote and its clones, which are
   * charged apart, and a credit cannot tell them apart.
   */
  const credit = ctx.memoryCredit;
  // policyFn's ctx.restrictMaxMemory: the cap only goes down. The fast path's credit was
  // granted under the old cap: revoked, so the next growth call is decided here; memory
  // already above the new cap is caught by the next look (the watchdog), as growth made
  // without asking is.
  ctx.limits.lowerMemory = (bytes) => {
    if (bytes >= cap) return;
    cap = bytes;
    credit.revoke();
  };
  const roomAfter = (unit: number, used: number): number => (unit === 0 && ctx.forkParent() === undefined ? Math.max(0, cap - used) : 0);

  /** A growth call's answer, and the room to grant. */
  interface Decision {
    action: Action;
    room: number;
  }

  const decide = (n: Notification, growth: number, me = chargeOf(n.pid)): Decision => {
    if (me === null) return { action: CONTINUE, room: 0 }; // the caller is gone; nothing to charge
    // The fast path continued growth since its last grant, in any process of the sandbox:
    // the others' charges from their last look miss it, so each is read again first.
    if (credit.spent() > 0) refreshKnown();
    record(me);
    const unit = unitOf(me.tgid);
    const used = total(unit) + Math.max(growth, 0);
    if (growth <= 0 || used <= cap) return { action: CONTINUE, room: roomAfter(unit, used) };
    exceeded(unit, used);
    return { action: { kind: "kill", errno: ENOMEM }, room: 0 };
  };

  /** A handler for a growth call the fast path forwarded: settles it whatever happens (a
   * throw settles with no room, and the supervisor answers EPERM). */
  const settled = (h: (n: Notification) => Decision): ((n: Notification) => Action) => (n) => {
    let d: Decision = { action: CONTINUE, room: 0 };
    try {
      d = h(n);
      return d.action;
    } finally {
      credit.settle(d.room);
    }
  };

  /** After a look: what it found is judged, and units past the cap are killed. */
  const judge = (): void => {
    // The credit was computed from an older look: memory that grew without a request
    // (memory-backed files, kernel buffers) is in this one. The next growth call goes to
    // the handlers, which grant afresh.
    credit.revoke();
    const sums = new Map<number, number>();
    for (const [tgid, b] of charged) sums.set(unitOf(tgid), (sums.get(unitOf(tgid)) ?? 0) + b);
    for (const [unit, bytes] of inFiles) sums.set(unit, (sums.get(unit) ?? 0) + bytes);
    // A unit whose memory cannot be measured goes, the limit naming why.
    const end = (unit: number, reason: string): void => {
      if (![...charged.keys()].some((tgid) => unitOf(tgid) === unit)) return; // gone
      const hit: LimitExceeded = { kind: "memory", field: "maxMemory", cap, used: sums.get(unit) ?? 0, reason };
      if (unit === 0) ctx.limitExceeded(hit);
      else ctx.cloneLimitExceeded(unit, hit);
      for (const tgid of charged.keys()) if (unitOf(tgid) === unit) ctx.killProcess(tgid);
      sums.delete(unit);
    };
    // Descriptors kept queued to the unit's sockets (kernel-buffers.ts IN_FLIGHT_MS).
    for (const unit of buffers.queuedTooLong()) {
      end(unit, `descriptors were kept queued to a unix socket of the sandbox (sent and not received, or on connections not accepted) for ${IN_FLIGHT_MS / 1000} s: what they hold cannot be measured`);
    }
    // A process whose descriptors the supervisor may not read (it executed a file it may
    // not read: not dumpable): what its sockets and pipes hold cannot be measured either.
    for (const unit of buffers.unreadableUnits) {
      end(unit, "a process of the sandbox executed a file it may not read, so the supervisor may not read its descriptors: what they hold cannot be measured");
    }
    for (const [unit, sum] of sums) {
      if (sum <= cap) continue;
      exceeded(unit, sum);
      if ((inFiles.get(unit) ?? 0) > 0) {
        // Memory in files outlives the process that wrote it (another one may hold the
        // memfd, a tmpfs file stays): the whole unit goes.
        for (const tgid of charged.keys()) if (unitOf(tgid) === unit) ctx.killProcess(tgid);
        continue;
      }
      // Grown past the cap without asking (mprotect of a reservation, file-backed private
      // writes...): the unit's largest process goes.
      let worst = 0;
      let worstBytes = -1;
      for (const [tgid, b] of charged) {
        if (unitOf(tgid) === unit && b > worstBytes) [worst, worstBytes] = [tgid, b];
      }
      if (worst > 0) ctx.killProcess(worst);
    }
  };

  // The watchdog: a look every WATCH_MS, run in slices (see look), its time charged to the
  // sandbox (maxCpu), and the next one started no sooner than the last one's own time
  // after it ended, so a sandbox that makes its looks slow gets them less often and never
  // holds more than about half of this process's event loop.
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const watch = (): void => {
    const next = (_: void, busy: number): void => {
      judge();
      timer = setTimeout(watch, Math.max(WATCH_MS, busy));
      timer.unref();
    };
    runInSlices(look(), next, { spent: ctx.chargeCpu, cancelled: () => closed });
  };
  // The first look at once: what only a look finds (the pipes and sockets the sandbox
  // starts with, 64 KiB a pipe) is then known to the decisions of its first calls. Taken
  // WATCH_MS in, it came after a sandbox making threads from its start had been allowed
  // up to the cap without them, and was killed where it should have had EAGAIN (CI's
  // kernel-memory threads case, once the look's walk went off the event loop).
  timer = setTimeout(watch, 0);
  timer.unref();

  /**
   * fallocate allocates a memory-backed file's pages at once: past the cap it is refused
   * with ENOSPC (what a full tmpfs answers), so the memory is never taken. The decision
   * rests on what the descriptor refers to, so the call is never continued: the
   * supervisor performs it on its own duplicate (the file it inspected) and returns the
   * result. The growth counted is the whole length (ranges already allocated included).
   */
  const fallocate = (n: Notification): Action => {
    const dup = callerFd(n, n.argI32(0));
    if (dup < 0) return deny(-dup);
    try {
      // The caller still waits in this call, so the thread id was not reused: the
      // duplicate is of its descriptor, not of another process's.
      if (!ctx.memory.stillValid(n)) return deny(EINTR);
      const mode = n.argU32(1);
      const offset = BigInt.asIntN(64, n.arg(2));
      const len = BigInt.asIntN(64, n.arg(3));
      if (offset >= 0n && len > 0n && (mode & FALLOC_FL_PUNCH_HOLE) === 0 && files.kindOfFd(dup) !== null) {
        const me = chargeOf(n.pid);
        if (me !== null) {
          record(me);
          if (total(unitOf(me.tgid)) + Number(len) > cap) return deny(ENOSPC);
        }
      }
      if (fsizeLimit !== null && offset + len > BigInt(fsizeLimit)) return deny(EFBIG);
      const rc = native().fallocate(dup, mode, offset, len);
      // The file's new blocks are charged at the next look, not in the credit: revoked.
      if (rc >= 0) credit.revoke();
      return rc < 0 ? deny(-rc) : returnValue(0);
    } finally {
      closeSync(dup);
    }
  };

  const handlers: HandlerTable = {
    // The fast path answers the calls decided on registers alone (the same rules as
    // here) and those within its credit; these handlers see the rest.
    mmap: settled((n) => {
      const prot = n.argU32(2);
      const flags = n.argU32(3);
      // Read-only and PROT_NONE mappings cost no private memory; shared file mappings
      // are the file's pages (a memory-backed file is charged as a file).
      if ((prot & PROT_WRITE) === 0) return { action: CONTINUE, room: 0 };
      if ((flags & MAP_SHARED) !== 0 && (flags & MAP_ANONYMOUS) === 0) return { action: CONTINUE, room: 0 };
      return decide(n, pageUp(n.argAddr(1)));
    }),
    mremap: settled((n) => decide(n, pageUp(n.argAddr(2)) - pageUp(n.argAddr(1)))),
    brk: settled((n) => {
      const want = n.argAddr(0);
      if (want === 0) return { action: CONTINUE, room: 0 }; // a query
      const me = chargeOf(n.pid);
      if (me === null) return { action: CONTINUE, room: 0 };
      // The calling thread's maps are its process's (the leader's are empty once it
      // exits). Only brk(0) is answered in C: the break moves only through calls decided
      // here.
      // The break we let this program set; after an execve (another heap start) or at its
      // first move, the kernel's: the heap's end, or its start when it has none yet.
      const start = heapStart(n.pid);
      const last = lastBreak.get(me.tgid);
      const before = last !== undefined && last.start === start ? last.brk : currentBreak(n.pid) ?? start ?? want;
      const d = decide(n, pageUp(want) - pageUp(before), me);
      if (d.action.kind === "continue") lastBreak.set(me.tgid, { start, brk: want });
      return d;
    }),
    memfd_create: (n) => {
      // Made by the supervisor, which keeps a read-only probe of every memfd the sandbox
      // creates (memory-files.ts): the name is copied out of the caller's memory and used
      // from that copy, so the call is never continued.
      const name = cString(n, ctx, n.argAddr(0), MEMFD_NAME_MAX);
      if (typeof name === "number") return deny(name);
      // Each memfd the sandbox holds costs the supervisor a descriptor (its probe) until the
      // watchdog's pass sees it let go: past MAX_HELD_MEMFDS the call fails as when a
      // process is out of descriptors. (Empty memfds charge no memory: 2 processes making
      // 10,500 each took all 20,000 of this process's descriptors, and every other sandbox
      // of it then failed to start.)
      if (files.heldCount >= MAX_HELD_MEMFDS) {
        ctx.observe({ kind: "refused", syscall: "memfd_create", errno: EMFILE, target: name.toString("latin1"), why: `the sandbox holds ${MAX_HELD_MEMFDS} memfds already (the supervisor keeps a descriptor of each while it is held)` });
        return deny(EMFILE);
      }
      const flags = n.argU32(1);
      const made = native().memfdCreate(name, flags);
      if (typeof made === "number") return deny(-made);
      const [file, probe] = made;
      const me = chargeOf(n.pid);
      files.adopt(probe, me === null ? 0 : unitOf(me.tgid));
      return { kind: "inject", fd: file, cloexec: (flags & MFD_CLOEXEC) !== 0, close: true };
    },
    // A thread's kernel stack and task are charged (chargeOf): one that would take the unit
    // past the cap is refused with EAGAIN, what pthread_create answers when the kernel has
    // no room for a thread, and nothing is killed (the memory was never taken). The
    // decision rests on the flags register and the kernel's figures, so CONTINUE (here:
    // undefined, for the thread cap to count it) is race-free. A process clone is charged
    // by what its process maps.
    //
    // A process's main thread is answered from the last look (the watchdog's, or a
    // request's) plus the threads allowed since, without reading /proc: what grows
    // between looks without a request is the watchdog's anyway, and a /proc read per
    // thread tripled the cost of pthread_create. Other threads read their process's
    // figures first (a thread id says nothing of its process).
    clone: (n) => {
      if ((n.argU32(0) & CLONE_THREAD) === 0) return undefined;
      let tgid = n.pid;
      let bytes = charged.get(tgid);
      if (bytes === undefined) {
        const me = chargeOf(n.pid);
        if (me === null) return undefined;
        [tgid, bytes] = [me.tgid, record(me)];
      }
      if (total(unitOf(tgid)) + THREAD_KERNEL_BYTES > cap) return deny(EAGAIN);
      charged.set(tgid, bytes + THREAD_KERNEL_BYTES);
      touched?.add(tgid);
      // The thread's kernel memory is not in the fast path's credit: revoked, the next
      // growth call is decided here with it counted.
      credit.revoke();
      return undefined;
    },
    // With sysv_ipc lifted: the caller may be making a segment (sysv-segments.ts). Only
    // noted, nothing decided, so the call continues (the next concern, or the default).
    shmget: (n) => {
      const me = chargeOf(n.pid);
      if (me !== null) segments?.calling(me.tgid, unitOf(me.tgid));
      return undefined;
    },
    // Secret memory is held out of the kernel's direct map and its pages are counted
    // nowhere a supervisor can read: under a memory cap it is not offered (ENOSYS is what
    // a kernel without it answers). The answer rests on the syscall number alone.
    memfd_secret: () => deny(ENOSYS),
    fallocate,
  };
  return {
    handlers,
    passed: (tid, sender, destVfs, fds) => {
      const me = chargeOf(tid);
      return buffers.passed(me === null ? 0 : unitOf(me.tgid), sender, destVfs, fds);
    },
    refuseRight: (dup) => {
      if (isPathHandleOnMemory(dup)) return true;
      if (buffers.roomToPass(dup)) return false;
      ctx.observe({ kind: "refused", syscall: "sendmsg", errno: 1, target: "SCM_RIGHTS", why: "the sandbox has as many memory-backed files in flight as the supervisor keeps records of" });
      return true;
    },
    close: () => {
      closed = true;
      clearTimeout(timer);
      // (the sandbox's SysV segments are removed by handlers/sysv.ts)
      lastLooks.delete(ctx.launcherPid);
      files.close();
      buffers.close();
    },
  };
}
