// Host facts, probed once: the Landlock ABI and the CPU count. Tests override them to plan
// for kernels other than the one they run on.

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
    cached = {
      landlockAbi: abi > 0 ? abi : 0,
      get cpuCount(): number {
        return (cpuCount ??= cpus().length);
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
  };
}

/** For tests: pretend the host has these facts (undefined restores the real ones). */
export function overrideHost(facts: Partial<HostFacts> | undefined): void {
  override = facts;
}
