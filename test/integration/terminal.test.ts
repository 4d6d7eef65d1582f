// The terminal a CLI run shares with the user's shell (docs/security.md, "The inherited
// terminal"). As root and as the test user, on a pseudo-terminal made for the test.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import test from "node:test";
import { runScript, scriptCase } from "../helpers/harness.js";
import { ensureTestUser, isRoot } from "../helpers/stage.js";

const RESTORED = "ran 1 echo 1 icanon 1 nonblock 0 flowing 1";

// tcflow(TCOOFF) on the inherited terminal suspended its output after the run: the user's
// shell then waits for ever to print its prompt, and `sandlock run --timeout 1` never
// returned (its report to the terminal waited). Now EPERM. The settings and O_NONBLOCK the
// command changed are put back when the CLI exits (Node's own reset of its stdio), in the
// foreground and in the background, and when --timeout ends the command. Control: bare, each
// change outlives the command.
scriptCase("CLI: a command cannot suspend the output of the terminal it shares with the user, and leaves neither its settings nor O_NONBLOCK changed", "dist/test/scripts/terminal-case.js", ["${STAGE}"], (o) => {
  for (const run of ["supervised", "kernel", "timeout", "background"]) {
    assert.deepEqual(o[run], { terminal: RESTORED, tcflow: "EPERM" }, `${run}: ${JSON.stringify(o)}`);
  }
  assert.deepEqual(o.bare, { terminal: "ran 1 echo 0 icanon 0 nonblock 1 flowing 0", tcflow: "ok" }, "control: bare, every change stays");
  // A command that takes the terminal's foreground with TOSTOP set made the CLI's next
  // write to the terminal stop the CLI (SIGTTOU), supervision and timers with it, under a
  // job-control shell: `--timeout 1` then showed "Stopped". The CLI (run, learn) ignores
  // SIGTTOU now.
  // Control: a program in the CLI's place, writing after its child did the same, is stopped.
  assert.equal(o.stolen, "sandlock: timeout after 1s | job ended", JSON.stringify(o));
  assert.match(o.stolenLearn, /sandlock learn: the command exited 0 \| .* \| job ended$/, `learn's report does not stop it either: ${o.stolenLearn}`);
  assert.equal(o.stolenControl, "job stopped by signal 22", "control: a writer in the CLI's place is stopped");
}, 120_000);

// A command run from a Linux text console (a virtual terminal as its controlling terminal)
// could change the console without privilege and beyond the run: the keyboard off
// (KDSKBMODE K_OFF: no key reached the user's shell again), graphics mode (the text no
// longer shows), an all-black colour map (shared by every console). Measured before the
// fix: all three "ok" through the CLI in both views, as the test user too, and the console
// left so. Now every console request that changes something is EPERM (plan/seccomp-console.ts).
// Control: bare, the same calls change the console. Root lends a free console (tty6) to the
// account, as login does, and puts everything back after each run.
const vtSkip = !isRoot ? "needs root to lend a virtual console to the account, as login does" : !existsSync("/dev/tty6") ? "no virtual console /dev/tty6 on this machine" : false;
for (const who of ["root", "user"] as const) {
  test(`CLI from a text console: a command cannot turn the keyboard off, switch the display mode or change the colour map [${who}]`, { skip: vtSkip }, async () => {
    const u = who === "root" ? { uid: 0, gid: 0 } : ensureTestUser();
    const o = (await runScript("dist/test/scripts/console-case.js", ["${STAGE}", String(u.uid), String(u.gid)], "root")) as Record<string, { answers: string; after: unknown }> & { before: unknown; restored: unknown };
    for (const view of ["supervised", "kernel"]) {
      assert.equal(o[view]!.answers, "kbmode EPERM mode EPERM cmap EPERM", `${view}: ${JSON.stringify(o)}`);
      assert.deepEqual(o[view]!.after, o.before, `${view}: the console as it was`);
    }
    assert.equal(o.bare!.answers, "kbmode ok mode ok cmap ok", "control: bare, the calls reach the console");
    assert.deepEqual(o.bare!.after, { kb: 4, mode: 1, cmap: "0".repeat(96) }, "control: bare, the console stays changed");
    assert.deepEqual(o.restored, o.before, "the test put the console back");
  });
}
