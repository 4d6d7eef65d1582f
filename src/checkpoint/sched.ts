// A thread's scheduling across a checkpoint: nice, policy and real-time priority
// (/proc/<pid>/task/<tid>/stat) and CPU affinity (Cpus_allowed_list), captured from /proc
// and given back at restore by the thread itself (setpriority, sched_setscheduler,
// sched_setaffinity on "0", the caller), or refused by name; never silently another value.

import { readFileSync } from "node:fs";
import { errnoName } from "../confine/errno.js";
import type { ProcessImage, SchedImage, ThreadImage } from "./image.js";
import type { Remote } from "./inject.js";
import { parseStatus } from "./procfs.js";

const NR = { setpriority: 141, schedSetscheduler: 144, schedSetaffinity: 203 } as const;
const PRIO_PROCESS = 0;
const EPERM = 1;
const EACCES = 13;
/** Policies of sched_setscheduler (SCHED_DEADLINE, 6, needs sched_setattr and privilege). */
export const SCHED_POLICIES = new Map([
  [0, "SCHED_OTHER"],
  [1, "SCHED_FIFO"],
  [2, "SCHED_RR"],
  [3, "SCHED_BATCH"],
  [5, "SCHED_IDLE"],
]);

/** "0-3,5" (Cpus_allowed_list) as a sorted list of CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) throw new Error(`unexpected CPU list ${JSON.stringify(text)}`);
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** The compact form of a CPU list, for messages: [0, 1, 2, 5] is "0-2,5". */
export function cpuListText(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j]! + 1) j++;
    parts.push(j === i ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** nice (field 19), rt_priority (40) and policy (41) of a task's stat; comm may hold ") ". */
export function parseSchedStat(stat: string, status: string): SchedImage {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).trim().split(" ");
  const field = (n: number): number => {
    const v = Number(rest[n - 3]);
    if (!Number.isInteger(v)) throw new Error(`stat field ${n} is not an integer in ${JSON.stringify(stat.slice(0, 80))}`);
    return v;
  };
  const cpus = parseStatus(status).get("Cpus_allowed_list");
  if (cpus === undefined) throw new Error("status has no Cpus_allowed_list");
  return { nice: field(19), policy: field(41), priority: field(40), cpus: parseCpuList(cpus) };
}

/** The scheduling of thread tid of pid, or undefined when /proc cannot tell. */
export function captureSched(pid: number, tid: number): SchedImage | undefined {
  try {
    return parseSchedStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1"), readFileSync(`/proc/${pid}/task/${tid}/status`, "latin1"));
  } catch {
    return undefined;
  }
}

/** Why thread t's scheduling cannot be restored, found before anything runs, or undefined. */
export function schedRefusal(p: ProcessImage, t: ThreadImage): string | undefined {
  if (t.sched === undefined) return `process ${p.pid} thread ${t.tid}: the checkpoint has no record of its scheduling (nice, policy, CPU affinity); taken by an older sandlock`;
  if (!SCHED_POLICIES.has(t.sched.policy)) return `process ${p.pid} thread ${t.tid} runs under scheduling policy ${t.sched.policy === 6 ? "SCHED_DEADLINE" : t.sched.policy}, whose parameters are not in the checkpoint; only ${[...SCHED_POLICIES.values()].join(", ")} can be restored`;
  return undefined;
}

/**
 * Thread t's scheduling, set by the new thread (r) itself, which runs under the new
 * sandbox (its seccomp filter lets a process aim these calls at itself). Order: the policy
 * first (sched_setscheduler keeps the nice of a normal policy), then the nice, then the
 * affinity. A nice lower than the new thread's, or a real-time policy, needs CAP_SYS_NICE
 * or RLIMIT_NICE / RLIMIT_RTPRIO: without it the restore is refused by name rather than
 * the thread kept at another priority. The affinity is the captured set intersected with
 * the CPUs the new thread may use (the policy's cpuCores, kept equal by a restore; without
 * it the restoring process's own affinity; the host's cpuset), as a shrunken cpuset does to
 * a running thread; an empty intersection is refused. Throws an Error whose message names the thread.
 */
export async function restoreSched(r: Remote, pid: number, t: ThreadImage): Promise<void> {
  const s = t.sched!;
  const who = `thread ${t.tid}`; // failed() (restore-run.ts) names the process
  const call = async (what: string, nr: number, ...args: (bigint | number)[]): Promise<bigint> => {
    const rc = await r.call(nr, ...args);
    if (rc < 0n && rc > -4096n) throw new SchedError(`${who}: ${what}: ${errnoName(Number(-rc))}`, Number(-rc));
    return rc;
  };
  // What the new thread has (the launcher's, inherited): a call only where it differs, so a
  // policy that denies these calls restores a thread that never changed them.
  const before = captureSched(pid, r.tid);
  if (before === undefined) throw new SchedError(`${who}: its scheduling cannot be read from /proc/${pid}/task/${r.tid}`, 0);
  // A call the kernel refuses for want of privilege (EPERM, EACCES) is a refusal by name.
  const privileged = async (why: string, what: string, nr: number, ...args: (bigint | number)[]): Promise<void> => {
    try {
      await call(what, nr, ...args);
    } catch (e) {
      if (e instanceof SchedError && (e.errno === EPERM || e.errno === EACCES)) throw new SchedError(`${who} ${why}`, e.errno, true);
      throw e;
    }
  };
  if (before.policy !== s.policy || before.priority !== s.priority) {
    const param = Buffer.alloc(8);
    param.writeInt32LE(s.priority);
    const name = SCHED_POLICIES.get(s.policy);
    await privileged(`ran under ${name} priority ${s.priority}, which the new sandbox may not set (it needs CAP_SYS_NICE or RLIMIT_RTPRIO)`, `sched_setscheduler(${name}, priority ${s.priority})`, NR.schedSetscheduler, 0, s.policy, r.put(param));
  }
  if (before.nice !== s.nice) {
    await privileged(`ran at nice ${s.nice}, lower than the new sandbox's nice ${before.nice}; lowering it needs CAP_SYS_NICE or RLIMIT_NICE, so the thread cannot get its priority back`, `setpriority(nice ${s.nice})`, NR.setpriority, PRIO_PROCESS, 0, s.nice);
  }
  const allowed = before.cpus;
  const cpus = s.cpus.filter((c) => allowed.includes(c));
  if (cpus.length === 0) throw new SchedError(`${who} may run on CPUs ${cpuListText(s.cpus)} only, none of which the new sandbox may use (${cpuListText(allowed)})`, 0, true);
  if (cpus.join() === allowed.join()) return;
  const mask = Buffer.alloc(Math.ceil((Math.max(...cpus) + 1) / 64) * 8);
  for (const c of cpus) mask.writeUInt8(mask.readUInt8(c >> 3) | (1 << (c & 7)), c >> 3);
  await call(`sched_setaffinity(${cpuListText(cpus)})`, NR.schedSetaffinity, 0, mask.length, r.put(mask));
}

/** A failed or refused scheduling step; restore-run.ts turns it into a CheckpointError. */
export class SchedError extends Error {
  constructor(message: string, readonly errno: number, readonly refused = false) {
    super(message);
  }
}
