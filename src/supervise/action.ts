// What a handler answers for one notification. A handler returns an Action, or a Promise
// of one (the caller stays blocked until it settles: "hold").

export type Action =
  /** Let the kernel run the call as the caller asked. Safe only when nothing the decision
   * rested on can change between the check and the kernel's own read (no pointer args). */
  | { kind: "continue" }
  /** Fail the call with this errno. */
  | { kind: "errno"; errno: number }
  /** Complete the call with this return value, without running it. */
  | { kind: "value"; value: number }
  /** Install `fd` of the supervisor into the caller and return the new number; with
   * `close`, the supervisor closes its own copy afterwards (whether or not it was installed). */
  | { kind: "inject"; fd: number; cloexec: boolean; close?: boolean }
  /** Kill the caller's process (SIGKILL), then fail the call. */
  | { kind: "kill"; errno: number };

export const CONTINUE: Action = Object.freeze({ kind: "continue" });

export function deny(errno: number): Action {
  return { kind: "errno", errno };
}

export function returnValue(value: number): Action {
  return { kind: "value", value };
}
