// The seccomp-bpf program of a sandbox, computed from the seccomp part of the features:
// architecture check, x32 refusal, the blocklist, and the argument filters.

import { AUDIT_ARCH_X86_64, LAST_SYSCALL, SYSCALLS, X32_SYSCALL_BIT } from "../kernel/syscalls.js";
import { BpfAssembler, type Insn, Ret, SeccompData } from "./bpf/assembler.js";
import { interfaceIoctls, netArgumentFilters } from "./seccomp-net.js";
import { consoleIoctls } from "./seccomp-console.js";
import { reachFilters } from "./seccomp-reach.js";
import { fcntlBlock, pipeSizeBlock } from "./seccomp-kmem.js";
import { unsupervisedFilters } from "./seccomp-unsupervised.js";
import { clockFilters } from "./seccomp-clock.js";
import { nameFilters } from "./seccomp-names.js";
import { fsGuardFilters } from "./seccomp-setid.js";

export const Errno = { EPERM: 1, EINVAL: 22, ENOSYS: 38, EOPNOTSUPP: 95, EAFNOSUPPORT: 97 } as const;

/** Namespace flags of clone(2). CLONE_NEWTIME (0x80) is absent: in clone(2) that bit is
 * part of the exit signal, and new time namespaces need clone3 or unshare, both refused. */
export const CLONE_NAMESPACE_FLAGS =
  0x00020000 /* NEWNS */ | 0x02000000 /* NEWCGROUP */ | 0x04000000 /* NEWUTS */ | 0x08000000 /* NEWIPC */ |
  0x10000000 /* NEWUSER */ | 0x20000000 /* NEWPID */ | 0x40000000; /* NEWNET */

/** CLONE_UNTRACED: a child made with it is not attached by its parent's tracer, whatever
 * PTRACE_O_TRACEFORK/CLONE/VFORK say. The launcher traces every process for timeStart and
 * policyFn's exec check (vclock.c); an untraced child's exec would go unchecked. Refused
 * with the namespace flags; nothing outside the kernel's own threads needs it. */
export const CLONE_UNTRACED = 0x00800000;

/** TIOCSTI types into a terminal; TIOCLINUX reaches the console's selection and more;
 * TIOCSETD attaches a line discipline to a terminal, for good (eighth review): N_NULL on an
 * inherited terminal discards every byte typed into it after the sandbox ends (the user's
 * shell no longer reads its keyboard), and where `dev.tty.ldisc_autoload` is 1 (the
 * default of CONFIG_LDISC_AUTOLOAD) any other number loads that discipline's module (n_hdlc,
 * n_gsm, slip, hci_uart...), kernel code a sandbox cannot otherwise reach. The argument is
 * a pointer, so the request is refused whatever the number; reading it (TIOCGETD) stays.
 * TIOCEXCL makes a terminal exclusive, for good (tenth review): no one without
 * CAP_SYS_ADMIN can open it again (EBUSY) until someone clears it, so after the sandbox
 * ended the user's own terminal could no longer be opened (sudo's and ssh's password
 * prompts, /dev/tty, a new window on it); it needs no permission. Clearing it (TIOCNXCL)
 * and reading it (TIOCGEXCL) stay. */
export const IOCTL_DENIED = { TIOCSTI: 0x5412, TIOCLINUX: 0x541c, TIOCSETD: 0x5423, TIOCEXCL: 0x540c } as const;
/** TCXONC with TCOOFF (tcflow) suspends a terminal's output until someone restarts it
 * (found 2026-12-03): on an inherited terminal every later write of the user's shell waits
 * for ever, and so does any write of the supervising process to it (Node writes to a
 * terminal synchronously: a `sandlock run --timeout` that had to print its report never
 * returned). Refused when the argument is TCOOFF (0); the kernel compares the whole 64-bit
 * argument, so no other value suspends output. TCOON, TCIOFF, TCION stay. */
export const IOCTL_TCXONC = { request: 0x540a, TCOOFF: 0 } as const;
/** FS_IOC_GETFSMAP lists the physical extents of the whole filesystem a file lies on (ext4,
 * XFS), used and free, to anyone who can open a file there (the eighteenth review): the
 * host's disk layout. EOPNOTSUPP, what a filesystem without it answers. */
export const IOCTL_GETFSMAP = 0xc0c0583b;
/** The ioctl type of the namespace files (linux/nsfs.h: NS_GET_USERNS, NS_MNT_GET_INFO...). */
export const NSIO = 0xb7;
export const PRCTL_DENIED = { PR_SET_DUMPABLE: 4, PR_SET_SECUREBITS: 28, PR_SET_PTRACER: 0x59616d61 } as const;
const PR_SET_THP_DISABLE = 41;

export const AF = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16 } as const;
export const SOCK = { STREAM: 1, DGRAM: 2, RAW: 3, SEQPACKET: 5, TYPE_MASK: 0xf } as const;
export const IPPROTO = { IP: 0, ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;
export const NETLINK_ROUTE = 0;
export const SOCK_TYPE_FLAGS = { NONBLOCK: 0o4000, CLOEXEC: 0o2000000 } as const;

export interface SeccompSpec {
  /** Syscall names answered with EPERM. */
  blocked: readonly string[];
  /** UDP sockets may be created (a later network rule allows them). */
  allowUdp: boolean;
  /** UDP sockets are made by the supervisor (socket() of one goes to it, and bind() with an
   * address of an IP socket's size): handlers/net.ts udpSocket. */
  udpOnBehalf?: boolean;
  /** bind() with any address longer than an autobind's (sa_family alone) goes to the
   * supervisor, which refuses a unix socket's abstract name (seccomp-net.ts bindBlock). */
  unixBinds?: boolean;
  /** Kernel ping sockets (SOCK_DGRAM + IPPROTO_ICMP[V6]) may be created. */
  allowPing: boolean;
  /** Syscalls answered by the supervisor (SECCOMP_RET_USER_NOTIF). */
  notify: readonly string[];
  /** Refuse the socket options that source-route (destinations are checked). */
  denySourceRouting?: boolean;
  /** setsockopt(SO_REUSEPORT) is EPERM: the sandbox shares the host's network namespace
   * and makes its own binds (seccomp-net.ts). */
  refuseReusePort?: boolean;
  /** The kernel has no Landlock signal scope (ABI < 6): route signals to the supervisor. */
  trapSignals?: boolean;
  /** ioctl requests that change inode flags, routed to the supervisor, and those refused
   * with EOPNOTSUPP (plan/seccomp-meta.ts); set with the filesystem protection. */
  inodeIoctls?: { notify: readonly number[]; unsupported: readonly number[] } | undefined;
  /** clone with CLONE_THREAD goes to the supervisor too (thread cap, memory charge). */
  notifyThreads?: boolean;
  /** Routed to the supervisor whole, whatever argument filter they would otherwise get
   * (a learning run's bind). */
  notifyWhole?: readonly string[];
  /** maxMemory charges kernel buffers: pipes may not grow past their charge (seccomp-kmem.ts)
   * and setsockopt(SO_SNDBUF/SO_RCVBUF) goes to the supervisor, which clamps the size. */
  capBuffers?: boolean;
  /** No supervisor by the policy's choice (supervisor: false): what only it could check is
   * refused here instead (plan/seccomp-unsupervised.ts). */
  unsupervised?: boolean;
  /** supervisor: false with TCP binds restricted (to no port): every listen is EACCES (a listen
   * before any bind would take a port the bind rule never sees; seccomp-unsupervised.ts). */
  refuseListen?: boolean;
  /** The sandbox has its own pid namespace (plan/kernel-view.ts): a pid or process group it
   * names is one of its own, so the calls aimed at other processes need no check. */
  pidNamespace?: boolean;
  /** timeStart: the wall-clock reads and absolute sleeps go to the supervisor (seccomp-clock.ts). */
  virtualClock?: boolean;
  /** protectedFiles by the supervisor: write opens go to it, openat2 is ENOSYS (seccomp-names.ts). */
  names?: boolean;
  /** The filesystem protection is in force, so the guards that run before any route
   * (seccomp-setid.ts): a create whose mode has set-user-ID or set-group-ID is EPERM
   * (openat2's mode is in memory: not checked), renameat2 with RENAME_WHITEOUT is EPERM (the
   * device node it leaves is not Landlock's to check), fcntl(F_NOTIFY) EINVAL (dnotify
   * reports withheld entries). */
  fsGuards?: boolean;
  /** noHugePages: prctl(PR_SET_THP_DISABLE) is EPERM (it could turn them back on). */
  keepThpDisabled?: boolean;
  /** epoll_ctl(EPOLL_CTL_ADD) goes to the supervisor, which counts the sandbox's watches
   * (handlers/epoll.ts); the other ops stay the kernel's. */
  epollAdds?: boolean;
  /** The pipe budget (handlers/pipes.ts) charges every pipe PIPE_PAGES: fcntl(F_SETPIPE_SZ)
   * past that is EPERM (capBuffers does the same, with its lock rule). */
  capPipeSize?: boolean;
  /** shmctl, msgctl and semctl with IPC_SET are EPERM: the supervisor removes the sandbox's
   * SysV objects at the end, which it could not once their owner was changed. */
  refuseIpcSet?: boolean;
}

/** IPC_SET, and the IPC_64 flag glibc adds to every ctl command. */
export const IPC_SET = 1;
export const IPC_64 = 0x100;

/** epoll_ctl's op that makes a watch (its op is an int: the low half of the register). */
export const EPOLL_CTL_ADD = 1;

export const CLONE_THREAD = 0x00010000;
/** A clone that shares its parent's descriptor table. A thread made without it has a table
 * no /proc/<pid>/fd shows (only /proc/<pid>/task/<tid>/fd): the supervisor's looks at the
 * sandbox's descriptors (memory-backed files, socket queues, terminals, pipes held) read
 * each process's table once, so such a thread could hold anything out of their sight (the
 * fifteenth review: 144 MiB of memfds and 111 MiB of socket buffers under 64M). Refused
 * (EINVAL); every threads library shares the table, and unshare is refused whole. */
export const CLONE_FILES = 0x00000400;

function nr(name: string): number {
  const n = SYSCALLS[name];
  if (n === undefined) throw new Error(`seccomp plan: unknown syscall ${name}`);
  return n;
}

/** Emits the code for one syscall into the program; `p` prefixes its labels. */
type Handler = (b: BpfAssembler, p: string) => void;

/**
 * Layout: architecture check, x32 refusal, then a binary search over the syscall number
 * (JGE splits) down to small leaves of `jeq nr; <handler>` where every handler returns.
 * A holds the syscall number everywhere in the tree. The tree keeps each path around
 * twenty instructions, which matters twice: per trapped call, and when the kernel builds
 * its seccomp action cache by emulating the filter for every syscall number at load time.
 * Syscalls with no handler are allowed, and because that verdict reads no argument, the
 * action cache lets them bypass the filter entirely afterwards.
 */
export function buildSeccompProgram(spec: SeccompSpec): Insn[] {
  const EPERM = Ret.errno(Errno.EPERM);
  const handlers = new Map<number, Handler>();

  // clone: flags are the first argument; namespace creation and CLONE_UNTRACED are
  // refused. Only the low half matters: every CLONE_* flag of clone(2) lives in 32 bits.
  // When the supervisor counts processes, a clone that makes one (no CLONE_THREAD) goes to
  // it; with notifyThreads, a clone that makes a thread does too (capped and charged).
  const notify = new Set(spec.notify);
  const procs = notify.has("clone");
  const threads = spec.notifyThreads === true;
  handlers.set(nr("clone"), (b, p) => {
    b.load(SeccompData.argLow(0)).jset(CLONE_NAMESPACE_FLAGS | CLONE_UNTRACED, 0, 1).ret(EPERM);
    // A thread with a descriptor table of its own (CLONE_FILES above): EINVAL.
    b.jset(CLONE_THREAD, 0, `${p}table`).jset(CLONE_FILES, `${p}table`, 0).ret(Ret.errno(Errno.EINVAL));
    b.label(`${p}table`);
    if (procs && threads) b.ret(Ret.USER_NOTIF);
    else if (procs) b.jset(CLONE_THREAD, 1, 0).ret(Ret.USER_NOTIF);
    else if (threads) b.jset(CLONE_THREAD, 0, 1).ret(Ret.USER_NOTIF);
    b.ret(Ret.ALLOW);
  });
  for (const name of notify) {
    if (name !== "clone") handlers.set(nr(name), (b) => b.ret(Ret.USER_NOTIF));
  }
  // Calls aimed at other processes (seccomp-reach.ts). A syscall another concern already
  // routes whole stays routed whole: the supervisor checks its target first either way.
  for (const [name, emit] of reachFilters(notify.size > 0, spec.trapSignals === true)) {
    if (!notify.has(name) && spec.pidNamespace !== true) handlers.set(nr(name), emit);
  }
  // clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes libc fall
  // back to clone(2), where the flags are visible.
  handlers.set(nr("clone3"), (b) => b.ret(Ret.errno(Errno.ENOSYS)));
  // ioctl: the kernel truncates the request to 32 bits, so comparing the low half cannot
  // be bypassed by setting high bits. Interface requests: see interfaceIoctls.
  // Inode flag requests: see seccomp-meta.ts.
  handlers.set(nr("ioctl"), (b, p) => {
    b.load(SeccompData.argLow(1))
      .jeq(IOCTL_DENIED.TIOCSTI, `${p}deny`, 0)
      .jeq(IOCTL_DENIED.TIOCLINUX, `${p}deny`, 0)
      .jeq(IOCTL_DENIED.TIOCSETD, `${p}deny`, 0)
      .jeq(IOCTL_DENIED.TIOCEXCL, `${p}deny`, 0)
      .jeq(IOCTL_TCXONC.request, `${p}tcxonc`, 0)
      .jeq(IOCTL_GETFSMAP, `${p}nofsmap`, 0);
    consoleIoctls(b, p);
    const route = notify.size > 0 ? (spec.inodeIoctls?.notify ?? []) : [];
    const refuse = spec.inodeIoctls?.unsupported ?? [];
    // Without a supervisor nothing can tell which file the descriptor names: EPERM.
    const forbid = spec.unsupervised === true ? (spec.inodeIoctls?.notify ?? []) : [];
    for (const q of route) b.jeq(q, `${p}inode`, 0);
    for (const q of refuse) b.jeq(q, `${p}unsupported`, 0);
    for (const q of forbid) b.jeq(q, `${p}deny`, 0);
    interfaceIoctls(b, p, notify.has("ioctl"), spec.unsupervised === true);
    // The namespace ioctls (type 0xb7, linux/nsfs.h) on a /proc/<pid>/ns file: under the
    // supervised view they describe the host's namespaces (NS_MNT_GET_INFO: the host's
    // mount count and namespace id; the eighteenth review). EPERM, what the kernel answers
    // the ones that would leave a namespace the caller does not own.
    b.load(SeccompData.argLow(1)).and(0xff00).jeq(NSIO << 8, `${p}deny`, 0);
    b.ret(Ret.ALLOW);
    b.label(`${p}tcxonc`).load(SeccompData.argLow(2)).jeq(IOCTL_TCXONC.TCOOFF, `${p}deny`, 0).ret(Ret.ALLOW);
    b.label(`${p}deny`).ret(EPERM);
    b.label(`${p}nofsmap`).ret(Ret.errno(Errno.EOPNOTSUPP));
    if (route.length > 0) b.label(`${p}inode`).ret(Ret.USER_NOTIF);
    if (refuse.length > 0) b.label(`${p}unsupported`).ret(Ret.errno(Errno.EOPNOTSUPP));
  });
  // prctl: the option is an int. Staying dumpable keeps the supervisor able to inspect the
  // sandbox; securebits and ptracer would loosen what others may do to it.
  // noHugePages: PR_SET_THP_DISABLE too, which would turn transparent huge pages back on
  // (the eighteenth review).
  handlers.set(nr("prctl"), (b, p) => {
    b.load(SeccompData.argLow(0))
      .jeq(PRCTL_DENIED.PR_SET_DUMPABLE, `${p}deny`, 0)
      .jeq(PRCTL_DENIED.PR_SET_SECUREBITS, `${p}deny`, 0)
      .jeq(PRCTL_DENIED.PR_SET_PTRACER, `${p}deny`, 0);
    if (spec.keepThpDisabled === true) b.jeq(PR_SET_THP_DISABLE, `${p}deny`, 0);
    b.ret(Ret.ALLOW);
    b.label(`${p}deny`).ret(EPERM);
  });
  handlers.set(nr("socket"), (b, p) => socketBlock(b, p, spec, notify.has("socket")));
  if (spec.refuseIpcSet === true) {
    for (const [name, cmdArg] of [["shmctl", 1], ["msgctl", 1], ["semctl", 2]] as const) {
      handlers.set(nr(name), (b) => {
        b.load(SeccompData.argLow(cmdArg)).and(~IPC_64 >>> 0).jeq(IPC_SET, 0, 1).ret(EPERM);
        b.ret(Ret.ALLOW);
      });
    }
  }
  if (spec.epollAdds === true && notify.size > 0) {
    handlers.set(nr("epoll_ctl"), (b) => {
      b.load(SeccompData.argLow(1)).jeq(EPOLL_CTL_ADD, 0, 1).ret(Ret.USER_NOTIF);
      b.ret(Ret.ALLOW);
    });
  }
  if (spec.capBuffers === true) handlers.set(nr("fcntl"), fcntlBlock);
  else if (spec.capPipeSize === true) handlers.set(nr("fcntl"), pipeSizeBlock);
  // sendto, sendmsg, sendmmsg, bind, setsockopt: see seccomp-net.ts.
  for (const [name, h] of netArgumentFilters(spec, notify)) handlers.set(nr(name), h);
  for (const name of spec.notifyWhole ?? []) handlers.set(nr(name), (b) => b.ret(Ret.USER_NOTIF));
  if (spec.unsupervised === true) for (const [name, h] of unsupervisedFilters(spec)) handlers.set(nr(name), h);
  if (spec.virtualClock === true) for (const [name, h] of clockFilters()) handlers.set(nr(name), h);
  if (spec.names === true) for (const [name, h] of nameFilters(notify)) handlers.set(nr(name), h);
  // Before any route of the create calls, wrapping it: the mode's check comes first.
  if (spec.fsGuards === true) fsGuardFilters(nr, handlers);
  // Blocked names come last: an extraDenySyscalls entry overrides an argument filter.
  for (const name of spec.blocked) handlers.set(nr(name), (b) => b.ret(EPERM));

  const a = new BpfAssembler();
  a.load(SeccompData.ARCH).jeq(AUDIT_ARCH_X86_64, 1, 0).ret(Ret.KILL_PROCESS);
  a.load(SeccompData.NR);
  // x32 numbers reach the same kernel entry points through a second table; refusing them
  // keeps every check below meaningful.
  a.jge(X32_SYSCALL_BIT, 0, 1).ret(EPERM);
  // A syscall newer than the table was never reviewed (Linux 6.8's listmount listed the
  // host's mounts): ENOSYS, as from an older kernel, which libc knows how to fall back from.
  a.jge(LAST_SYSCALL + 1, 0, 1).ret(Ret.errno(Errno.ENOSYS));
  const entries = [...handlers].sort((x, y) => x[0] - y[0]);
  let labels = 0;
  const tree = (list: [number, Handler][]): void => {
    if (list.length <= 4) {
      for (const [n, h] of list) {
        const p = `h${labels++}.`;
        a.jeq(n, 0, `${p}next`);
        h(a, p);
        a.label(`${p}next`);
      }
      a.ret(Ret.ALLOW);
      return;
    }
    const mid = list.length >> 1;
    const right = `r${labels++}`;
    // jge + ja: the left subtree may be longer than a conditional jump can skip.
    a.jge(list[mid]![0], 0, 1).ja(right);
    tree(list.slice(0, mid));
    a.label(right);
    tree(list.slice(mid));
  };
  tree(entries);
  return a.assemble();
}

/**
 * socket(domain, type, protocol): AF_UNIX always; AF_NETLINK only for NETLINK_ROUTE
 * (interface and address listing), which the supervisor answers with an emulated socket
 * when it runs (handlers/netlink-socket.ts); AF_INET/AF_INET6 only as TCP streams unless
 * a rule allows UDP or ping; raw sockets never. Every other family gets EAFNOSUPPORT.
 * Other protocols on a stream socket (MPTCP, SCTP) are refused: Landlock's port rules
 * are written for TCP. All three arguments are ints in registers.
 */
function socketBlock(b: BpfAssembler, p: string, spec: SeccompSpec, emulateNetlink: boolean): void {
  const EPERM = Ret.errno(Errno.EPERM);
  // supervisor: false: a unix socket could connect to any named socket on the host (only
  // the supervisor checks the path against the writable grants), so none can be made.
  b.load(SeccompData.argLow(0))
    .jeq(AF.UNIX, spec.unsupervised === true ? `${p}deny` : `${p}allow`, 0)
    .jeq(AF.INET, `${p}inet`, 0)
    .jeq(AF.INET6, `${p}inet`, 0)
    .jeq(AF.NETLINK, 0, `${p}nofamily`)
    .load(SeccompData.argLow(2))
    // supervisor: false: a real NETLINK_ROUTE socket would list the host's interfaces.
    .jeq(NETLINK_ROUTE, emulateNetlink ? `${p}notify` : spec.unsupervised === true ? `${p}nofamily` : `${p}allow`, `${p}nofamily`);
  if (emulateNetlink) b.label(`${p}notify`).ret(Ret.USER_NOTIF);
  b.label(`${p}inet`).load(SeccompData.argLow(1)).and(SOCK.TYPE_MASK);
  b.jeq(SOCK.STREAM, 0, `${p}notstream`)
    .load(SeccompData.argLow(2))
    .jeq(IPPROTO.IP, `${p}allow`, 0)
    .jeq(IPPROTO.TCP, `${p}allow`, `${p}deny`);
  b.label(`${p}notstream`).jeq(SOCK.DGRAM, 0, `${p}deny`);
  b.load(SeccompData.argLow(2));
  const udp = spec.udpOnBehalf === true ? `${p}udp` : `${p}allow`;
  if (spec.allowUdp) b.jeq(IPPROTO.IP, udp, 0).jeq(IPPROTO.UDP, udp, 0);
  if (spec.allowPing) b.jeq(IPPROTO.ICMP, `${p}allow`, 0).jeq(IPPROTO.ICMPV6, `${p}allow`, 0);
  b.label(`${p}deny`).ret(EPERM);
  if (spec.allowUdp && spec.udpOnBehalf === true) b.label(`${p}udp`).ret(Ret.USER_NOTIF);
  b.label(`${p}nofamily`).ret(Ret.errno(Errno.EAFNOSUPPORT));
  b.label(`${p}allow`).ret(Ret.ALLOW);
}
