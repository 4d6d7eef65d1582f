// Host facts, probed once: the Landlock ABI, the CPU count and this process's hard
// RLIMIT_NOFILE. Tests override them to plan for kernels other than the one they run on.

import { closeSync, openSync, readSync } from "node:fs";
import { cpus } from "node:os";
import { native } from "../confine/native.js";
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
  };
}

/** A small /proc text file of this process (status, limits: a few KB). readFileSync's path
 * for files of unknown size (procfs reports 0) costs about 0.4 ms more in the cold code
 * of a CLI start, where this is read once per run. */
function readProcText(path: string): string {
  const fd = openSync(path, "r");
  try {
    let buf = Buffer.allocUnsafe(8192);
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
    }
    return buf.toString("latin1", 0, len);
  } finally {
    closeSync(fd);
  }
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
