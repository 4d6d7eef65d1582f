// Which view (Sandbox.procView) a policy gets on this host, planned in this process the way a
// run plans it, for tests whose expected errno or pid depends on it (docs/kernel-view.md).

import { computeFeatures } from "../../src/plan/features.js";
import { probeHost } from "../../src/kernel/probe.js";
import { Policy, type PolicyInput } from "../../src/policy/index.js";

export function viewOf(input: PolicyInput | Policy): "kernel" | "supervised" {
  const policy = input instanceof Policy ? input : Policy.from(input);
  return computeFeatures(policy, probeHost()).kernelView !== undefined ? "kernel" : "supervised";
}
