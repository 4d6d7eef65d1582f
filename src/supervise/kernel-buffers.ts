// Memory a sandbox holds in kernel buffers (maxMemory, SPEC 10): the bytes its sockets
// have queued (unix and IP, read with NETLINK_SOCK_DIAG, which needs no privilege), its
// pipes and its epoll watches, found through its descriptor tables and the descriptors it
// passed in flight.

import { closeSync, fstatSync } from "node:fs";
import { native } from "../confine/native.js";
import { PIPE_CHARGE_BYTES } from "../plan/seccomp-kmem.js";
import { defaultSendBuffer, sysctlInt } from "./handlers/socket-buffers.js";
import { fdObjectPartsOffLoop, offLoop } from "./fd-objects.js";
import { fdLink } from "../kernel/proc-text.js";
import type { Step } from "./slices.js";

const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const TCP_LISTEN = 10;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
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

interface UnixSock {
  type: number;
  state: number;
  /** The peer's inode; 0 when there is none or it has been closed. */
  peer: number;
  /** Bytes queued to it (a datagram socket: the first datagram's only). */
  rq: number;
  /** What it has sent that is still queued somewhere, in bytes with overhead. */
  wmem: number;
  vfs: number;
  named: boolean;
  /** A listener's connections not yet accepted (inodes). */
  pending: number[];
}

/** Words a part of a dump may hold at most, for UnixTable's references (a part is what 4 ms
 * of receives bring: a few MB at most). */
const PART_SPAN = 2 ** 26;

/**
 * A dump of the host's unix sockets, indexed as its parts come: by inode, and the reverse
 * indexes (who points at a socket, which socket a path is). Only the sockets a sandbox
 * holds are looked at, so records are read out of the dump's words when asked for: the
 * host may have thousands of sockets, and fifty sandboxes share one dump per period.
 */
class UnixTable {
  /** The dump's parts, as they came (kernel-buffers' PartsDump). */
  private readonly parts: Uint32Array[] = [];
  /** inode -> its record: part index x 2^26 + word offset in that part. */
  private readonly at = new Map<number, number>();
  /** peer -> the sockets whose peer it is; socket file inode -> the socket bound to it.
   * Built as the parts come, with `at`: built on first use, they took one step over the
   * whole table (about 30 ms for 128,000 sockets). */
  private readonly senders = new Map<number, number | number[]>();
  private readonly paths = new Map<number, number>();
  /** The dump failed (no unix_diag on this host). */
  failed = false;

  /** Indexes one part of the dump (records never straddle parts: the kernel sends whole
   * messages). */
  addPart(buf: Buffer): void {
    const w = buf.byteOffset % 4 === 0 ? new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2) : new Uint32Array(Uint8Array.from(buf).buffer);
    const base = this.parts.length * PART_SPAN;
    this.parts.push(w);
    for (let i = 0; i + 9 <= w.length; i += 9 + w[i + 8]!) {
      const ino = w[i]!;
      this.at.set(ino, base + i);
      const peer = w[i + 3]!;
      if (peer !== 0) {
        const list = this.senders.get(peer);
        if (list === undefined) this.senders.set(peer, ino);
        else if (typeof list === "number") this.senders.set(peer, [list, ino]);
        else list.push(ino);
      }
      if (w[i + 6] !== 0) this.paths.set(w[i + 6]!, ino);
    }
  }

  /** The words of the part holding record `ref` (see `at`), and the record's offset there. */
  private record(ref: number): [Uint32Array, number] {
    return [this.parts[Math.floor(ref / PART_SPAN)]!, ref % PART_SPAN];
  }

  has(ino: number): boolean {
    return this.at.has(ino);
  }

  get(ino: number): UnixSock | undefined {
    const ref = this.at.get(ino);
    if (ref === undefined) return undefined;
    const [w, i] = this.record(ref);
    const n = w[i + 8]!;
    return { type: w[i + 1]!, state: w[i + 2]!, peer: w[i + 3]!, rq: w[i + 4]!, wmem: w[i + 5]!, vfs: w[i + 6]!, named: (w[i + 7]! & 1) !== 0, pending: Array.from(w.subarray(i + 9, i + 9 + n)) };
  }

  /** The sockets whose peer is `ino` (a pending connection's client, a datagram's senders). */
  sendersTo(ino: number): readonly number[] | undefined {
    const list = this.senders.get(ino);
    return typeof list === "number" ? [list] : list;
  }

  /** The socket bound to the socket file of inode `vfs`. */
  byVfs(vfs: number): number | undefined {
    return this.paths.get(vfs);
  }
}

interface InetSock {
  state: number;
  port: number;
  family: number;
  protocol: number;
  bytes: number;
}

interface InetTable {
  socks: Map<number, InetSock>;
  /** "family/protocol/port" -> bytes of the sockets there with no descriptor yet (a
   * listener's connections not yet accepted) or none any more (orphans). */
  unowned: Map<string, number>;
}

/** Adds one part of an inet dump to the table; an errno (no inet_diag for it) adds
 * nothing to charge. */
function addInet(t: InetTable, { family, protocol }: DumpOf, buf: Buffer | number): void {
  if (typeof buf === "number") return;
  for (let at = 0; at + 24 <= buf.length; at += 24) {
    const ino = buf.readUInt32LE(at);
    const port = buf.readUInt32LE(at + 8);
    // The receive queue, and the send queue (TCP) or what is in flight below (UDP).
    const bytes = buf.readUInt32LE(at + 12) + Math.max(buf.readUInt32LE(at + 16), buf.readUInt32LE(at + 20));
    if (ino !== 0) t.socks.set(ino, { state: buf.readUInt32LE(at + 4), port, family, protocol, bytes });
    else {
      const key = `${family}/${protocol}/${port}`;
      t.unowned.set(key, (t.unowned.get(key) ?? 0) + bytes);
    }
  }
}

// One look serves every sandbox of this process for a period, as processTree does: the
// dumps cost in proportion to the host's sockets.
// `seq` orders dumps and passes (dumps.seq): a socket passed after a dump was taken is not
// in it, and its absence there says nothing. A dump's seq is taken when it starts.
const dumps = { seq: 0 };

/** Microseconds one part of a dump may take (native diagDumpPart). */
const DUMP_PART_US = 4000;
/** A dump no look has read a part of for this long (every look that read it was abandoned)
 * is begun again. */
const DUMP_STALE_MS = 1000;
/** Sockets charged per step of a look (the look runs in slices). */
const SOCKETS_PER_STEP = 1024;
/** What a dump lists (native diagDumpStart): every unix socket (AF_UNIX, protocol 0), or
 * every socket of an IP family and protocol. */
interface DumpOf {
  family: number;
  protocol: number;
}
const UNIX_DUMPS: readonly DumpOf[] = [{ family: AF_UNIX, protocol: 0 }];
const INET_DUMPS: readonly DumpOf[] = [AF_INET, AF_INET6].flatMap((family) => [IPPROTO_TCP, IPPROTO_UDP].map((protocol) => ({ family, protocol })));

interface DumpRun<T> {
  seq: number;
  /** When a part was last read (a run no look reads any more is begun again). */
  touched: number;
  /** The index in `dumps` of the dump being read. */
  index: number;
  fd: number;
  value: T;
}

/**
 * The host's socket tables by NETLINK_SOCK_DIAG dumps, taken in parts between which the
 * watchdog yields: the tables are as long as the host's processes make them, a sandbox's
 * among them (128,000 unix sockets of a sandbox held the event loop 300 ms in one call).
 * One dump runs at a time and serves every look of every sandbox of this process: a look
 * that finds it running reads its next part.
 */
class PartsDump<T> {
  #cache: { at: number; seq: number; value: T } | undefined;
  #run: DumpRun<T> | undefined;

  /** `dumps`: taken one after the other; `begin` makes the value, `add` adds each part's
   * records to it (or the errno of a dump that failed) as they come. */
  constructor(
    private readonly dumps: readonly DumpOf[],
    private readonly begin: () => T,
    private readonly add: (value: T, dump: DumpOf, records: Buffer | number) => void,
  ) {}

  /** The value of a dump finished at most maxAgeMs ago, and the dump's seq; else of the
   * next dump to finish (taken in parts, by this look or another). */
  *get(maxAgeMs: number): Generator<void, { seq: number; value: T }> {
    const last = this.#cache;
    if (last !== undefined && Date.now() - last.at <= maxAgeMs) return last;
    for (;;) {
      if (this.#step()) return this.#cache!;
      yield;
      if (this.#cache !== last) return this.#cache!;
    }
  }

  /** Reads one part of the running dump (begun when none runs): true once it is over. */
  #step(): boolean {
    const nat = native();
    let r = this.#run;
    if (r !== undefined && Date.now() - r.touched > DUMP_STALE_MS) {
      if (r.fd >= 0) closeSync(r.fd);
      r = undefined;
    }
    r ??= this.#run = { seq: ++dumps.seq, touched: 0, index: 0, fd: -1, value: this.begin() };
    r.touched = Date.now();
    const dump = this.dumps[r.index]!;
    if (r.fd < 0) {
      const fd = nat.diagDumpStart(dump.family, dump.protocol);
      if (fd < 0) return this.#next(r, dump, fd);
      r.fd = fd;
    }
    const part = nat.diagDumpPart(r.fd, dump.family, DUMP_PART_US);
    if (typeof part !== "number" && part.readUInt32LE(0) === 0) {
      this.add(r.value, dump, part.subarray(4));
      return false;
    }
    closeSync(r.fd);
    r.fd = -1;
    return this.#next(r, dump, typeof part === "number" ? part : part.subarray(4));
  }

  #next(r: DumpRun<T>, dump: DumpOf, last: Buffer | number): boolean {
    this.add(r.value, dump, last);
    r.index++;
    if (r.index < this.dumps.length) return false;
    this.#run = undefined;
    this.#cache = { at: Date.now(), seq: r.seq, value: r.value };
    return true;
  }
}

const unixDump = new PartsDump(
  UNIX_DUMPS,
  () => new UnixTable(),
  (t, _dump, records) => (typeof records === "number" ? void (t.failed = true) : t.addPart(records)),
);
const inetDump = new PartsDump(INET_DUMPS, (): InetTable => ({ socks: new Map(), unowned: new Map() }), addInet);

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
      if (typeof one !== "number") {
        const t = new UnixTable();
        t.addPart(one);
        dest = t.get(sender)?.peer ?? 0;
      }
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
    const socks = new Map<number, Set<number>>();
    const pipes = new Map<number, Set<number>>();
    const add = (into: Map<number, Set<number>>, unit: number, ino: number): void => {
      let set = into.get(unit);
      if (set === undefined) into.set(unit, (set = new Set()));
      set.add(ino);
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
    const unix = unixDumped === undefined || unixDumped.value.failed ? null : unixDumped.value;
    let inet: { seq: number; value: InetTable } | undefined;
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
    for (const [unit, set] of pipes) charge(unit, set.size * PIPE_CHARGE_BYTES);
    let looked = 0;
    for (const [unit, set] of socks) {
      let bytes = 0;
      for (const ino of set) {
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
          bytes += this.unixCharge(unix, u, set);
          continue;
        }
        inet ??= yield* inetDump.get(maxAgeMs);
        const s = inet.value.socks.get(ino);
        if (s === undefined) continue; // gone, or a kind no dump shows (docs/security.md)
        bytes += s.bytes;
        if (s.state === TCP_LISTEN) bytes += inet.value.unowned.get(`${s.family}/${s.protocol}/${s.port}`) ?? 0;
      }
      charge(unit, bytes);
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
  private unixCharge(t: UnixTable, u: UnixSock, mine: ReadonlySet<number>): number {
    let bytes = u.wmem;
    const other = (ino: number): number => (mine.has(ino) ? 0 : (t.get(ino)?.wmem ?? 0));
    if (u.state === TCP_LISTEN) {
      for (const e of u.pending) {
        const client = t.sendersTo(e)?.[0];
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
