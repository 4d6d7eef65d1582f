// Ancillary data of a unix-socket send the supervisor performs: descriptors passed with
// SCM_RIGHTS are the caller's numbers, so each is duplicated out of the caller's table and
// the copy carries the supervisor's numbers instead. SCM_CREDENTIALS is refused.

import { closeSync } from "node:fs";
import { childFd } from "./net-socket.js";

const E = { EPERM: 1, EBADF: 9, EINVAL: 22 } as const;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SCM_CREDENTIALS = 2;
/** SCM_MAX_FD: the kernel refuses more descriptors in one message, counted over all its
 * SCM_RIGHTS headers together (scm_fp_copy). */
export const SCM_MAX_FD = 253;
const CMSG_HDR = 16;

export interface Rights {
  /** The control data to send: the caller's, with its descriptor numbers replaced. */
  readonly control: Buffer;
  /** The supervisor's duplicates, to close once the send is done. */
  readonly fds: number[];
}

export function closeAll(fds: readonly number[]): void {
  for (const fd of fds) closeSync(fd);
}

/**
 * Translates the control data of a unix send made by thread `tid`, or gives an errno:
 * EBADF for a number that is not open (as the kernel), EPERM for SCM_CREDENTIALS.
 *
 * SCM_CREDENTIALS is refused because the send is performed by the supervisor: the kernel
 * checks the claimed pid, uid and gid against the *sender's* privileges, and a supervisor
 * running as root may claim anything, so the sandbox could forge any peer identity.
 * Receivers that ask for credentials (SO_PASSCRED) or read SO_PEERCRED see the
 * supervisor's pid (the same uid and gid as the sandbox) for sends and connects it
 * performs; see docs/network.md.
 *
 * `refuse` may turn a descriptor away (EPERM); it looks at the duplicate, which is what
 * would be sent.
 *
 * Race-free: the numbers come from the copy of the control data, and each is resolved
 * once, by pidfd_getfd, to the file it named at that moment; the send carries those files.
 */
export function translateRights(tid: number, control: Buffer, refuse: (dup: number) => boolean = () => false): Rights | number {
  const out = Buffer.from(control);
  const fds: number[] = [];
  const fail = (errno: number): number => {
    closeAll(fds);
    return errno;
  };
  let total = 0;
  for (let at = 0; control.length - at >= CMSG_HDR; ) {
    const len = control.readBigUInt64LE(at);
    if (len < BigInt(CMSG_HDR) || len > BigInt(control.length - at)) return fail(E.EINVAL);
    const level = control.readInt32LE(at + 8);
    const type = control.readInt32LE(at + 12);
    if (level === SOL_SOCKET && type === SCM_CREDENTIALS) return fail(E.EPERM);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      const count = Math.floor((Number(len) - CMSG_HDR) / 4);
      // Checked before any duplicate is taken, for the whole message: one send never makes
      // the supervisor hold more than SCM_MAX_FD duplicates (a 64 KiB control of many
      // SCM_RIGHTS headers would otherwise name thousands).
      total += count;
      if (total > SCM_MAX_FD) return fail(E.EINVAL);
      for (let i = 0; i < count; i++) {
        const dup = childFd(tid, control.readInt32LE(at + CMSG_HDR + 4 * i));
        if (dup < 0) return fail(E.EBADF);
        fds.push(dup);
        let refused: boolean;
        try {
          refused = refuse(dup);
        } catch (e) {
          closeAll(fds);
          throw e;
        }
        if (refused) return fail(E.EPERM);
        out.writeInt32LE(dup, at + CMSG_HDR + 4 * i);
      }
    }
    // Other levels are ignored by unix sockets; other SOL_SOCKET types the kernel refuses.
    at += (Number(len) + 7) & ~7;
  }
  return { control: out, fds };
}
