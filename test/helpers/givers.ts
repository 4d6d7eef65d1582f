// The controls of the red-team cases where sandboxes A each fill a 48 MiB memfd and hand it
// to a sandbox B under maxMemory 64M (redteam13, redteam14).

import assert from "node:assert/strict";
import type { RunResult } from "../../src/result.js";

/** A giver's run as assertHanded reads it: its status (with the signal and the limit that
 * ended it, when it did not exit: a giver signaled in a CI run's timing part, 2026-12-07,
 * said no more), then its output and its errors. */
export function giverLine(r: RunResult): string {
  const limit = r.limit ? `, ${r.limit.field} ${r.limit.used ?? "?"} of ${r.limit.cap}${r.limit.reason ? `: ${r.limit.reason}` : ""}` : "";
  const how = r.status === "exited" ? "" : ` (${r.signal ?? "no signal"}${limit})`;
  return `${r.status}${how}: ${[r.stdoutText.trim(), r.stderrText.trim()].join("; ")}`;
}

/**
 * At least two A sandboxes filled and handed their memfd. Two handed are past B's cap (96
 * MiB), so B may be ended by it before the third comes: that one's connect or send is then
 * refused, which counts only when B was ended with the memory limit (CI runs of 51be4c4 and
 * 9cb9c05).
 */
export function assertHanded(givers: readonly string[], limit: string | null, what: string): void {
  assert.ok(givers.filter((g) => /^exited: filled 48; sendmsg ok$/.test(g)).length >= 2, `control: ${what}: the A sandboxes filled and handed their memfds`);
  const each = limit === "memory" ? /^exited: filled 48; (sendmsg ok|connect ECONNREFUSED|sendmsg (ECONNRESET|EPIPE|ECONNREFUSED))$/ : /^exited: filled 48; sendmsg ok$/;
  for (const g of givers) assert.match(g, each, `control: ${what}`);
}
