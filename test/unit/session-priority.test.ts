// keepPriority (test/helpers/session-priority.ts): the session a detached spawn starts gets
// the caller's nice for its autogroup, so npm test's background part stays behind the
// timing-sensitive part. Control: without it, the new session's group is at nice 0.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import test from "node:test";
import { ROOT } from "../helpers/system.js";

const skip = existsSync("/proc/self/autogroup") ? false : "this kernel groups no processes by session (no /proc/self/autogroup)";

/** The autogroup line of a `sleep` started detached by a Node process at nice 10, with or
 * without keepPriority. */
function groupOfDetached(keep: boolean): string {
  const code = `
    import { spawn } from "node:child_process";
    import { readFileSync } from "node:fs";
    import { keepPriority } from ${JSON.stringify(`${ROOT}dist/test/helpers/session-priority.js`)};
    const child = spawn("sleep", ["5"], { detached: true, stdio: "ignore" });
    const set = ${keep} ? await keepPriority(child.pid) : false;
    const line = readFileSync("/proc/" + child.pid + "/autogroup", "latin1").trim();
    child.kill("SIGKILL");
    console.log(JSON.stringify({ set, line }));`;
  return execFileSync("nice", ["-n", "10", process.execPath, "--input-type=module", "-e", code], { encoding: "utf8" });
}

test("keepPriority gives a detached session's group the caller's nice (10)", { skip }, () => {
  const out = JSON.parse(groupOfDetached(true)) as { set: boolean; line: string };
  assert.equal(out.set, true);
  assert.match(out.line, /nice 10$/);
});

test("control: a detached session's group starts at nice 0 whatever its processes' nice", { skip }, () => {
  const out = JSON.parse(groupOfDetached(false)) as { set: boolean; line: string };
  assert.match(out.line, /nice 0$/);
});
