// The shape of the dynamic policy callback (SPEC section 6). The policy only stores the
// function; the supervisor calls it. Types live here so both sides agree on them.

import type { Protocol } from "./types.js";

/** What kind of call an event is (SPEC 6); this version sends "process" (execs), "network" (connects, datagrams sent to a destination, binds) and, with policyFnFiles, "file" (opens) events. */
export type PolicyEventCategory = "file" | "network" | "process" | "memory";

/** A syscall of interest, as shown to policyFn. The call waits for the verdict. */
export interface PolicyEvent {
  /** The syscall's name: "execve", "execveat", "connect", "sendto", "sendmsg", "sendmmsg", "bind", or (policyFnFiles) "open", "openat" or "creat". */
  readonly syscall: string;
  /** Its kind: "process" for an exec, "network" for a connect, a send or a bind, "file" for an open. */
  readonly category: PolicyEventCategory;
  /** The thread that made the call (its process id when it has one thread). */
  readonly pid: number;
  /** Its parent process, 0 when it is gone. */
  readonly parentPid: number;
  /** The file: for an exec, the absolute path as given (placed against the caller's cwd or
   * dirfd, symbolic links not followed); for an open, the real path of the file the
   * supervisor pinned and will open itself (of its parent directory and the new name, for
   * a file it creates). */
  readonly path?: string;
  /** The destination address the supervisor will connect or send to; for a bind, the
   * local address it will bind (network events). */
  readonly host?: string;
  /** The destination port; for a bind, the local port (network events). */
  readonly port?: number;
  /** The socket's protocol (network events). */
  readonly protocol?: Protocol;
  /** The argv that will execute (execve only): the program that runs is checked against
   * it, and killed before its first instruction if it differs. */
  readonly argv?: readonly string[];
  /** The environment that will execute (execve only), as its "NAME=value" strings in the
   * order given: what the program and its dynamic loader read (LD_PRELOAD and
   * LD_LIBRARY_PATH name code the program then maps). Checked at the exec stop as argv is. */
  readonly env?: readonly string[];
  /** Whether the static policy already denies this call (for an exec: the file is under
   * no fsReadable or fsWritable path; for an open: Landlock would refuse it, and it stays
   * refused whatever the verdict; a connect is asked about only once netAllow allowed it,
   * so false). */
  readonly denied: boolean;
}

/** "allow"; "deny" (EPERM); a specific errno; or "audit" (allow and record). */
export type PolicyVerdict = "allow" | "deny" | "audit" | {
  /** The errno the call fails with (1..4095). */
  readonly errno: number;
};

/** What policyFn may change while the sandbox runs; it can only narrow the static policy.
 * denyPath and allowPath need policyFnFiles (without it they throw SandboxError, which
 * denies the call the callback was deciding; docs/policy-fn.md). */
export interface PolicyContext {
  /** Later connects and sends may reach only these IPs (of those the static rules allow). */
  restrictNetwork(ips: readonly string[]): void;
  /** Give back IPs restrictNetwork took away, never beyond the static allowlist. */
  grantNetwork(ips: readonly string[]): void;
  /** Lower maxMemory (a byte size as the field takes it); the policy must set maxMemory.
   * Memory already above the new cap ends the run with the memory limit at the next look. */
  restrictMaxMemory(bytes: number | bigint | string): void;
  /** Lower maxProcesses: later forks past it fail with EAGAIN; running processes stay. */
  restrictMaxProcesses(n: number): void;
  /** Deny an absolute path and what lies beneath it to later opens and name operations
   * (EACCES, without asking the callback); descriptors already open stay. */
  denyPath(path: string): void;
  /** Lift denyPath for this path and what lies beneath it (the most specific rule wins);
   * never beyond the static grants. */
  allowPath(path: string): void;
  /** Narrow one process's egress (connects and sends) to these IPs, and that of every
   * process it starts; a thread id names its process. Only narrows: calls intersect. */
  restrictPidNetwork(pid: number, ips: readonly string[]): void;
}

/** The callback: a verdict for each event, returned or as a Promise; none within 5 s, a
 * throw or a value that is not a verdict denies (EPERM), reported in RunResult.refused. */
export type PolicyFn = (
  event: PolicyEvent,
  ctx: PolicyContext,
) => PolicyVerdict | Promise<PolicyVerdict>;
