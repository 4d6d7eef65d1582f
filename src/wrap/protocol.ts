// The few messages between wrap() and its agent, one JSON object per line on a unix socket
// in a directory only the caller's user can enter: the agent proves it is the process wrap()
// was made for (the token), receives what to run, and reports how the run ended.

import type { PolicyJSON } from "../policy/types.js";

/** agent -> caller, first. */
export interface Hello {
  token: string;
}

/** caller -> agent: what to run. */
export interface Job {
  policy: PolicyJSON;
  argv: string[];
  foreground: boolean;
  timeout?: number;
}

/** agent -> caller, last: the result (RunResult.toJSON(), without output) or why none. */
export type Report = { result: Record<string, unknown> } | { error: { name: string; message: string } };

/** Splits a stream into lines and hands each to `line`. */
export function lineReader(line: (text: string) => void): (chunk: Buffer) => void {
  let pending = "";
  return (chunk) => {
    pending += chunk.toString("utf8");
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      line(text);
    }
  };
}
