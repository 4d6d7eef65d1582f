// The JSON contract between an integration test and the case runner it starts.

import type { PolicyInput } from "../../src/index.js";

export type Fixture = "dirs" | "victim" | "abstract" | "tcp" | "tcp6" | "udp" | "ports" | "unix";
/** "bare" runs the command without any sandbox: the positive control of an attack test. */
export type Scenario = "run" | "bare" | "daemon-kill" | "daemon-exit" | "pause" | "forkbomb" | "fifty";

export interface CaseSpec {
  /** Policy; strings may use ${VAR} from fixtures (PROBE, WRITE, TCP_OK...). */
  policy: PolicyInput;
  cmd: string[];
  fixtures?: Fixture[];
  scenario?: Scenario;
  timeout?: number;
  /** File operations done before the run, outside the sandbox: [op, ...args]. */
  prepare?: string[][];
  vars?: Record<string, string>;
  /** A fork bomb's safety net: the runner's processes are capped at this many (a pids
   * cgroup as root, RLIMIT_NPROC as the test user) in case containment fails. */
  pidsMax?: number;
}

export interface CaseOutcome {
  /** RunResult.toJSON() of the sandboxed run. */
  result?: Record<string, unknown> & { status?: string; exitCode?: number | null; stdout?: string | null; stderr?: string | null };
  error?: { name: string; message: string; code?: unknown; step?: unknown; errno?: unknown };
  observed: Record<string, unknown>;
  vars?: Record<string, string>;
}
