// capget(2) with a header (second review of issue 9): its pid is in the caller's memory,
// where a filter cannot see it, and the kernel answered for any process of the host (its
// capability sets, and by ESRCH whether the pid exists). The supervisor answers instead:
// the caller's own thread and the sandbox's processes are read for it, anything else EPERM.

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { deny, returnValue, type Action } from "../action.js";
import type { Handler, SupervisorContext } from "../handler.js";
import type { Members } from "../members.js";
import type { Notification } from "../notification.js";
import { AT_FDCWD, O, RESOLVE } from "../paths.js";
import { statusAt } from "./procfs-open.js";

const EPERM = 1;
const ESRCH = 3;
const EFAULT = 14;
const EINVAL = 22;
const BENEATH_ONLY = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;

/** linux/capability.h: the versions and how many 32-bit words of each set they carry. */
export const CAP_VERSION = { V1: 0x19980330, V2: 0x20071026, V3: 0x20080522 } as const;
const WORDS: ReadonlyMap<number, number> = new Map([[CAP_VERSION.V1, 1], [CAP_VERSION.V2, 2], [CAP_VERSION.V3, 2]]);
/** struct __user_cap_data_struct: effective, permitted, inheritable (u32 each). */
const DATA_BYTES = 12;

/**
 * Race-free by construction: each field of the header is copied once (then ID_VALID, so
 * the copy is this call's), the supervisor runs capget itself with the copied version and
 * pid, and writes the sets back while the caller is still blocked; nothing the caller rewrites afterwards
 * is ever read again, so no answer ends in CONTINUE. The kernel's own checks come first,
 * in its order: an unknown version is answered with the preferred one written back
 * (EINVAL, or 0 when data is NULL), a NULL data pointer with 0, a negative pid with EINVAL.
 * Then the target: pid 0 or the caller's own thread id is the caller; any other thread or
 * process must be the sandbox's, checked on its /proc directory opened first (a directory
 * fd stays bound to its process): after the call the pinned process must still exist, so
 * the pid capget looked up was still its own and not a newcomer's. Outside: EPERM, whether
 * or not the pid exists.
 */
export function capgetHandler(ctx: SupervisorContext, members: Members): Handler {
  return (n) => {
    const hdrAddr = n.argAddr(0);
    const dataAddr = n.argAddr(1);
    // The kernel reads the version, and the pid only when it needs it: so do we.
    const v = ctx.memory.read(n, hdrAddr, 4);
    if (v === null || !ctx.memory.stillValid(n)) return deny(EFAULT);
    const words = WORDS.get(v.readUInt32LE(0));
    if (words === undefined) {
      const preferred = Buffer.alloc(4);
      preferred.writeUInt32LE(CAP_VERSION.V3);
      if (!ctx.memory.write(n, hdrAddr, preferred)) return deny(EFAULT);
      return dataAddr === 0 ? returnValue(0) : deny(EINVAL);
    }
    if (dataAddr === 0) return returnValue(0);
    const p = ctx.memory.read(n, hdrAddr + 4, 4);
    if (p === null || !ctx.memory.stillValid(n)) return deny(EFAULT);
    const version = v.readUInt32LE(0);
    const pid = p.readInt32LE(0);
    if (pid < 0) return deny(EINVAL);
    const target = pid === 0 ? n.pid : pid;
    return target === n.pid ? perform(n, ctx, version, target, words, dataAddr, -1) : other(n, ctx, members, version, target, words, dataAddr);
  };
}

function other(n: Notification, ctx: SupervisorContext, members: Members, version: number, target: number, words: number, dataAddr: number): Action {
  const dirfd = native().openat2(AT_FDCWD, `/proc/${target}`, O.PATH | O.DIRECTORY | O.CLOEXEC, 0, RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS);
  if (dirfd < 0) return deny(EPERM); // no such process: not the sandbox's either
  try {
    const status = statusAt(dirfd);
    if (status === null || !members.hasParent(status.ppid)) return deny(EPERM);
    return perform(n, ctx, version, target, words, dataAddr, dirfd);
  } finally {
    closeSync(dirfd);
  }
}

/** capget on target, the sets written to the caller; dirfd >= 0: target's pinned /proc
 * directory, which must still name a live (or unreaped) process afterwards. */
function perform(n: Notification, ctx: SupervisorContext, version: number, target: number, words: number, dataAddr: number, dirfd: number): Action {
  const nat = native();
  const data = Buffer.alloc(2 * DATA_BYTES);
  const rc = nat.capget(version, target, data);
  if (rc < 0) return deny(-rc);
  if (dirfd >= 0) {
    const alive = nat.openat2(dirfd, "stat", O.CLOEXEC, 0, BENEATH_ONLY);
    if (alive < 0) return deny(ESRCH); // it died meanwhile: the pid may be another's now
    closeSync(alive);
  }
  // Written only while the caller is still blocked in this call (its thread id not reused).
  if (!ctx.memory.stillValid(n) || !ctx.memory.write(n, dataAddr, data.subarray(0, words * DATA_BYTES))) return deny(EFAULT);
  return returnValue(0);
}
