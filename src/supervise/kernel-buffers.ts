// Memory a sandbox holds in kernel buffers (maxMemory, SPEC 10): the bytes its sockets
// have queued (unix and IP, read with NETLINK_SOCK_DIAG, which needs no privilege), its
// pipes and its epoll watches, found through its descriptor tables and the descriptors it
// passed in flight (never an epoll file: handlers/epoll.ts refuses every send of one).

import { closeSync, fstatSync, openSync } from "node:fs";
import { native } from "../confine/native.js";
import { PIPE_CHARGE_BYTES } from "../plan/seccomp-kmem.js";
import { defaultSendBuffer, sysctlInt } from "./handlers/socket-buffers.js";
import { fdObjectPartsOffLoop, offLoop } from "./fd-objects.js";
import type { Step } from "./slices.js";
import { InodeIndex } from "./inode-index.js";
import { dumps, inetDump, peerIn, SOCK_DGRAM, SOCK_STREAM, TCP_LISTEN, unixDump, type Held, type InetTable, type UnixSock, type UnixTable } from "./socket-dumps.js";

const EPERM = 1;
const EACCES = 13;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFIFO = 0o010000;
/**
 * One epoll watch (struct epitem and its wait-queue entry): measured 223 bytes of
 * MemAvailable each, 500,000 watches taking 106 MiB with 1,500 descriptors (every
 * descriptor in every epoll instance), under a per-user limit of 5.5 million here
 * (fs.epoll.max_user_watches, about 4% of memory).
 */
export const EPOLL_WATCH_BYTES = 224;

/** Sockets charged per step of a look (the look runs in slices). */
const SOCKETS_PER_STEP = 1024;

/**
 * Drops the repeats from `list` (inodes), in place and in steps of SOCKETS_PER_STEP; the
 * set of them. Socket and pipe inodes are the kernel's get_next_ino(), non-zero 32-bit
 * numbers; any other is kept as it is, charged however often it came (an index refuses
 * it, and a throw here would end the watchdog's looks).
 */
function* unique(list: number[]): Generator<void, InodeIndex> {
  const set = new InodeIndex(false);
  let kept = 0;
  for (let i = 0; i < list.length; i++) {
    if (i % SOCKETS_PER_STEP === SOCKETS_PER_STEP - 1) yield;
    const ino = list[i]!;
    if (ino === 0 || ino >>> 0 !== ino || set.add(ino)) list[kept++] = ino;
  }
  list.length = kept;
  return set;
}

const O_PATH_CLOEXEC = 0o10000000 | 0o2000000;

/** Whether unix socket `u` may have descriptors queued to it: a stream message that
 * carries some carries at least one byte (so an empty stream queue has none); a datagram or
 * seqpacket message may carry them with no byte; a listener's connections not yet accepted
 * may. */
function mayBeQueued(u: UnixSock): boolean {
  if (u.state === TCP_LISTEN) return u.pending.length > 0;
  return u.type !== SOCK_STREAM || u.rq > 0;
}

/**
 * A lock record (struct file_lock, /proc/slabinfo's file_lock_cache: 192-byte objects),
 * unreclaimable kernel memory held while the file it was taken through is open. A record
 * needs no write access, and an open file can hold one on every other byte of a file: the
 * twelfth review held a million (192 MiB) under maxMemory 64M. Each is listed in the
 * fdinfo of the descriptors it was taken through.
 */
export const LOCK_RECORD_BYTES = 192;
/** How often the sandbox's lock records are counted (every descriptor's fdinfo read whole
 * on Node's pool, about 7 us each, more for a long one): the count stands in between. A
 * record takes the kernel longer to make the more a file holds (100,000 on one file took
 * 230 s here), so a second of records is tens of thousands at most, a few MiB. */
export const LOCK_SCAN_MS = 1000;
/** Microseconds one part of a process's lock count may take (it ends at the first
 * descriptor past it). */
const LOCK_PART_US = 4000;

/** Descriptors whose fdinfo one work on Node's pool reads (a sandbox decides how long each
 * is: a line per lock taken through the file comes before the count). */
const QUEUED_PER_WORK = 64;
const Q_COUNT = 0;
const Q_OTHER = 1;

/** A descriptor the sandbox passed with SCM_RIGHTS, in a socket's queue or received. */
interface InFlight {
  kind: "socket" | "pipe";
  ino: number;
  /** dumps.seq when it was passed: a dump with a greater one was taken after. */
  seq: number;
  unit: number;
  /** The socket it was sent on, and the one it was sent to (0: unknown). */
  sender: number;
  dest: number;
  destVfs: number;
}

/** Where a message that carried a file went: from socket `sender` (inode) to `dest` (its
 * peer's inode, 0: unknown) or to the named socket file `destVfs`. */
interface Route {
  sender: number;
  dest: number;
  destVfs: number;
}

/**
 * A memory-backed file (a memfd, a tmpfs file) the sandbox passed with SCM_RIGHTS. In a
 * queue it is in no descriptor table and no mapping, so no look at the sandbox's processes
 * sees it, and the probe of the sandbox that made it (memory-files.ts) goes when that
 * sandbox ends: the fourteenth review's B put memfds three ended sandboxes had made into a
 * socketpair of its own and held 144 MiB under 64M. It is charged to the unit that sent
 * it, by its allocated blocks, while any message that carried it may still be queued.
 */
interface SentFile {
  /** An O_PATH file of it, the supervisor's, to read its size. It holds the file as the
   * queued message it stands for does, and is closed once no such message may be left. */
  handle: number;
  unit: number;
  /** Each way a message carried it, by "sender:dest:destVfs": one per destination (the
   * fifteenth review's decoy: with one route per sending socket, a second send of the file
   * to a socket then emptied and closed replaced the route to the stash, and the record
   * went while the stash still held the file). */
  routes: Map<string, Route>;
}

/** Files and routes of them kept at most (each file costs the supervisor a descriptor):
 * past either, a send passing another memory-backed file gets EPERM (memory.ts). */
export const SENT_FILES_MAX = 1024;

/**
 * How long a sandbox's unix sockets may keep descriptors queued for it (the kernel's
 * count of files in flight, `scm_fds` in their fdinfo, a listener's counting its
 * connections not yet accepted) at every look before it is ended under maxMemory. What a
 * queued file holds cannot be read without taking it (a peek returns the first message's
 * only, and none of a connection not yet accepted), and a file another sandbox sent stops
 * being charged to it when it ends (the fourteenth review's backlog case). A program takes
 * what is sent to it: two seconds of looks (every 100 ms) all finding some queued is what
 * only keeping them out of sight does.
 */
export const IN_FLIGHT_MS = 2000;

/**
 * What is charged, per socket the sandbox holds (S: in its descriptor tables, or passed
 * in flight and not yet seen received), from the kernel's own figures:
 *
 * - its wmem: what it sent that is still queued, wherever (a unix socket's data sits in
 *   the receiver's queue but counts against the sender), with the kernel's overhead;
 * - a connected socket (stream, seqpacket, datagram pair) whose peer is alive: the peer's
 *   wmem when the peer is not the sandbox's (data queued to it that it does not read);
 * - a connected socket whose peer is gone: up to RESIDUE, what a sender may have queued
 *   before it closed (its send buffer, which SO_SNDBUF may not raise past the default
 *   under maxMemory, plus one message). The kernel shows a datagram queue's first message
 *   only (and zero-length datagrams not at all), so a datagram socket without a live peer
 *   is charged RESIDUE whatever its queue shows; a stream socket when its queue is not
 *   empty;
 * - a named datagram socket with messages queued: also (max_dgram_qlen + 1) messages of a
 *   send buffer each, what senders not connected to it may have left;
 * - a listener: per connection not yet accepted, its client's wmem, or RESIDUE when the
 *   client is gone;
 * - an IP socket: its receive queue and its send queue; a listener, the queues of its
 *   connections not yet accepted;
 * - a pipe: PIPE_CHARGE_BYTES, its whole size (F_SETPIPE_SZ may not raise it: seccomp-kmem.ts);
 * - an epoll file: EPOLL_WATCH_BYTES per watch (one per descriptor it watches).
 *
 * Charges err on the side of the cap: a socket whose peer went away is charged a
 * send buffer until it is closed, even once read.
 */
export class KernelBuffers {
  /**
   * One record per socket or pipe passed (by inode). A record goes when its message can no longer be queued (mayHold) and, for a socket, once a dump taken
   * after it was passed no longer shows it (closed everywhere: nothing left to charge).
   * A pipe cannot be seen gone: its record stays while its sender has anything queued,
   * charged PIPE_CHARGE_BYTES, so the cap bounds how many there are.
   */
  private readonly inFlight = new Map<string, InFlight>();
  /** Memory-backed files passed, by key ("major:minor:inode"). */
  private readonly sent = new Map<string, SentFile>();
  private routeCount = 0;
  /** Per unit, since when the looks have found descriptors queued to its sockets (a look
   * that found none, or could not tell, is let pass once: see readQueued). */
  private readonly queuedSince = new Map<number, number>();
  /** Units whose last look found none queued (a second such look in a row ends the run of
   * sightings). */
  private readonly missedOnce = new Set<number>();
  /** Sockets (inodes) whose number named another file, or none, by the time the last look
   * read it. */
  private unverified = new Set<number>();
  /** Lock records per unit at the last count, when it was begun, and the count under way. */
  private locks = new Map<number, number>();
  private locksAt = -Infinity;
  private counting: Promise<void> | undefined;
  private readonly residue: number;
  private readonly unconnected: number;

  /** `spent`: told the milliseconds of CPU each count of lock records took (on a thread of
   * Node's pool), to charge the sandbox (maxCpu). `fileKey`: the key
   * of a file charged as a memory-backed file, null for any other (memory-files.ts
   * chargedFileKey); without it, files passed are not recorded. */
  constructor(private readonly spent?: (ms: number) => void, private readonly fileKey?: (fd: number) => string | null) {
    const sendBuffer = defaultSendBuffer();
    this.residue = 2 * sendBuffer;
    this.unconnected = (sysctlInt("/proc/sys/net/unix/max_dgram_qlen", 10) + 1) * sendBuffer;
  }

  /**
   * A send the supervisor performed for `unit` on socket `sender` passed the supervisor's
   * duplicates `fds` (SCM_RIGHTS), to a named socket file `destVfs` (0: the sender's
   * peer). A socket or pipe in a queue is in no descriptor table: it stays charged while
   * the message that carries it may still be queued (mayHold). (An epoll file is never
   * passed: handlers/epoll.ts refuses the send.)
   */
  passed(unit: number, sender: number, destVfs: number, fds: readonly number[]): void {
    let dest = 0;
    if (destVfs === 0) {
      const one = native().unixSockets(sender);
      if (typeof one !== "number") dest = peerIn(one, sender);
    }
    for (const fd of fds) {
      let st;
      try {
        st = fstatSync(fd);
      } catch {
        continue;
      }
      const type = st.mode & S_IFMT;
      const kind = type === S_IFSOCK ? "socket" : type === S_IFIFO ? "pipe" : undefined;
      if (kind === undefined) this.sentFile(unit, sender, dest, destVfs, fd);
      else this.inFlight.set(`${kind}:${st.ino}`, { kind, ino: st.ino, seq: dumps.seq, unit, sender, dest, destVfs });
    }
  }

  /**
   * Whether a send may pass `fd` (the supervisor's duplicate): false when it is a
   * memory-backed file and SENT_FILES_MAX files or routes are kept already.
   */
  roomToPass(fd: number): boolean {
    if (this.sent.size < SENT_FILES_MAX && this.routeCount < SENT_FILES_MAX) return true;
    return this.fileKey?.(fd) == null;
  }

  /** A memory-backed file passed (see SentFile); any other file is not recorded. */
  private sentFile(unit: number, sender: number, dest: number, destVfs: number, fd: number): void {
    const key = this.fileKey?.(fd);
    if (key == null) return;
    // Recorded whatever the count: the file is in a queue now. roomToPass keeps the count
    // near SENT_FILES_MAX; past it by at most what sends passed it before any was recorded
    // (one message's SCM_MAX_FD, the duplicates the sandbox's blocked sends may hold).
    let f = this.sent.get(key);
    if (f === undefined) {
      let handle: number;
      try {
        handle = openSync(`/proc/self/fd/${fd}`, O_PATH_CLOEXEC);
      } catch {
        return; // cannot be: the duplicate is open
      }
      this.sent.set(key, (f = { handle, unit, routes: new Map() }));
    }
    const way = `${sender}:${dest}:${destVfs}`;
    if (!f.routes.has(way)) this.routeCount++;
    f.unit = unit;
    f.routes.set(way, { sender, dest, destVfs });
  }

  /**
   * The memory-backed files passed that may still be queued, each with its unit and its
   * size now: charged with the sandbox's other files (memory-files.ts, once per key and
   * unit). Which of them may still be queued is decided by the last measure.
   */
  sentFiles(): { unit: number; key: string; bytes: number }[] {
    const out: { unit: number; key: string; bytes: number }[] = [];
    for (const [key, f] of this.sent) {
      try {
        out.push({ unit: f.unit, key, bytes: Number(fstatSync(f.handle, { bigint: true }).blocks) * 512 });
      } catch {
        // the handle is ours: cannot fail
      }
    }
    return out;
  }

  /** Closes what the records hold (the supervisor ends). */
  close(): void {
    for (const f of this.sent.values()) closeSync(f.handle);
    this.sent.clear();
    this.routeCount = 0;
  }

  /** Units with a process whose descriptor table the supervisor may not read, as of the
   * last measure: one that executed a file it may not read is not dumpable, and its
   * /proc/<pid>/fd is the host root's to a supervisor without CAP_SYS_PTRACE (what its
   * sockets and pipes hold cannot be measured). */
  unreadableUnits: ReadonlySet<number> = new Set();

  /** Units whose sockets have had descriptors queued to them at every look for IN_FLIGHT_MS
   * (see there), as of the last measure. */
  queuedTooLong(now = Date.now()): number[] {
    const out: number[] = [];
    for (const [unit, since] of this.queuedSince) if (now - since >= IN_FLIGHT_MS) out.push(unit);
    return out;
  }

  /** The count of lock records under way, if any (for tests). */
  get lockCount(): Promise<void> | undefined {
    return this.counting;
  }

  /** How many records of descriptors in flight are kept (for tests and diagnostics). */
  get records(): number {
    return this.inFlight.size;
  }

  /** Bytes per accounting unit, for the processes given (id -> unit and the thread whose
   * /proc entry shows its descriptors). `maxAgeMs`: how old a shared socket dump may be.
   * A generator that yields after each part of a process's descriptor table (the sandbox
   * decides how long one is: fd-objects.ts): the watchdog runs it in slices between other work (memory.ts). */
  *measure(procs: ReadonlyMap<number, { unit: number; task: number }>, maxAgeMs: number): Generator<Step, Map<number, number>> {
    // Per unit, the inodes of its sockets and pipes as found (a descriptor shared by two
    // processes, or also in flight, found twice), made unique in steps once all are found:
    // a Set of 100,000 built as the tables were read rehashed within one step (8-12 ms).
    const socks = new Map<number, number[]>();
    const pipes = new Map<number, number[]>();
    const add = (into: Map<number, number[]>, unit: number, ino: number): void => {
      const list = into.get(unit);
      if (list === undefined) into.set(unit, [ino]);
      else list.push(ino);
    };
    const out = new Map<number, number>();
    const charge = (unit: number, bytes: number): void => void out.set(unit, (out.get(unit) ?? 0) + bytes);
    // Where each socket was found (the first time): its process's thread and descriptor,
    // for its fdinfo (descriptors queued to it).
    const where = new Map<number, { unit: number; task: number; fd: number }>();
    const unreadable = new Set<number>();
    for (const { unit, task } of procs.values()) {
      // Off the event loop: the epoll files' watches are the sandbox's to make long.
      yield* fdObjectPartsOffLoop(this, task, ["epoll", "socket", "pipe"], (kind, value, fd) => {
        // An epoll file shared by two descriptors or processes is charged for each.
        if (kind === "epoll") charge(unit, value * EPOLL_WATCH_BYTES);
        else if (kind === "socket") {
          add(socks, unit, value);
          if (!where.has(value)) where.set(value, { unit, task, fd });
        } else if (kind === "pipe") add(pipes, unit, value);
      }, (errno) => void (errno === EACCES || errno === EPERM ? unreadable.add(unit) : undefined));
      yield;
    }
    this.unreadableUnits = unreadable;
    // Lock records: counted every LOCK_SCAN_MS apart from the look (which a slow count
    // would hold: the sixteenth review's 6.4 s of fdinfo texts left pipes uncharged), the
    // last count charged at every look.
    if (this.counting === undefined && Date.now() - this.locksAt >= LOCK_SCAN_MS) {
      this.locksAt = Date.now();
      this.counting = this.countLocks(new Map(procs)).then((m) => {
        this.locks = m;
        this.counting = undefined;
      });
    }
    for (const [unit, records] of this.locks) charge(unit, records * LOCK_RECORD_BYTES);
    const queued = new Set<number>(); // units with descriptors queued to a socket of theirs
    const settle = (): void => {
      const now = Date.now();
      for (const unit of this.queuedSince.keys()) {
        if (queued.has(unit)) {
          this.missedOnce.delete(unit);
        } else if (this.missedOnce.has(unit)) {
          this.queuedSince.delete(unit);
          this.missedOnce.delete(unit);
        } else {
          this.missedOnce.add(unit);
        }
      }
      for (const unit of queued) if (!this.queuedSince.has(unit)) this.queuedSince.set(unit, now);
    };
    if (socks.size === 0 && pipes.size === 0 && this.inFlight.size === 0 && this.sent.size === 0) {
      this.unverified.clear(); // no socket read at this look: none was missed at it either
      settle();
      return out;
    }
    const unixDumped = socks.size > 0 || this.inFlight.size > 0 || this.sent.size > 0 ? yield* unixDump.get(maxAgeMs) : undefined;
    let inet: Held<InetTable> | undefined;
    // The tables' and sets' memory is reused once released: nothing may read them after.
    let mine: InodeIndex | undefined;
    try {
      const unix = unixDumped === undefined || unixDumped.value.failed ? null : unixDumped.value;
      for (const [key, f] of this.inFlight) {
        // Kept even while a table of the sandbox shows it too (the sets count it once): the
        // sandbox may close that descriptor and leave only the one in flight.
        if (!this.mayHold(unix, f)) {
          this.inFlight.delete(key);
          continue;
        }
        // A socket in neither dump (unix, inet) though both were taken after it was passed:
        // closed everywhere, or of a kind no dump shows, which is charged nothing.
        if (f.kind === "socket" && unix !== null && unixDumped!.seq > f.seq && !unix.has(f.ino)) {
          inet ??= yield* inetDump.get(maxAgeMs);
          if (inet.seq > f.seq && !inet.value.socks.has(f.ino)) {
            this.inFlight.delete(key);
            continue;
          }
        }
        add(f.kind === "socket" ? socks : pipes, f.unit, f.ino);
      }
      for (const [key, f] of this.sent) {
        for (const [way, r] of f.routes) {
          if (this.mayHold(unix, r)) continue;
          f.routes.delete(way);
          this.routeCount--;
        }
        if (f.routes.size > 0) continue;
        closeSync(f.handle);
        this.sent.delete(key);
      }
      for (const [unit, list] of pipes) {
        (yield* unique(list)).release();
        charge(unit, list.length * PIPE_CHARGE_BYTES);
      }
      let looked = 0;
      // Per thread whose table showed them, the unix sockets that may have descriptors
      // queued to them, with the inode each was.
      const toRead = new Map<number, { unit: number; fds: number[]; inos: number[] }>();
      for (const [unit, list] of socks) {
        mine = yield* unique(list);
        let bytes = 0;
        for (const ino of list) {
          // A sandbox decides how many sockets it holds (128,000 took 70 ms here in one go).
          if (++looked % SOCKETS_PER_STEP === 0) yield;
          if (unix === null) {
            // No unix_diag on this host: every socket is charged what a peer that went away
            // may have left (docs/security.md).
            bytes += this.residue;
            continue;
          }
          const u = unix.get(ino);
          if (u !== undefined) {
            bytes += this.unixCharge(unix, u, mine);
            const at = where.get(ino);
            if (at !== undefined && mayBeQueued(u)) {
              let list = toRead.get(at.task);
              if (list === undefined) toRead.set(at.task, (list = { unit: at.unit, fds: [], inos: [] }));
              list.fds.push(at.fd);
              list.inos.push(ino);
            }
            continue;
          }
          inet ??= yield* inetDump.get(maxAgeMs);
          const s = inet.value.socks.get(ino);
          if (s === undefined) continue; // gone, or a kind no dump shows (docs/security.md)
          bytes += s.bytes;
          if (s.state === TCP_LISTEN) bytes += inet.value.unowned.get(`${s.family}/${s.protocol}/${s.port}`) ?? 0;
        }
        charge(unit, bytes);
        mine.release();
      }
      mine = undefined;
      yield* this.readQueued(toRead, queued);
      settle();
      return out;
    } finally {
      mine?.release();
      if (unixDumped !== undefined) unixDump.release(unixDumped);
      if (inet !== undefined) inetDump.release(inet);
    }
  }

  /**
   * Adds to `queued` each unit one of whose sockets (`toRead`, per thread) has descriptors
   * queued to it, read through a duplicate of each (native fdinfoQueuedAsync) on Node's
   * pool in this sandbox's turn (offLoop) and charged as its CPU, QUEUED_PER_WORK at a
   * time, a unit's sockets no more once one showed some.
   *
   * A socket whose number names another file, or none, by the time it is read counts as
   * queued when the last look could not read it either: the fifteenth review moved a
   * listener holding memfds on unaccepted connections among four numbers every 90 us, and
   * the read always came after the move (a socket a program closed between the walk and
   * the read is gone at the next look). With the one look let pass in settle, a sandbox
   * hides its queue only by being missed at two looks in a row.
   */
  private *readQueued(toRead: ReadonlyMap<number, { unit: number; fds: number[]; inos: number[] }>, queued: Set<number>): Generator<Step, void> {
    const unverified = new Set<number>();
    for (const [task, { unit, fds, inos }] of toRead) {
      for (let i = 0; i < fds.length && !queued.has(unit); i += QUEUED_PER_WORK) {
        let part: Buffer | number = -1;
        const some = Int32Array.from(fds.slice(i, i + QUEUED_PER_WORK));
        const theirs = Uint32Array.from(inos.slice(i, i + QUEUED_PER_WORK));
        yield offLoop(this, () => native().fdinfoQueuedAsync(task, some, theirs)).then(([p, cpuUs]) => {
          part = p;
          return cpuUs / 1000;
        });
        if (typeof part === "number") continue;
        const words = part as Buffer;
        for (let at = 0, k = 0; at + 12 <= words.length; at += 12, k++) {
          const status = words.readUInt32LE(at + 4);
          const ino = theirs[k]!;
          if (status === Q_COUNT && words.readUInt32LE(at + 8) > 0) queued.add(unit);
          if (status !== Q_OTHER) continue;
          unverified.add(ino);
          if (this.unverified.has(ino)) queued.add(unit);
        }
      }
    }
    this.unverified = unverified;
  }

  /** The lock records listed in the fdinfo of every descriptor of `procs`, per unit, read on
   * Node's pool in this sandbox's turn (offLoop: a look's work waits for one part at most),
   * in parts of LOCK_PART_US, charged as its CPU. Never rejects. */
  private async countLocks(procs: ReadonlyMap<number, { unit: number; task: number }>): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (const { unit, task } of procs.values()) {
      for (let from = 0; ; ) {
        let got: [Buffer | number, number];
        try {
          got = await offLoop(this, () => native().fdLocksAsync(task, from, LOCK_PART_US));
        } catch {
          break; // without the addon nothing is supervised
        }
        this.spent?.(got[1] / 1000);
        const part = got[0];
        if (typeof part === "number") break; // gone, or unreadable: nothing to count
        out.set(unit, (out.get(unit) ?? 0) + part.readUInt32LE(8));
        from = part.readUInt32LE(0);
        if (from === 0) break;
      }
    }
    return out;
  }

  /**
   * Whether a passed descriptor may still sit in a queue. While its sender lives, exactly
   * when the sender has anything queued (its wmem counts every message it sent until the
   * receiver takes it). Once the sender is closed, by the socket it was sent to: a stream
   * while its queue holds bytes (a stream message with descriptors carries at least one),
   * a datagram socket while it lives (a zero-length datagram with descriptors shows in no
   * figure). IP sockets and pipes in flight are charged while this holds.
   */
  private mayHold(unix: UnixTable | null, f: Pick<InFlight, "sender" | "dest" | "destVfs">): boolean {
    if (unix === null) return true;
    const sender = unix.get(f.sender);
    if (sender !== undefined) return sender.wmem > 0;
    const destIno = f.dest !== 0 ? f.dest : (unix.byVfs(f.destVfs) ?? 0);
    const dest = destIno === 0 ? undefined : unix.get(destIno);
    if (dest === undefined) return false;
    return dest.type === SOCK_STREAM ? dest.rq > 0 : true;
  }

  /** One unix socket of the set `mine` (see the class comment). */
  private unixCharge(t: UnixTable, u: UnixSock, mine: InodeIndex): number {
    let bytes = u.wmem;
    const other = (ino: number): number => (mine.has(ino) ? 0 : (t.get(ino)?.wmem ?? 0));
    if (u.state === TCP_LISTEN) {
      for (const e of u.pending) {
        const client = t.senderTo(e);
        bytes += client === undefined ? this.residue : other(client);
      }
      return bytes;
    }
    if (u.peer !== 0 && t.has(u.peer)) {
      bytes += other(u.peer);
    } else if (u.type !== SOCK_STREAM || u.rq > 0) {
      bytes += this.residue;
    }
    if (u.type === SOCK_DGRAM && u.named && u.rq > 0) bytes += this.unconnected;
    return bytes;
  }
}
