// Loads the Node-API addon and locates the launcher executable: the pair built from source
// (build/Release: this repository, `npm rebuild sandlock`) or else the pair prebuilt
// inside the package (prebuilds/linux-x64). A missing or unloadable pair is a ConfinementError.

import { accessSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join, relative, resolve } from "node:path";
import { ConfinementError } from "../errors.js";

export interface NativeAddon {
  spawnLauncher(path: string, fds: readonly number[]): [pid: number, pidfd: number];
  /** The supervised view's inotify broker (native/inotify-broker.c), in a user namespace of
   * its own with these limits, or -errno. */
  spawnInotifyBroker(path: string, instances: number, watches: number): [pid: number, pidfd: number, socket: number] | number;
  /** sched_setaffinity(tid, mask.length, mask): 0 or -errno. */
  schedSetaffinity(tid: number, mask: Buffer): number;
  /** A new inotify instance's descriptor made by the broker, or -errno. */
  brokerInotify(socket: number, flags: number): number;
  pipe(): [read: number, write: number];
  /** /proc/self status, limits, cgroup, oom_score_adj, timerslack_ns, the host and domain
   * names, five ns links and the root link (sections ended by "\n\x1e\n"), then "sched P PRIO ioprio N". */
  selfState(): string;
  memfd(data: Buffer): number;
  waitPidfd(pidfd: number): [code: number, signal: number] | null;
  landlockAbi(): number;
  isatty(fd: number): boolean;
  /** SIGTTOU ignored by this process from now on (native/addon.c says why); false when
   * sigaction failed. */
  ignoreSigttou(): boolean;
  /** cb(status, events) on each readiness; after pollFast, cb(status, events, received):
   * received 0 when a notification waits in the buffer given, else -errno of the receive. */
  pollFd(fd: number, cb: (status: number, events: number, received?: number) => void): object;
  /** The supervisor's fast path (native/fastpath.c, src/supervise/fast-path.ts). */
  pollFast(handle: object, notif: Buffer, trees: readonly string[], exacts: readonly string[], procDevs: readonly bigint[], opens: boolean, getdents: boolean, threaded: boolean, memory: boolean, writeOpensToTs: boolean, procs: number): void;
  /** The memory credit of a fast path made with memory (native/memcredit.c): op 0 settles
   * one forwarded growth call, granting `grant` bytes; op 1 revokes the credit; op 2
   * returns the bytes continued in C since the last grant. */
  pollMemory(handle: object, op: 0 | 1 | 2, grant: number): number | undefined;
  /** The fork credits (native/proccredit.c): op 0 grants n process forks (undefined); op 1
   * takes [tid, nr, ...] of the forks continued in C since the last take and ends the
   * credit; ops 2 and 3 the same for thread clones, 4 and 5 for epoll_ctl adds. */
  pollProcs(handle: object, op: 0 | 2 | 4 | 6 | 8, n: number): undefined;
  pollProcs(handle: object, op: 1 | 3 | 5 | 7 | 9, n: 0): number[];
  /** [notifications the fast path answered, nanoseconds it spent]. */
  pollFastStats(handle: object): [answered: number, ns: number];
  /** Seccomp user notification and process access: each returns >= 0 or -errno. */
  notifRecv(listener: number, out: Buffer): number;
  notifSend(listener: number, id: Buffer, val: number, error: number, flags: number): number;
  notifIdValid(listener: number, id: Buffer): number;
  notifAddfd(listener: number, id: Buffer, srcfd: number, newfd: number, flags: number, newfdFlags: number): number;
  notifSetSyncWakeup(listener: number): number;
  readMemory(pid: number, address: number, out: Buffer): number;
  writeMemory(pid: number, address: number, data: Buffer): number;
  pollNow(fd: number): number;
  /** timeStart (native/timer.c): timerfd_settime on fd; with shift, the absolute deadline
   * moved from CLOCK_MONOTONIC + offsetNs onto the host's clock. 0 or -errno. */
  timerfdSettime(fd: number, flags: number, value: Buffer, old: Buffer, shift: boolean, offsetNs: bigint): number;
  pidfdOpen(pid: number): number;
  pidfdGetfd(pidfd: number, targetfd: number): number;
  pidfdSendSignal(pidfd: number, signal: number): number;
  pollClose(handle: object): void;
  pollRef(handle: object, ref: boolean): void;
  /** The zygote's calls (native/fork.c). */
  collapse(start: number, length: number): number;
  /** In the zygote: the clones made ([stdout, stderr] per clone) and why it stopped early; in clone i: i. */
  forkBatch(n: number, control: number, stopFirst: number): { pids: number[]; fds: number[]; errno: number; syscall: string } | number;
  reapClones(): [pid: number, code: number, signal: number][];
  seqpacketPair(): [number, number];
  sendFds(sock: number, data: Buffer, fds: readonly number[], waitMs?: number): number;
  recvFds(sock: number, out: Buffer): [bytes: number, fds: number[]] | number;
  moveFd(fd: number, min: number): number;
  emptyStdin(): number;
  exitNow(code: number): never;
  /** Checkpoint (native/ptrace.c), from Node's main thread only: each returns >= 0 or -errno. */
  ptraceSeize(tid: number): number;
  ptraceInterrupt(tid: number): number;
  /** [tid, wait status] once it stopped or died, [0, 0] while not yet, [-errno, 0] on failure. */
  ptraceWaitStop(tid: number): [rc: number, status: number];
  ptraceGetRegset(tid: number, note: number, out: Buffer): number;
  ptraceDetach(tid: number, signal: number): number;
  /** Checkpoint restore (native/ptrace-restore.c), from Node's main thread only. */
  ptraceSetRegset(tid: number, note: number, data: Buffer): number;
  ptraceSyscall(tid: number, signal: number): number;
  /** PTRACE_CONT: runs the tracee to its next ptrace-stop; 0 or -errno. */
  ptraceCont(tid: number, signal: number): number;
  /** PTRACE_SETSIGMASK: the stopped tracee's blocked mask (8 bytes); 0 or -errno. */
  ptraceSetSigmask(tid: number, mask: Buffer): number;
  /** PTRACE_GET_RSEQ_CONFIGURATION into out (24 bytes): bytes filled, or -errno. */
  ptraceGetRseq(tid: number, out: Buffer): number;
  /** get_robust_list(tid) into out: u64 head, u64 length; 0 or -errno. */
  getRobustList(tid: number, out: Buffer): number;
  /** kcmp(KCMP_FILE): 0 when the two descriptors share one open file description. */
  kcmpFile(pid1: number, fd1: number, pid2: number, fd2: number): number;
  /** Network supervision (native/net.c): each returns >= 0 or -errno unless noted. */
  threadGetfd(tid: number, targetfd: number): number;
  /** A pidfd of thread tid itself (PIDFD_THREAD), or -errno (EINVAL before Linux 6.9). */
  threadPidfd(tid: number): number;
  sockInfo(fd: number): [domain: number, type: number, protocol: number, fileFlags: number, inode: number] | number;
  /** A descriptor's file status flags (fcntl F_GETFL: O_PATH among them), or -errno. */
  fileFlags(fd: number): number;
  /** SO_PEERCRED of a connected unix socket: [pid, uid, gid], or -errno. */
  peerCred(fd: number): [pid: number, uid: number, gid: number] | number;
  /** Who listens on the unix socket file at path (a connect made and closed at once):
   * [pid, uid], -EAGAIN (listening, backlog full) or -errno (ECONNREFUSED: nobody). */
  unixListening(path: Buffer): [pid: number, uid: number] | number;
  /** flock(2) of fd with op (LOCK_EX 2, LOCK_NB 4, LOCK_UN 8): 0 or -errno. */
  flockFd(fd: number, op: number): number;
  netConnect(fd: number, addr: Buffer): number;
  /** bind(2) with this address: 0 or -errno. */
  netBind(fd: number, addr: Buffer): number;
  /** bind(2) of a unix socket to `path` (no NUL) on a thread of its own: working directory
   * `cwd` (-1: the supervisor's), the caller's umask and effective capabilities (null: the
   * supervisor's), MAKE_SOCK allowed by Landlock beneath `beneath` only (-1: no domain);
   * 0 or -errno (native/meta.c). */
  unixBindAs(sock: number, path: Buffer, cwd: number, beneath: number, umask: number, capEff: bigint | null): number;
  /** A UDP socket whose datagrams are dropped unless their destination port is in one of
   * the u16 [lo, hi] pairs of `ranges` (a locked socket filter); a descriptor or -errno. */
  udpSocket(domain: number, type: number, protocol: number, ranges: Buffer): number;
  /** getsockname(2): the socket's address, or -errno. */
  netSockname(fd: number): Buffer | number;
  /** listen(2) with this backlog: 0 or -errno. */
  netListen(fd: number, backlog: number): number;
  /** shutdown(2) (SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2): 0 or -errno. */
  netShutdown(fd: number, how: number): number;
  /** 0 when a TCP socket of this process (SO_REUSEADDR, not SO_REUSEPORT) can bind addr. */
  netPortTaken(addr: Buffer): number;
  netSendmsg(fd: number, name: Buffer | null, data: Buffer, control: Buffer | null, flags: number): number;
  /** 0 when started (cb gets the result later), or -errno with no callback. */
  netConnectAsync(fd: number, addr: Buffer, cb: (rc: number) => void): number;
  netSendmsgAsync(fd: number, name: Buffer | null, data: Buffer, control: Buffer | null, flags: number, cb: (rc: number) => void): number;
  /** A send passing descriptors, made by the sender (native/sender.c) under RLIMIT_NOFILE
   * `limit` to the pinned destination `pin` (-1: `name`); flags must hold MSG_DONTWAIT. */
  netSendRights(fd: number, pin: number, limit: number, name: Buffer | null, data: Buffer, control: Buffer, flags: number): number;
  /** The same on a worker thread, waiting for room as the caller's send would. */
  netSendRightsAsync(fd: number, pin: number, limit: number, name: Buffer | null, data: Buffer, control: Buffer, flags: number, cb: (rc: number) => void): number;
  /** The program started as the sender (the launcher binary). */
  senderPath(path: string): void;
  /** The running sender's pid, 0 when none runs. */
  senderPid(): number;
  /** The filtering proxy's data path (native/splice.c): on a thread, connects to dest (a
   * sockaddr), writes headToB there, then moves bytes between socket a (duplicated) and it;
   * 0 (cb(rc) once both ways ended) or -errno. A write to stopFd ends it. */
  spliceStart?(a: number, dest: Buffer, headToB: Buffer, stopFd: number, cb: (rc: number) => void): number;
  /** An eventfd for spliceStart's stopFd, or -errno. */
  spliceStopper?(): number;
  /** Host interfaces (native/net-host.c): a RTM_GETLINK/RTM_GETADDR dump's messages, the
   * pair standing in for a netlink socket, interface ioctls. Each returns >= 0 or -errno. */
  netlinkDump(type: number, family: number, extMask: number): Buffer | number;
  netlinkPair(name: Buffer, childNonblock: 0 | 1): [server: number, child: number] | number;
  ifIoctl(fd: number, request: number, ifreq: Buffer): number;
  ifConf(fd: number): Buffer | number;
  /** /proc and identity supervision (native/procfs.c): each returns >= 0 or -errno unless noted. */
  getdents(fd: number, out: Buffer, legacy: 0 | 1): number;
  /** lseek(2): the new offset, or -errno (a directory offset is an opaque 64-bit cookie). */
  lseek(fd: number, offset: bigint, whence: number): bigint;
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** openat2 with this thread's effective capabilities lowered to capEff for the call. */
  openat2As(dirfd: number, path: string, flags: number, mode: number, resolve: number, capEff: bigint): number;
  /** The host's struct utsname, 390 bytes (throws on failure). */
  uname(): Buffer;
  schedGetaffinity(tid: number, len: number): number;
  /** A sealed, close-on-exec memfd holding data, its offset at 0 (throws on failure). */
  memfdReadonly(name: string, data: Buffer): number;
  /** An empty close-on-exec memfd that memfdSeal will seal (throws on failure). */
  memfdWritable(name: string): number;
  /** Seals a memfdWritable file as memfdReadonly's are, its offset back at 0 (throws on failure). */
  memfdSeal(fd: number): void;
  /** A descriptor's seals (fcntl F_GET_SEALS), or -errno (-EINVAL: a file that takes none). */
  fileSeals(fd: number): number;
  /** A pipe's end: 1 while some file holds the other end (a writer for a read end, a reader
   * for a write end), 0 once none does (nothing is read or written), or -errno. */
  pipeHasPeer(fd: number): number;
  /** Process pid's parent, state and children (native/procfs.c): how many int32 were
   * written to `out` ([parent, state letter, 1 when every thread's list was read, the
   * children...]), or -errno (gone; -E2BIG: `out` too small). */
  processChildren(pid: number, out: Buffer): number;
  /** Memory supervision (native/files.c): 0 or -errno. */
  fallocate(fd: number, mode: number, offset: bigint, len: bigint): number;
  /** [read-write file for the caller, read-only probe] or -errno (see files.c). */
  memfdCreate(name: Buffer, flags: number): [file: number, probe: number] | number;
  /** 1: no open file of the inode but fd; 0: another exists; or -errno (see files.c). */
  leaseFree(fd: number): number;
  /** File metadata (native/meta.c): one of openat2, fchmodat2, fchmod, fchownat, fchown,
   * utimensat, setxattr, fsetxattr, removexattr, fremovexattr, ioctl, made with this
   * thread's effective capabilities lowered to capEff (null: as they are); >= 0 or -errno. */
  syscallAs(nr: number, capEff: bigint | null, ...args: (number | bigint | Buffer | null)[]): number;
  /** Name operations (native/meta.c): openat2, mkdirat, mknodat, symlinkat, linkat,
   * renameat2, unlinkat, truncate, fchmod, fchmodat2, as syscallAs makes them. */
  nameSyscallAs(nr: number, capEff: bigint | null, ...args: (number | bigint | Buffer | null)[]): number;
  /** SysV gets (native/meta.c): shmget, msgget, semget, as syscallAs makes them. */
  ipcSyscallAs(nr: number, capEff: bigint | null, ...args: (number | bigint | Buffer | null)[]): number;
  /** [dev, ino, mode, nlink] of fd, or of what a NUL-terminated path names from dirfd
   * (O_PATH|O_NOFOLLOW with these RESOLVE_* bits); or -errno. */
  fileId(fd: number, path?: Buffer, resolve?: number): [dev: bigint, ino: bigint, mode: number, nlink: number] | number;
  /** readlink of /proc/self/fd/N as bytes, or -errno. */
  fdPath(fd: number): Buffer | number;
  /** Answers for a caller (native/answer.c): capget with our own header (out: 24 bytes),
   * 0 or -errno; the peer of a pseudo-terminal master, an fd or -errno. */
  capget(version: number, pid: number, out: Buffer): number;
  ptyPeer(master: number, flags: number): number;
  /** The number of the terminal a multiplexer's descriptor opened (TIOCGPTN), or -errno. */
  ptyIndex(master: number): number;
  /** Kernel buffers (native/kmem.c): u32 records, or -errno. Unix sockets (ino 0: all of
   * the network namespace): ino, type, state, peer, rqueue, wmem_alloc, vfs ino, flags
   * (1: named), n, n pending-connection inodes. */
  unixSockets(ino: number): Buffer | number;
  /** IP sockets of a family and protocol: ino, state, local port, rmem_alloc, wmem_queued, wmem_alloc. */
  /** `states`: a mask of TCP states (bit N: state N), -1 for all; `port`: only sockets
   * bound there (0: any). */
  inetSockets(family: number, protocol: number, states: number, port: number): Buffer | number;
  /** Part of one process's descriptor table: the first u32 is the descriptor to go on from
   * (0: the end), the second how many descriptors were read, then triples (descriptor; kind: 1 socket, 2 pipe, with the inode; 3 epoll,
   * with its watches; 4 a path whose last name is a number, with it; 5 a path ending in
   * "/ptmx"), of the kinds whose bits `kinds` sets (bit k: kind k), for at most `max`
   * descriptors from `from` on, fewer once `budgetUs` microseconds are spent (0: no bound
   * in time). */
  fdObjectsFrom(pid: number, from: number, max: number, budgetUs: number, kinds: number): Buffer | number;
  /** fdObjectsFrom made on a thread of Node's pool: what it returns, and the microseconds
   * of CPU it took there (the promise never rejects). */
  fdObjectsFromAsync(pid: number, from: number, max: number, budgetUs: number, kinds: number): Promise<[Buffer | number, number]>;
  /** The watches of this process's epoll descriptor `fd` (0: none, or not an epoll file),
   * counted on a thread of Node's pool on a duplicate made at once (`fd` may be closed as
   * soon as this returns), and the microseconds of CPU that took; -errno at once when it
   * cannot be duplicated. */
  epollWatchesAsync(fd: number): Promise<[number, number]> | number;
  /** The 32 bytes of the "user" key `name` in this user's kernel keyring (with `create`,
   * made of random bytes when there is none); -errno otherwise: -ENOKEY none, -EBADMSG a
   * key of that name of another size, -ENOSYS or -EPERM where keyrings are refused. */
  userKey(name: string, create: boolean): Buffer | number;
  /** The head of /proc/PID/fdinfo/FD for each of `fds`, read on a thread of Node's pool: six
   * u32 per descriptor (fd; 0 or the errno of its read; flags with O_CLOEXEC; mnt_id; pos
   * low and high words), and the microseconds of CPU that took. Never rejects. */
  fdinfoHeadsAsync(pid: number, fds: Int32Array): Promise<[Buffer | number, number]>;
  /** On a thread of Node's pool: for each descriptor `fds[i]` of process `pid`, a unix
   * socket found at inode `inos[i]`, the descriptors queued to it (scm_fds in the fdinfo of
   * a pidfd_getfd duplicate): three u32 each (fd; status: 0 the count, 1 the number no
   * longer names that socket, 2 no count shown, 3 the process is gone, 4 an error; the
   * count or the errno), and the microseconds of CPU that took. Never rejects. */
  fdinfoQueuedAsync(pid: number, fds: Int32Array, inos: Uint32Array): Promise<[Buffer | number, number]>;
  /** On a thread of Node's pool: the lock records listed in the fdinfo of each descriptor
   * of process `pid` from descriptor `from` on, read whole (the kernel makes the text at
   * the first read), ending once `budgetUs` microseconds are spent: three u32 (the
   * descriptor to go on from, 0 at the table's end; the descriptors read; the records), or
   * -errno; and the microseconds of CPU that took. Never rejects. */
  fdLocksAsync(pid: number, from: number, budgetUs: number): Promise<[Buffer | number, number]>;
  /** The id of the mount descriptor `fd` is on (statx STATX_MNT_ID: fdinfo's mnt_id), or -errno. */
  mountId(fd: number): number;
  /** A NETLINK_SOCK_DIAG socket with a dump asked for (AF_UNIX with protocol 0: every
   * unix socket; AF_INET or AF_INET6 with IPPROTO_TCP or IPPROTO_UDP: every such socket),
   * to read with diagDumpPart and close; or -errno (EINVAL for any other pair). */
  diagDumpStart(family: number, protocol: number): number;
  /** The next records of a dump (unixSockets's format for AF_UNIX, inetSockets's
   * otherwise) after a first u32, 1 once the dump is over, read for about `budgetUs`
   * microseconds; or -errno. */
  diagDumpPart(fd: number, family: number, budgetUs: number): Buffer | number;
  /** setsockopt of an int option on the supervisor's descriptor: 0 or -errno. */
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  /** IPC_RMID of a SysV object (kind 0 shm, 1 msg, 2 sem): 0 or -errno. */
  ipcRemove(kind: 0 | 1 | 2, id: number): number;
  /** The regular file behind fd, whole and read-only (native/startfile.c, for bin/sandlock.cjs):
   * a private mapping of the file (a copy where it cannot be mapped), as an external latin1
   * string (asString) or an external ArrayBuffer; undefined when it cannot (not a regular
   * file, empty or over 64 MiB, a short read, a Node without external strings or buffers).
   * A mapped string shows changes made to the file in place until settleStartFiles(). */
  startFile(fd: number, asString: boolean): string | ArrayBuffer | undefined;
  /** Every string startFile mapped, replaced at its address by a private copy of its bytes,
   * unless its file changed since (size or mtime): [settled, changed]. */
  settleStartFiles(): [number, number];
  /** `bytes` of zeroed memory whose pages are backed already (one mmap with MAP_POPULATE,
   * native/populated.c), counted as V8 external memory while it lives; undefined when it
   * cannot (0 or over 256 MiB, no memory, a Node refusing outside memory for buffers). */
  populatedBuffer(bytes: number): ArrayBuffer | undefined;
}

/** The package root: dist/src/confine -> ../../.. (import.meta.dirname, Node >= 20.11: the
 * URL round trip of fileURLToPath cost the CLI's start-up about 0.5 ms; the bundle defines
 * it as its own directory, scripts/bundle-cli.mjs). */
const ROOT = `${resolve(import.meta.dirname ?? dirname(fileURLToPath(import.meta.url)), "../../..")}/`;
const ADDON = "sandlock_native.node";
const LAUNCHER = "sandlock-launcher";
/** Where the pair may be, first match wins: a from-source build replaces the prebuilt pair. */
const DIRS = [join(ROOT, "build", "Release"), join(ROOT, "prebuilds", `${process.platform}-${process.arch}`)];
const FIX = 'reinstall sandlock on Linux x64, or build it from source with "npm rebuild sandlock" (needs a C compiler, make and python3)';

let addon: NativeAddon | undefined;
let dir: string | undefined;

/** The directory holding both binaries; the two always come from the same build. */
function binaryDir(): string {
  if (dir === undefined) {
    const found = DIRS.find((d) => existsSync(join(d, ADDON)) && existsSync(join(d, LAUNCHER)));
    if (found === undefined) {
      const where = DIRS.map((d) => relative(ROOT, d)).join(" or ");
      throw new ConfinementError(`native binaries missing: no ${ADDON} and ${LAUNCHER} in ${where} of ${ROOT} (none is prebuilt for ${process.platform}-${process.arch}); ${FIX}`, { binary: join(DIRS[DIRS.length - 1]!, ADDON) });
    }
    dir = found;
  }
  return dir;
}

/** The addon file (the fork group's zygote loads it too). */
export function addonPath(): string {
  return join(binaryDir(), ADDON);
}

export function native(): NativeAddon {
  if (addon === undefined) {
    const file = addonPath();
    try {
      addon = createRequire(import.meta.url)(file) as NativeAddon;
    } catch (e) {
      // A binary for another system: an older glibc than it needs ("GLIBC_2.34 not found"),
      // another architecture ("invalid ELF header"), a Node without its Node-API version.
      const why = (e as Error).message.split("\n")[0];
      throw new ConfinementError(`native addon ${file} does not load in Node ${process.version} (${process.platform}-${process.arch}): ${why}; ${FIX}`, { binary: file, cause: e });
    }
  }
  return addon;
}

let launcher: string | undefined;

export function launcherPath(): string {
  if (launcher === undefined) {
    const file = join(binaryDir(), LAUNCHER);
    try {
      accessSync(file, constants.X_OK);
    } catch (e) {
      throw new ConfinementError(`native launcher ${file} is not executable (${(e as NodeJS.ErrnoException).code}); ${FIX}`, { binary: file, cause: e });
    }
    launcher = file;
  }
  return launcher;
}
