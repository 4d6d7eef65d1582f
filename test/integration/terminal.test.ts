// The terminal a CLI run shares with the user's shell (docs/security.md, "The inherited
// terminal"). As root and as the test user, on a pseudo-terminal made for the test.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

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
}, 120_000);
