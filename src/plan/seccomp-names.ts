// protectedFiles by the supervisor: the calls that make, move or remove names go to it
// whole; open and openat only when their flags register says they may write or create;
// openat2, whose flags are in memory, is refused with ENOSYS (handlers/names*.ts).

import { BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";
import type { PathGrant } from "./landlock.js";

/** What the name supervisor needs: the writable grants (after splits). */
export interface NameSupervision {
  readonly writable: readonly PathGrant[];
  /** Every grant (policyFn's file events: a read open performed by the supervisor must be
   * one Landlock would allow, proved the same way beneath any grant). */
  readonly grants: readonly PathGrant[];
  /** protectedFiles: protected positions are refused (without it: only policyFn's events). */
  readonly protect: boolean;
  /** policyFnFiles: every open, openat and creat is an event, performed by the supervisor. */
  readonly events: boolean;
  /** The sandbox has a mount namespace of its own (workdir, fsDenied, the protected binds):
   * paths are resolved and proved from its root (see MetaSupervision.ownMounts). */
  readonly ownMounts?: boolean;
}

/** Routed whole: each names a path in memory, so the supervisor performs every one. */
export const NAME_SYSCALLS = [
  "mkdir", "mkdirat", "mknod", "mknodat", "symlink", "symlinkat", "link", "linkat",
  "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "truncate", "creat",
] as const;

/** O_WRONLY | O_RDWR (both access bits: O_ACCMODE 3 is a write mode to the kernel too),
 * O_CREAT, O_TRUNC and __O_TMPFILE: an open with none of them neither writes nor creates. */
export const WRITE_OPEN_FLAGS = 0o3 | 0o100 | 0o1000 | 0o20000000;

const ENOSYS = 38;

/**
 * Filters for open (flags: argument 1) and openat (argument 2): to the supervisor when
 * a write flag is set, else allowed without a round trip. The flags are an int in a
 * register, which the kernel copied at entry and no other thread can change: the kernel
 * truncates them to 32 bits, so the low half is the whole value. A syscall another concern
 * already routes whole (the /proc view, a learning run) keeps its route; its handler
 * passes read-only opens on. openat2 gets ENOSYS: its flags are in memory.
 */
export function nameFilters(notify: ReadonlySet<string>): [string, (b: BpfAssembler) => void][] {
  const out: [string, (b: BpfAssembler) => void][] = [];
  for (const [name, arg] of [["open", 1], ["openat", 2]] as const) {
    if (notify.has(name)) continue;
    out.push([name, (b) => { b.load(SeccompData.argLow(arg)).jset(WRITE_OPEN_FLAGS, 0, 1).ret(Ret.USER_NOTIF).ret(Ret.ALLOW); }]);
  }
  out.push(["openat2", (b) => { b.ret(Ret.errno(ENOSYS)); }]);
  return out;
}
