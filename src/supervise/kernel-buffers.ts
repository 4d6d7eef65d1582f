// Memory a sandbox holds in kernel buffers (maxMemory, SPEC 10): the bytes its sockets
// have queued (unix and IP, read with NETLINK_SOCK_DIAG, which needs no privilege), its
// pipes and its epoll watches, found through its descriptor tables and the descriptors it
// passed in flight.

import { fstatSync } from "node:fs";
import { native } from "../confine/native.js";
import { PIPE_CHARGE_BYTES } from "../plan/seccomp-kmem.js";
import { defaultSendBuffer, sysctlInt } from "./handlers/socket-buffers.js";
import { fdObjectPartsOffLoop, offLoop } from "./fd-objects.js";
import { fdLink } from "../kernel/proc-text.js";
import type { Step } from "./slices.js";
import { InodeIndex } from "./inode-index.js";
import { dumps, inetDump, peerIn, SOCK_DGRAM, SOCK_STREAM, TCP_LISTEN, unixDump, type Held, type InetTable, type UnixSock, type UnixTable } from "./socket-dumps.js";

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

/** A descriptor the sandbox passed with SCM_RIGHTS, in a socket's queue or received. */
interface InFlight {
  kind: "socket" | "pipe" | "epoll";
  /** The inode; for epoll files, the sum of their watches when they were sent. */
  ino: number;
  /** dumps.seq when it was passed: a dump with a greater one was taken after. */
  seq: number;
  unit: number;
  /** The socket it was sent on, and the one it was sent to (0: unknown). */
  sender: number;
  dest: number;
  destVfs: number;
}

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
   * One record per socket or pipe passed (by inode) and one per sending socket and
   * destination for all the epoll files passed there (they share one anonymous inode, so
   * nothing tells two apart or says one is gone; their watches add up). A record goes when
   * its message can no longer be queued (mayHold) and, for a socket, once a dump taken
   * after it was passed no longer shows it (closed everywhere: nothing left to charge).
   * A pipe cannot be seen gone: its record stays while its sender has anything queued,
   * charged PIPE_CHARGE_BYTES, so the cap bounds how many there are.
   */
  private readonly inFlight = new Map<string, InFlight>();
  private readonly residue: number;
  private readonly unconnected: number;

  /** `spent`: told the milliseconds of CPU each count of a passed epoll file's watches
   * took (on a thread of Node's pool), to charge the sandbox (maxCpu). */
  constructor(private readonly spent?: (ms: number) => void) {
    const sendBuffer = defaultSendBuffer();
    this.residue = 2 * sendBuffer;
    this.unconnected = (sysctlInt("/proc/sys/net/unix/max_dgram_qlen", 10) + 1) * sendBuffer;
  }

  /**
   * A send the supervisor performed for `unit` on socket `sender` passed the supervisor's
   * duplicates `fds` (SCM_RIGHTS), to a named socket file `destVfs` (0: the sender's
   * peer). A socket or pipe in a queue is in no descriptor table: it stays charged while
   * the message that carries it may still be queued (mayHold). An epoll file's watches
   * are counted off the event loop (fd-objects.ts fdObjectPartsOffLoop says why), one file
   * after the other in this sandbox's turn: the promise returned then says when they are
   * charged, and the send waits for it (net.ts), so a sandbox passing epoll files in a loop
   * is slowed by their counts, which it is charged for, and holds one count at a time per
   * thread; `fds` must stay open until it settles.
   */
  passed(unit: number, sender: number, destVfs: number, fds: readonly number[]): Promise<void> | undefined {
    let dest = 0;
    if (destVfs === 0) {
      const one = native().unixSockets(sender);
      if (typeof one !== "number") dest = peerIn(one, sender);
    }
    const epolls: number[] = [];
    for (const fd of fds) {
      let st;
      try {
        st = fstatSync(fd);
      } catch {
        continue;
      }
      const type = st.mode & S_IFMT;
      const kind = type === S_IFSOCK ? "socket" : type === S_IFIFO ? "pipe" : fdLink(fd) === "anon_inode:[eventpoll]" ? "epoll" : undefined;
      if (kind === undefined) continue; // files: memory-files.ts
      if (kind === "epoll") epolls.push(fd);
      else this.inFlight.set(`${kind}:${st.ino}`, { kind, ino: st.ino, seq: dumps.seq, unit, sender, dest, destVfs });
    }
    if (epolls.length === 0) return undefined;
    // The record is made now (a look meanwhile keeps it), its watches added as counted.
    const key = `epoll:${unit}:${sender}:${dest}:${destVfs}`;
    let held = this.inFlight.get(key);
    if (held === undefined) this.inFlight.set(key, (held = { kind: "epoll", ino: 0, seq: dumps.seq, unit, sender, dest, destVfs }));
    const record = held;
    const countAll = async (): Promise<void> => {
      for (const fd of epolls) {
        const [watches, cpuUs] = await offLoop(this, async () => {
          const r = native().epollWatchesAsync(fd);
          return typeof r === "number" ? ([0, 0] as [number, number]) : r;
        });
        this.spent?.(cpuUs / 1000);
        // (a record a look has dropped meanwhile is charged no more: its message could no
        // longer be queued)
        if (this.inFlight.get(key) === record) record.ino += watches;
      }
    };
    return countAll();
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
    for (const { unit, task } of procs.values()) {
      // Off the event loop: the epoll files' watches are the sandbox's to make long.
      yield* fdObjectPartsOffLoop(this, task, ["epoll", "socket", "pipe"], (kind, value) => {
        // An epoll file shared by two descriptors or processes is charged for each.
        if (kind === "epoll") charge(unit, value * EPOLL_WATCH_BYTES);
        else if (kind === "socket") add(socks, unit, value);
        else if (kind === "pipe") add(pipes, unit, value);
      });
      yield;
    }
    if (socks.size === 0 && pipes.size === 0 && this.inFlight.size === 0) return out;
    const unixDumped = socks.size > 0 || this.inFlight.size > 0 ? yield* unixDump.get(maxAgeMs) : undefined;
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
        if (f.kind === "epoll") charge(f.unit, f.ino * EPOLL_WATCH_BYTES);
        else add(f.kind === "socket" ? socks : pipes, f.unit, f.ino);
      }
      for (const [unit, list] of pipes) {
        (yield* unique(list)).release();
        charge(unit, list.length * PIPE_CHARGE_BYTES);
      }
      let looked = 0;
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
      return out;
    } finally {
      mine?.release();
      if (unixDumped !== undefined) unixDump.release(unixDumped);
      if (inet !== undefined) inetDump.release(inet);
    }
  }

  /**
   * Whether a passed descriptor may still sit in a queue. While its sender lives, exactly
   * when the sender has anything queued (its wmem counts every message it sent until the
   * receiver takes it). Once the sender is closed, by the socket it was sent to: a stream
   * while its queue holds bytes (a stream message with descriptors carries at least one),
   * a datagram socket while it lives (a zero-length datagram with descriptors shows in no
   * figure). IP sockets and pipes in flight are charged while this holds.
   */
  private mayHold(unix: UnixTable | null, f: InFlight): boolean {
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
