// maxMemory: socket buffer sizes. setsockopt(SO_SNDBUF/SO_RCVBUF) may raise a socket's
// buffer to twice net.core.wmem_max (8 MiB here): measured, 784 MiB queued in 100 unix
// socket pairs under a 64 MiB cap. Under a memory cap the supervisor performs the call
// itself with the size clamped to the host's default, so no socket of the sandbox holds
// more than a new socket may; kernel-buffers.ts charges what they hold.

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import { BUFFER_OPTIONS } from "../../plan/seccomp-net.js";
import { deny, returnValue } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { childFd } from "./net-socket.js";
import { readProcText } from "../../kernel/proc-text.js";

const SOL_SOCKET = 1;
const EINVAL = 22;
const EFAULT = 14;
const EPERM = 1;

/** A sysctl's integer value, or `fallback` when it cannot be read. */
export function sysctlInt(path: string, fallback: number): number {
  try {
    const v = Number.parseInt(readProcText(path), 10);
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

/** The send buffer a new socket gets (net.core.wmem_default): the most a sandboxed socket
 * may have under maxMemory, and the bound kernel-buffers.ts assumes for a sender it can no
 * longer see. */
export function defaultSendBuffer(): number {
  return sysctlInt("/proc/sys/net/core/wmem_default", 212992);
}

/**
 * The kernel sets a buffer to twice the value asked for (bookkeeping overhead), at most
 * twice wmem_max/rmem_max; a negative value, taken as unsigned, is huge. So a value is
 * clamped to half the default: the socket's buffer can at most stay what it was made with.
 *
 * Race-free: the value is copied out of the caller's memory once, the call is re-checked
 * (ID_VALID) after the copy, and the option is set on the supervisor's duplicate of the
 * descriptor taken once: a sibling rewriting the value or dup2()-ing another descriptor
 * onto the number changes nothing. The option needs no privilege, so performing it with
 * the supervisor's credentials gives the sandbox nothing (SO_SNDBUFFORCE and
 * SO_RCVBUFFORCE, which do, are never trapped: the sandbox holds no CAP_NET_ADMIN).
 */
export function socketBufferHandlers(ctx: SupervisorContext): HandlerTable {
  const caps = new Map<number, number>([
    [BUFFER_OPTIONS.SO_SNDBUF, Math.floor(defaultSendBuffer() / 2)],
    [BUFFER_OPTIONS.SO_RCVBUF, Math.floor(sysctlInt("/proc/sys/net/core/rmem_default", 212992) / 2)],
  ]);
  return {
    setsockopt: (n) => {
      if (n.argI32(1) !== SOL_SOCKET) return undefined;
      const name = n.argI32(2);
      const max = caps.get(name);
      if (max === undefined) return undefined;
      if (n.argU32(4) < 4) return deny(EINVAL); // optlen: the kernel wants an int
      const dup = childFd(n.pid, n.argI32(0));
      if (dup < 0) return deny(-dup);
      try {
        const bytes = ctx.memory.read(n, n.argAddr(3), 4);
        if (bytes === null) return deny(EFAULT);
        if (!ctx.memory.stillValid(n)) return deny(EPERM);
        const asked = bytes.readInt32LE(0);
        const rc = native().setsockoptInt(dup, SOL_SOCKET, name, asked < 0 || asked > max ? max : asked);
        return rc < 0 ? deny(-rc) : returnValue(0);
      } finally {
        closeSync(dup);
      }
    },
  };
}
