// sched_setaffinity under cpuCores: the policy's CPUs are a bound, not only the command's
// starting affinity. Before, a program widened its own affinity again with
// sched_setaffinity (the eighteenth review). With a supervisor every call comes here, the
// caller's own thread included: the mask is copied once, intersected with the policy's
// CPUs, and the supervisor sets that on the target thread itself (never CONTINUE: the
// kernel would read the caller's buffer again, which a second thread may have widened).
// A mask with none of the policy's CPUs gets EINVAL, as the kernel answers a mask of no
// usable CPU. The target is the caller (pid 0) or a thread of the sandbox: under the
// supervised view a host tid the reach check proved the sandbox's; under the kernel view
// a tid of the sandbox's pid namespace, found among the sandbox's threads by NSpid.

import { readdirSync } from "node:fs";
import { native } from "../../confine/native.js";
import { readProcText } from "../../kernel/proc-text.js";
import { deny, returnValue, type Action } from "../action.js";
import type { SupervisorContext } from "../handler.js";
import { processTree } from "../members.js";
import type { Notification } from "../notification.js";
import { Targets, tgidOf } from "../targets.js";
import { copyIn } from "./net-msg.js";

const E = { EPERM: 1, ESRCH: 3, EINVAL: 22 } as const;
/** The longest mask copied: 8,192 CPUs. The kernel reads no more than its own cpumask size. */
const MAX_MASK_BYTES = 1024;

export interface AffinitySpec {
  /** The policy's CPUs. */
  readonly cpus: readonly number[];
  /** The kernel view: pids in arguments are the sandbox's pid namespace's. */
  readonly nsPids: boolean;
}

/** The host tid of the sandbox's thread whose id in its own pid namespace is `nsTid`. */
function hostTid(launcherPid: number, callerTid: number, nsTid: number): number | undefined {
  const inner = (tid: number): number | undefined => {
    try {
      const m = /^NSpid:\s*([\d\s]+)$/m.exec(readProcText(`/proc/${tid}/status`));
      return m === null ? undefined : Number(m[1]!.trim().split(/\s+/).pop());
    } catch {
      return undefined;
    }
  };
  // The caller's own threads first (pthread_setaffinity_np), then every process's.
  const own = tgidOf(callerTid);
  const processes = [...(own === undefined ? [] : [own]), ...processTree(launcherPid).keys()];
  for (const pid of processes) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) if (inner(Number(t)) === nsTid) return Number(t);
  }
  return undefined;
}

export function affinityHandler(spec: AffinitySpec, ctx: SupervisorContext): (n: Notification) => Action {
  const allowed = Buffer.alloc(MAX_MASK_BYTES);
  for (const c of spec.cpus) if (c >> 3 < MAX_MASK_BYTES) allowed[c >> 3]! |= 1 << (c & 7);
  const targets = new Targets(ctx.launcherPid);
  return (n) => {
    const target = n.argI32(0);
    if (target < 0) return deny(E.ESRCH);
    const len = Math.min(n.argU32(1), MAX_MASK_BYTES);
    const mask = copyIn(ctx.memory, n, n.argAddr(2), len);
    if (typeof mask === "number") return deny(mask);
    if (!ctx.memory.stillValid(n)) return deny(E.EPERM);
    let tid: number | undefined;
    if (target === 0) tid = n.pid;
    else if (spec.nsPids) tid = hostTid(ctx.launcherPid, n.pid, target);
    else tid = targets.pid(target) === undefined ? target : undefined;
    if (tid === undefined) return deny(spec.nsPids ? E.ESRCH : E.EPERM);
    let any = false;
    for (let i = 0; i < mask.length; i++) {
      mask[i] = mask[i]! & allowed[i]!;
      if (mask[i] !== 0) any = true;
    }
    if (!any) return deny(E.EINVAL);
    const rc = native().schedSetaffinity(tid, mask);
    return rc < 0 ? deny(-rc) : returnValue(0);
  };
}
