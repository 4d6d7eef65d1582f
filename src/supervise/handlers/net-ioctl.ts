// Interface ioctls (SIOCGIFCONF, SIOCGIFNAME, SIOCGIFINDEX, SIOCGIFFLAGS...): performed by
// the supervisor on a duplicate of the caller's descriptor with the struct it copied, for
// the interfaces of the sandbox's view only; a hidden interface does not exist (ENODEV).

import { closeSync } from "node:fs";
import { native } from "../../confine/native.js";
import type { InterfaceScope } from "../../plan/interface-view.js";
import { SIOC } from "../../plan/seccomp-net.js";
import { deny, returnValue, type Action } from "../action.js";
import type { ChildMemory } from "../child-memory.js";
import { baseName, visibleInterfaces, type InterfaceView } from "../interface-view.js";
import type { Notification } from "../notification.js";
import { childFd } from "./net-socket.js";

const E = { EPERM: 1, EFAULT: 14, ENODEV: 19 } as const;
const IFREQ_BYTES = 40;
const IFNAMSIZ = 16;
/** struct ifconf: int ifc_len, 4 bytes of padding, then the buffer pointer. */
const IFCONF_BYTES = 16;

const ifName = (req: Buffer): string => req.subarray(0, IFNAMSIZ).toString("latin1").split("\0")[0]!;

/** Whether the ifreq names (or, for SIOCGIFNAME, indexes) a visible interface. */
function visible(request: number, req: Buffer, view: InterfaceView): boolean {
  if (request === SIOC.SIOCGIFNAME) return view.byIndex.has(req.readInt32LE(IFNAMSIZ));
  return view.names.has(baseName(ifName(req)));
}

/**
 * The ifreq entries of SIOCGIFCONF (one per IPv4 address, named by the address label,
 * "eth0:1" for an alias) that belong to visible interfaces.
 */
function visibleEntries(all: Buffer, view: InterfaceView): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + IFREQ_BYTES <= all.length; at += IFREQ_BYTES) {
    const entry = all.subarray(at, at + IFREQ_BYTES);
    if (view.names.has(baseName(ifName(entry)))) out.push(entry);
  }
  return out;
}

/**
 * ioctl(fd, request, arg) for the requests seccomp-net.ts routes here. Race-free: the
 * struct is copied once, checked, and the very copy is what the supervisor passes to the
 * kernel on its own duplicate of the descriptor; the result is written back while the
 * caller is still blocked in the call. None of these structs holds a pointer the kernel
 * would follow, except ifconf's buffer, which only the supervisor fills.
 */
export function interfaceIoctl(n: Notification, mem: ChildMemory, scope: InterfaceScope): Action {
  const request = n.argU32(1);
  const arg = n.argAddr(2);
  const isConf = request === SIOC.SIOCGIFCONF;
  const copy = mem.read(n, arg, isConf ? IFCONF_BYTES : IFREQ_BYTES);
  if (copy === null) return deny(E.EFAULT);
  const dup = childFd(n.pid, n.argI32(0));
  if (dup < 0) return deny(-dup);
  try {
    if (!mem.stillValid(n)) return deny(E.EPERM);
    const view = visibleInterfaces(scope);
    const nat = native();
    if (isConf) {
      const all = nat.ifConf(dup);
      if (typeof all === "number") return deny(-all);
      const entries = visibleEntries(all, view);
      const room = Math.max(copy.readInt32LE(0), 0);
      const buf = Number(copy.readBigUInt64LE(8));
      // A NULL buffer asks for the length needed; otherwise as many whole entries as fit.
      const fit = buf === 0 ? entries.length : Math.min(entries.length, Math.floor(room / IFREQ_BYTES));
      const len = Buffer.alloc(4);
      len.writeInt32LE(fit * IFREQ_BYTES, 0);
      if (!mem.stillValid(n)) return deny(E.EPERM);
      if (buf !== 0 && fit > 0 && !mem.write(n, buf, Buffer.concat(entries.slice(0, fit)))) return deny(E.EFAULT);
      return mem.write(n, arg, len) ? returnValue(0) : deny(E.EFAULT);
    }
    // The kernel reads the name as at most IFNAMSIZ-1 bytes.
    copy[IFNAMSIZ - 1] = 0;
    if (!visible(request, copy, view)) return deny(E.ENODEV);
    const rc = nat.ifIoctl(dup, request, copy);
    if (rc < 0) return deny(-rc);
    if (!mem.stillValid(n)) return deny(E.EPERM);
    return mem.write(n, arg, copy) ? returnValue(0) : deny(E.EFAULT);
  } finally {
    closeSync(dup);
  }
}
