// SysV IPC objects of a sandbox with the sysv_ipc group lifted, in the supervised view
// (the kernel view has an IPC namespace of its own, which goes with it). Such an object
// lives in the host's IPC namespace, in no process: a sandbox made all 4,096 segments the
// host allows (kernel.shmmni, for every user), and they stayed after the run with its
// message queues and semaphore sets (the twentieth review).
//
// Every shmget, msgget and semget goes to the supervisor (all their arguments are
// registers). One that may create (IPC_PRIVATE, or IPC_CREAT) is made by the supervisor
// itself, with the caller's effective capabilities (native ipcSyscallAs: a root
// supervisor lends nothing, SHM_HUGETLB included), as IPC_CREAT|IPC_EXCL: what it creates
// is the sandbox's for certain, recorded, and removed (IPC_RMID) when the supervisor
// closes. An existing object (EEXIST without the caller's IPC_EXCL) is got by the supervisor
// too, without IPC_CREAT, never CONTINUEd: a racing thread's IPC_RMID would otherwise let
// the kernel create a new one nobody records. A get that cannot create is the kernel's
// (CONTINUE: it creates nothing). A sandbox holds at most a quarter of the host's limit of
// each kind (kernel.shmmni, msgmni, the fourth of kernel.sem): ENOSPC past it, what the
// kernel answers at its own. IPC_SET is refused in the filter (plan/seccomp.ts): an owner
// may give its object to another uid, which the supervisor could then not remove.

import { readFileSync } from "node:fs";
import { native } from "../../confine/native.js";
import { SYSCALLS } from "../../kernel/syscalls.js";
import { deny, returnValue, CONTINUE, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import type { Notification } from "../notification.js";
import { CallerCredentials } from "./fs-meta.js";
import { tgidOf } from "../targets.js";

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
const EEXIST = 17;
const ENOENT = 2;
const ENOSPC = 28;
const EPERM = 1;
const EAGAIN = 11;

export type SysvKind = "shm" | "msg" | "sem";
const KINDS: readonly SysvKind[] = ["shm", "msg", "sem"];
const KIND_NUMBER = { shm: 0, msg: 1, sem: 2 } as const;
/** The share of the host's limit of each kind one sandbox may hold. */
export const SYSV_BUDGET_SHARE = 4;

/** The host's limit of each kind: kernel.shmmni, kernel.msgmni, kernel.sem's SEMMNI. */
export function sysvLimits(): Record<SysvKind, number> {
  const read = (path: string, index = 0, fallback: number): number => {
    try {
      const n = Number(readFileSync(path, "latin1").trim().split(/\s+/)[index]);
      return Number.isSafeInteger(n) && n > 0 ? n : fallback;
    } catch {
      return fallback;
    }
  };
  // (the kernel's defaults where a file cannot be read: IPCMNI-bounded values)
  return { shm: read("/proc/sys/kernel/shmmni", 0, 4096), msg: read("/proc/sys/kernel/msgmni", 0, 32000), sem: read("/proc/sys/kernel/sem", 3, 32000) };
}

/** The ids of each kind present on the host now (/proc/sysvipc/*, their second column). */
function presentIds(kind: SysvKind): Set<number> {
  const out = new Set<number>();
  let text = "";
  try {
    text = readFileSync(`/proc/sysvipc/${kind}`, "latin1");
  } catch {
    return out;
  }
  for (const line of text.split("\n").slice(1)) {
    const id = Number(line.trim().split(/\s+/)[1]);
    if (Number.isInteger(id)) out.add(id);
  }
  return out;
}

/** The objects each sandbox's supervisor made, by launcher pid: the /proc view's
 * /proc/sysvipc/* shows them (handlers/procfs-host.ts), and the memory cap charges the
 * segments (sysv-segments.ts). */
const registries = new Map<number, SysvObjects>();

/** The SysV objects the supervisor made for one sandbox: kind -> id -> the process that
 * asked (its thread-group id). */
export class SysvObjects {
  readonly made: Record<SysvKind, Map<number, number>> = { shm: new Map(), msg: new Map(), sem: new Map() };

  /** Drops the ids no longer on the host (removed by the sandbox). */
  prune(kind: SysvKind): void {
    const present = presentIds(kind);
    for (const id of this.made[kind].keys()) if (!present.has(id)) this.made[kind].delete(id);
  }

  /** Removes every object still there (a segment is destroyed once no one maps it). */
  removeAll(): void {
    for (const kind of KINDS) {
      for (const id of this.made[kind].keys()) native().ipcRemove(KIND_NUMBER[kind], id);
      this.made[kind].clear();
    }
  }
}

/** The objects the supervisor of the sandbox with this launcher made, if any. */
export function sysvObjectsOf(launcherPid: number): SysvObjects | undefined {
  return registries.get(launcherPid);
}

export function sysvHandlers(ctx: SupervisorContext): HandlerTable {
  const objects = new SysvObjects();
  registries.set(ctx.launcherPid, objects);
  ctx.onClose(() => {
    objects.removeAll();
    registries.delete(ctx.launcherPid);
  });
  const limits = sysvLimits();
  const budget = (kind: SysvKind): number => Math.max(1, Math.floor(limits[kind] / SYSV_BUDGET_SHARE));
  const caps = new CallerCredentials(ctx.launcherPid);

  // get(key, arg, flags): arg is shmget's size or semget's count (msgget has none).
  const get = (kind: SysvKind, nr: number, n: Notification, key: number, arg: bigint | null, flags: number): Action => {
    if (key !== IPC_PRIVATE && (flags & IPC_CREAT) === 0) return CONTINUE; // creates nothing
    const made = objects.made[kind];
    const full = (): boolean => {
      if (made.size >= budget(kind)) objects.prune(kind);
      if (made.size < budget(kind)) return false;
      ctx.observe({ kind: "refused", syscall: `${kind}get`, errno: ENOSPC, target: `key ${key >>> 0}`, why: `the sandbox holds its share of the host's SysV ${kind} objects (${budget(kind)}, a quarter of the host's limit)` });
      return true;
    };
    const capEff = caps.forCall(n);
    // (an identity the supervisor cannot take: refused, as a call it cannot make)
    if (capEff === null) return deny(EPERM);
    const call = (f: number): number => (arg === null ? native().ipcSyscallAs(nr, capEff, key, f) : native().ipcSyscallAs(nr, capEff, key, arg, f));
    const create = (): number => {
      if (full()) return -ENOSPC;
      const id = call(flags | IPC_CREAT | (key === IPC_PRIVATE ? 0 : IPC_EXCL));
      if (id >= 0) made.set(id, tgidOf(n.pid) ?? n.pid);
      return id;
    };
    // IPC_PRIVATE, or IPC_EXCL asked: a new object or the error.
    if (key === IPC_PRIVATE || (flags & IPC_EXCL) !== 0) {
      const id = create();
      return id >= 0 ? returnValue(id) : deny(-id);
    }
    // IPC_CREAT on a key: new, or the existing one got without IPC_CREAT (one removed
    // between the two is made again).
    for (let tries = 0; tries < 8; tries++) {
      const id = create();
      if (id >= 0) return returnValue(id);
      if (id !== -EEXIST) return deny(-id);
      const got = call(flags & ~(IPC_CREAT | IPC_EXCL));
      if (got !== -ENOENT) return got >= 0 ? returnValue(got) : deny(-got);
    }
    return deny(EAGAIN); // made and removed again under us, eight times over
  };

  return {
    shmget: (n) => get("shm", SYSCALLS.shmget!, n, n.argI32(0), n.arg(1), n.argI32(2)),
    msgget: (n) => get("msg", SYSCALLS.msgget!, n, n.argI32(0), null, n.argI32(1)),
    semget: (n) => get("sem", SYSCALLS.semget!, n, n.argI32(0), BigInt(n.argI32(1)), n.argI32(2)),
  };
}
