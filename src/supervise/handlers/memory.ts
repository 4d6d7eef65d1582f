// maxMemory: a cap on the sandbox's private writable memory. mmap, mremap and brk come
// here; a request that would take the sandbox past the cap gets ENOMEM and its process
// is killed. A watchdog catches growth no request announced (mprotect of a reservation).
// In a fork group the cap applies to each clone (with the processes it starts) and to
// the zygote separately: clones share the zygote's memory copy-on-write, and each is
// charged what it maps, inherited mappings included.

import { readFileSync } from "node:fs";
import { CONTINUE, type Action } from "../action.js";
import type { HandlerTable, SupervisorContext } from "../handler.js";
import { cloneUnit, parentOf, processTree } from "../members.js";
import type { Notification } from "../notification.js";

const ENOMEM = 12;
const PROT_WRITE = 0x2;
const MAP_SHARED = 0x01;
const MAP_ANONYMOUS = 0x20;
const PAGE = 4096;
const WATCH_MS = 100;

/**
 * What a process is charged: VmData (the kernel's count of its private writable
 * mappings, heap and anonymous memory included, PROT_NONE reservations excluded, the
 * figure RLIMIT_DATA limits) plus RssShmem (shared anonymous memory it has touched).
 * Returns the thread's process id with it, or null when the process is gone.
 */
export function chargeOf(tid: number): { tgid: number; bytes: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${tid}/status`, "latin1");
  } catch {
    return null;
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  const tgid = Number(/^Tgid:\s+(\d+)/m.exec(status)?.[1] ?? tid);
  return { tgid, bytes: (kb("VmData") + kb("RssShmem")) * 1024 };
}

/** Every process of the sandbox (zombies included): its charge and accounting unit (0,
 * or in a fork group the clone it belongs to; see memoryGuard), keyed by process id.
 * `maxAgeMs` lets callers share a recent /proc pass (see processTree). */
function sandboxCharges(launcherPid: number, forkParent: number | undefined, maxAgeMs = 0): Map<number, { bytes: number; unit: number }> {
  const tree = processTree(launcherPid, true, maxAgeMs);
  const out = new Map<number, { bytes: number; unit: number }>();
  for (const pid of tree.keys()) {
    const c = chargeOf(pid);
    if (c !== null) out.set(c.tgid, { bytes: c.bytes, unit: cloneUnit(c.tgid, forkParent, (p) => tree.get(p)) });
  }
  return out;
}

/** Bytes charged right now to the accounting unit of process `caller`. */
export function unitCharge(launcherPid: number, forkParent: number | undefined, caller: number): number {
  const charges = sandboxCharges(launcherPid, forkParent);
  const unit = charges.get(caller)?.unit ?? cloneUnit(caller, forkParent, parentOf);
  let sum = 0;
  for (const c of charges.values()) if (c.unit === unit) sum += c.bytes;
  return sum;
}

function pageUp(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

/** The end of the [heap] mapping, which is the current program break, or null. */
function currentBreak(tgid: number): number | null {
  try {
    const heap = /^([0-9a-f]+)-([0-9a-f]+) [^\n]*\[heap\]$/m.exec(readFileSync(`/proc/${tgid}/maps`, "latin1"));
    return heap ? parseInt(heap[2]!, 16) : null;
  } catch {
    return null;
  }
}

export interface MemoryGuard {
  handlers: HandlerTable;
  close(): void;
}

/**
 * The check is "charged now + what this request adds > cap". Charges come from the kernel
 * (fresh for the caller, at most one watchdog period old for the others), so unmaps and
 * exits are credited without being trapped, and no address ranges need tracking here.
 */
export function memoryGuard(max: bigint, ctx: SupervisorContext): MemoryGuard {
  const cap = Number(max);
  const charged = new Map<number, number>(); // tgid -> bytes at the last look
  const units = new Map<number, number>(); // tgid -> accounting unit (0, or a clone's pid)
  const lastBreak = new Map<number, number>(); // tgid -> break we let it set

  const unitOf = (tgid: number): number => {
    let u = units.get(tgid);
    if (u === undefined) units.set(tgid, (u = cloneUnit(tgid, ctx.forkParent(), parentOf)));
    return u;
  };

  const total = (unit: number): number => {
    let sum = 0;
    for (const [tgid, b] of charged) if (unitOf(tgid) === unit) sum += b;
    return sum;
  };

  const refreshAll = (): void => {
    charged.clear();
    units.clear();
    // One /proc pass per period serves every sandbox of this process.
    for (const [tgid, c] of sandboxCharges(ctx.launcherPid, ctx.forkParent(), WATCH_MS / 2)) {
      charged.set(tgid, c.bytes);
      units.set(tgid, c.unit);
    }
  };

  const decide = (n: Notification, growth: number): Action => {
    if (growth <= 0) return CONTINUE;
    const me = chargeOf(n.pid);
    if (me === null) return CONTINUE; // the caller is gone; nothing to charge
    charged.set(me.tgid, me.bytes);
    if (total(unitOf(me.tgid)) + growth <= cap) return CONTINUE;
    return { kind: "kill", errno: ENOMEM };
  };

  const watchdog = setInterval(() => {
    refreshAll();
    const sums = new Map<number, number>();
    for (const [tgid, b] of charged) sums.set(unitOf(tgid), (sums.get(unitOf(tgid)) ?? 0) + b);
    for (const [unit, sum] of sums) {
      if (sum <= cap) continue;
      // Grown past the cap without asking (mprotect of a reservation, file-backed private
      // writes...): the unit's largest process goes.
      let worst = 0;
      let worstBytes = -1;
      for (const [tgid, b] of charged) {
        if (unitOf(tgid) === unit && b > worstBytes) [worst, worstBytes] = [tgid, b];
      }
      if (worst > 0) ctx.killProcess(worst);
    }
  }, WATCH_MS);
  watchdog.unref();

  const handlers: HandlerTable = {
    mmap: (n) => {
      const prot = n.argU32(2);
      const flags = n.argU32(3);
      // Read-only and PROT_NONE mappings cost no private memory; shared file mappings
      // are the file's pages.
      if ((prot & PROT_WRITE) === 0) return CONTINUE;
      if ((flags & MAP_SHARED) !== 0 && (flags & MAP_ANONYMOUS) === 0) return CONTINUE;
      return decide(n, pageUp(n.argAddr(1)));
    },
    mremap: (n) => decide(n, pageUp(n.argAddr(2)) - pageUp(n.argAddr(1))),
    brk: (n) => {
      const want = n.argAddr(0);
      if (want === 0) return CONTINUE; // a query
      const me = chargeOf(n.pid);
      if (me === null) return CONTINUE;
      const before = lastBreak.get(me.tgid) ?? currentBreak(me.tgid) ?? want;
      const action = decide(n, pageUp(want) - pageUp(before));
      if (action.kind === "continue") lastBreak.set(me.tgid, want);
      return action;
    },
  };
  return { handlers, close: () => clearInterval(watchdog) };
}
