// supervisor: false: the filters that stand in for the supervisor's checks. What it would
// decide by reading the child's memory or resolving a path cannot be decided from
// registers, so it is refused outright (socket families and inode ioctls: seccomp.ts).

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";
import { META_SYSCALLS } from "./seccomp-meta.js";
import type { SeccompSpec } from "./seccomp.js";

const EPERM = 1;
const EACCES = 13;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_TYPE_MASK = 0xf;

type Emit = (b: BpfAssembler, p: string) => void;

/** The times argument of each call that sets file times: NULL means "now". */
const TIMES_ARG: Readonly<Record<string, number>> = { utime: 1, utimes: 1, futimesat: 2, utimensat: 2 };

/**
 * socketpair(AF_UNIX, SOCK_DGRAM): a datagram socket, even a connected one, sends to any
 * named socket given in sendto's address (unix_dgram_sendmsg looks it up), and only the
 * supervisor reads that address. Stream sockets refuse an address (EISCONN/EOPNOTSUPP)
 * and seqpacket ones ignore it, so those pairs stay. The arguments are ints in registers.
 *
 * File metadata: Landlock has no right for it, and only the supervisor can tell whether
 * the path or descriptor lies beneath a writable grant. Every change is refused (EPERM,
 * what a file one does not own gives), except setting a file's times to now (a NULL times
 * pointer, a register): it reveals and changes nothing but "touched", `touch` and make
 * need it, and the kernel still requires write access or ownership. Only while the
 * filesystem protection is in force (spec.inodeIoctls is set then): without it nothing
 * bounds writes either.
 */
export function unsupervisedFilters(spec: SeccompSpec): Map<string, Emit> {
  const out = new Map<string, Emit>();
  out.set("socketpair", (b, p) => {
    b.load(SeccompData.argLow(0)).jeq(AF_UNIX, 0, `${p}allow`);
    b.load(SeccompData.argLow(1)).and(SOCK_TYPE_MASK).jeq(SOCK_DGRAM, 0, `${p}allow`).ret(Ret.errno(EPERM));
    b.label(`${p}allow`).ret(Ret.ALLOW);
  });
  // listen: on a TCP socket never bound the kernel binds it (inet_autobind) to a port of
  // its choosing, past Landlock's bind rule, and serves whoever connects (the eighteenth
  // review). The supervisor refuses only that listen; a filter cannot tell the socket, so
  // where no port may be bound every listen is refused (what a bind would get). AF_UNIX
  // sockets cannot be made here anyway (socket is refused for them), and a unix pair's end
  // cannot listen.
  if (spec.refuseListen === true) out.set("listen", (b) => b.ret(Ret.errno(EACCES)));
  if (spec.inodeIoctls === undefined) return out;
  // inotify_add_watch: Landlock has no right for a watch, and only the supervisor can prove
  // the path beneath a grant (handlers/watches.ts): a watch on a directory outside the
  // grants names every file the host makes and opens there. Refused as a read outside the
  // grants is (EACCES); dnotify is EINVAL in every policy with the protection.
  out.set("inotify_add_watch", (b) => b.ret(Ret.errno(EACCES)));
  for (const name of META_SYSCALLS) {
    const times = TIMES_ARG[name];
    if (times === undefined) {
      out.set(name, (b) => b.ret(Ret.errno(EPERM)));
      continue;
    }
    out.set(name, (b, p) => {
      b.load(SeccompData.argLow(times)).jeq(0, 0, `${p}deny`).load(SeccompData.argHigh(times)).jeq(0, 0, `${p}deny`).ret(Ret.ALLOW);
      b.label(`${p}deny`).ret(Ret.errno(EPERM));
    });
  }
  return out;
}
