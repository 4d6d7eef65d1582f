// What the native fast path (native/fastpath.c) may answer without JavaScript, from the
// same supervision spec the handlers are built from.
//
// Opens: every handler that traps open, openat, openat2 or creat (the /proc view, the
// sandbox's pseudo-terminals, the virtual files, /etc/hosts under host rules) acts only on
// a path that, resolved as paths.ts resolves it, passes through a procfs or devpts mount or
// ends on one of its virtual files or a multiplexer (/dev/ptmx); on any other it passes and the call continues. So the
// fast path continues those itself, in C, and hands the rest over. The list of trees is
// every procfs mount of the host (paths.ts expands /proc/self and walks magic links in
// any of them) and the granted devpts mounts; the exact paths are the virtual files, the
// multiplexers and /etc/hosts. Getdents64: performed in C on a duplicate unless the directory is on a
// procfs mount the view filters (handlers/procfs-list.ts); under deterministicDirs never
// (every listing is sorted there). Under maxMemory, mmap, mremap
// and brk: continued in C within a credit handlers/memory.ts grants (native/memcredit.c).
// Under maxProcesses, fork, vfork and a process's clone, and thread clones where no memory
// cap charges them: continued in C within credits handlers/processes.ts and threads.ts
// grant, which take each one's record before they decide anything (native/proccredit.c).
// A new handler trapping forks or clones must be added here, or `procs` narrowed.
//
// A learning run's recorder notes every open: there the fast path answers none.
// A new handler trapping opens must be added here, or `opens` must be false for it:
// notifiedSyscalls (plan/features.ts) routes opens only for the features listed below.

import { statSync } from "node:fs";
import { procfsMounts } from "../kernel/mounts.js";
import type { Supervision } from "../plan/features.js";
import { HOSTS, RESOLV } from "./handlers/hosts-file.js";

export interface FastPathSpec {
  trees: string[];
  exacts: string[];
  procDevs: bigint[];
  opens: boolean;
  getdents: boolean;
  /** Receive on a thread of the listener's own (native/notify-thread.c): the moment a
   * call traps, so no signal can interrupt it before the supervisor holds it (a fork or
   * an mmap interrupted there fails with EINTR, which the kernel alone never gives). */
  threaded: boolean;
  /** protectedFiles (handlers/names-open.ts): opens that may write or create go to
   * TypeScript whatever their path; the fast path continues only read-only ones. */
  writeOpens: boolean;
  /** maxMemory: mmap, mremap and brk are answered in C from a credit the memory handlers
   * grant (native/memcredit.c, handlers/memory.ts). */
  memory: boolean;
  /** maxProcesses: fork, vfork and a process's clone (1), and thread clones where no memory
   * cap charges them (2), are continued in C from credits the process and thread handlers
   * grant, each recorded for their counts (native/proccredit.c, handlers/processes.ts,
   * handlers/threads.ts), and epoll_ctl adds within the epoll watch budget (4,
   * handlers/epoll.ts). None in a learning run, whose recorder notes every call. */
  procs: number;
}

/** The kinds of fork credit, bits of `procs`: SL_PROCS_* in native/proccredit.h (protocol.test
 * holds the two equal). */
export const ProcsKind = { PROCESSES: 1, THREADS: 2, EPOLL: 4, PIPES: 8, SPLICE: 16 } as const;

export function fastPathSpec(s: Supervision): FastPathSpec {
  const view = s.view;
  const trees = [...procfsMounts(), ...(view?.pts?.mounts ?? [])];
  const exacts = [...(view?.files ?? []).map((f) => f.path), ...(view?.ptmx ?? []).map((m) => m.name)];
  if (s.net?.hostsFile !== undefined) exacts.push(HOSTS);
  if (s.net?.resolvConf !== undefined) exacts.push(RESOLV);
  const procDevs: bigint[] = [];
  for (const m of view?.procfs?.mounts ?? []) {
    try {
      procDevs.push(statSync(m, { bigint: true }).dev);
    } catch {
      // gone: nothing there to filter
    }
  }
  return { trees: [...new Set(trees)], exacts: [...new Set(exacts)], procDevs, opens: s.learn !== true && s.names?.events !== true, getdents: view?.procfs !== undefined && view.sortedDirs !== true, threaded: true, memory: s.maxMemory !== undefined, writeOpens: s.names !== undefined, procs: s.learn === true ? 0 : (s.maxProcesses !== undefined ? ProcsKind.PROCESSES : 0) | (s.maxThreads !== undefined && s.maxMemory === undefined ? ProcsKind.THREADS : 0) | (s.epoll !== undefined ? ProcsKind.EPOLL : 0) | (s.pipes !== undefined ? ProcsKind.PIPES | ProcsKind.SPLICE : 0) };
}
