// Host facts, probed once: the Landlock ABI, the CPU count, this process's hard
// RLIMIT_NOFILE and soft RLIMIT_SIGPENDING, fs.epoll.max_user_watches, fs.pipe-user-pages-soft. Tests override them to plan for kernels other than the one they run on.

import { cpus } from "node:os";
import { native } from "../confine/native.js";
import { readProcText } from "./proc-text.js";
import type { HostFacts } from "../plan/features.js";

let cached: HostFacts | undefined;
let override: Partial<HostFacts> | undefined;

export function probeHost(): HostFacts {
  if (cached === undefined) {
    const abi = native().landlockAbi();
    // The CPU count reads /proc/cpuinfo: only policies with cpuCores ever ask for it.
    let cpuCount: number | undefined;
    let openFiles: bigint | null | undefined;
    let raises: boolean | undefined;
    let pending: bigint | null | undefined;
    let epollWatches: number | null | undefined;
    let pipePages: number | null | undefined;
    cached = {
      landlockAbi: abi > 0 ? abi : 0,
      get cpuCount(): number {
        return (cpuCount ??= cpus().length);
      },
      // Only policies with maxOpenFiles ask. Read each time the cache is empty: a process
      // may lower its own limit while it runs, and the launcher inherits the current one.
      get openFilesHardLimit(): bigint | undefined {
        if (openFiles === undefined) openFiles = hardOpenFiles();
        return openFiles ?? undefined;
      },
      get raisesPriority(): boolean {
        return (raises ??= hasCapSysNice());
      },
      // Every policy asks (features.ts): read once per process.
      get pendingSignalsLimit(): bigint | undefined {
        if (pending === undefined) pending = softPendingSignals();
        return pending ?? undefined;
      },
      // Every supervised policy asks: read once per process.
      get epollWatchesLimit(): number | undefined {
        if (epollWatches === undefined) epollWatches = maxUserWatches();
        return epollWatches ?? undefined;
      },
      get pipePagesLimit(): number | undefined {
        if (pipePages === undefined) pipePages = pipeUserPagesSoft();
        return pipePages ?? undefined;
      },
    };
  }
  const real = cached;
  const o = override;
  if (o === undefined) return real;
  return {
    landlockAbi: o.landlockAbi ?? real.landlockAbi,
    get cpuCount(): number {
      return o.cpuCount ?? real.cpuCount;
    },
    get raisesPriority(): boolean | undefined {
      return "raisesPriority" in o ? o.raisesPriority : real.raisesPriority;
    },
    get openFilesHardLimit(): bigint | undefined {
      return "openFilesHardLimit" in o ? o.openFilesHardLimit : real.openFilesHardLimit;
    },
    get pendingSignalsLimit(): bigint | undefined {
      return "pendingSignalsLimit" in o ? o.pendingSignalsLimit : real.pendingSignalsLimit;
    },
    get epollWatchesLimit(): number | undefined {
      return "epollWatchesLimit" in o ? o.epollWatchesLimit : real.epollWatchesLimit;
    },
    get pipePagesLimit(): number | undefined {
      return "pipePagesLimit" in o ? o.pipePagesLimit : real.pipePagesLimit;
    },
  };
}

/** The hard RLIMIT_NOFILE of this process from /proc/self/limits; null when unlimited or unreadable. */
export function hardOpenFiles(text?: string): bigint | null {
  try {
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(text ?? readProcText("/proc/self/limits"));
    return m === null || m[1] === "unlimited" ? null : BigInt(m[1]!);
  } catch {
    return null;
  }
}

/** The soft RLIMIT_SIGPENDING of this process from /proc/self/limits; null when unlimited or unreadable. */
export function softPendingSignals(text?: string): bigint | null {
  try {
    const m = /^Max pending signals\s+(\S+)/m.exec(text ?? readProcText("/proc/self/limits"));
    return m === null || m[1] === "unlimited" ? null : BigInt(m[1]!);
  } catch {
    return null;
  }
}

/** fs.epoll.max_user_watches (per user); null when unreadable or not a positive number. */
export function maxUserWatches(text?: string): number | null {
  return positiveSysctl("/proc/sys/fs/epoll/max_user_watches", text);
}

/** fs.pipe-user-pages-soft; null when 0 (no limit) or unreadable. */
export function pipeUserPagesSoft(text?: string): number | null {
  return positiveSysctl("/proc/sys/fs/pipe-user-pages-soft", text);
}

/** A sysctl's value (`text`, else read from `path`) when it is a positive integer; null
 * otherwise (0, unreadable, not a number). */
function positiveSysctl(path: string, text?: string): number | null {
  try {
    const n = Number((text ?? readProcText(path)).trim());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** For tests: pretend the host has these facts (undefined restores the real ones). */
export function overrideHost(facts: Partial<HostFacts> | undefined): void {
  override = facts;
}

/** CAP_SYS_NICE (bit 23) in this process's effective set: it may raise a thread's priority. */
function hasCapSysNice(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readProcText("/proc/self/status"));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 23n)) !== 0n;
  } catch {
    return false;
  }
}
