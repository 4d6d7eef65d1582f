// wrap() against the real kernel, as root and as the test user: the command line it returns
// runs the command confined when started by child_process or through a pty (script(1)),
// passes its exit code and reports its result; SIGTERM reaches the command's trap; SIGKILL
// of the started process leaves nothing of the sandbox running; a process without the
// token is refused, and so is a second start.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

interface Started { out: string; err: string; code: number | null; signal: string | null }
type Settled = { ok: { status: string; exitCode: number | null; enforcement: object; signal: string | null } } | { error: string };

scriptCase("wrap: any spawner runs the command confined, gets its exit code, and the caller gets its result", "dist/test/scripts/wrap-case.js", ["${STAGE}"], (o: Record<string, any>) => {
  const basic = o.basic as { run: Started; result: Settled };
  assert.equal(basic.run.out, "hello\nno-etc\n", "/etc is not granted: the command is confined");
  assert.equal(basic.run.code, 7);
  assert.ok("ok" in basic.result, JSON.stringify(basic.result));
  assert.equal(basic.result.ok.status, "exited");
  assert.equal(basic.result.ok.exitCode, 7);
  assert.ok(Object.keys(basic.result.ok.enforcement).length > 0, "the enforcement report comes back");

  const pty = o.pty as { run: Started; result: Settled };
  assert.match(pty.run.out, /is-a-tty/, `through script(1) the command's stdout is the pty: ${JSON.stringify(pty.run)}`);
  assert.equal(pty.run.code, 0);

  const term = o.term as { run: Started; result: Settled };
  assert.match(term.run.out, /ready\ngot-term\n/, "SIGTERM to the started process reaches the command's trap");
  assert.equal(term.run.code, 3);
  assert.ok("ok" in term.result && term.result.ok.exitCode === 3, JSON.stringify(term.result));

  const killed = o.killed as { signal: string; pids: number; left: number; result: Settled };
  assert.equal(killed.signal, "SIGKILL");
  assert.equal(killed.pids, 2, "the shell and its background sleep were running");
  assert.equal(killed.left, 0, "nothing of the sandbox outlives the killed process");
  assert.ok("error" in killed.result && /ended before reporting its result/.test(killed.result.error), JSON.stringify(killed.result));

  const s = o.stranger as { stranger: string; first: Started; second: Started; result: Settled };
  assert.equal(s.stranger, "refused", "a process without the token gets nothing");
  assert.equal(s.first.out, "real\n");
  assert.equal(s.first.code, 0);
  assert.equal(s.second.code, 125, "a second start is refused");
  assert.match(s.second.err, /cannot reach the process that called wrap\(\) \(ENOENT\)|refused this one/);

  const missing = o.missing as { run: Started; result: Settled };
  assert.equal(missing.run.code, 127, "the CLI's code for a command that is not there");
  assert.match(missing.run.err, /execve\(\/nonexistent\/program\): ENOENT/);
  assert.ok("error" in missing.result && /did not run: ConfinementError: execve/.test(missing.result.error), JSON.stringify(missing.result));

  assert.match(o.badPolicy as string, /^PolicyError: .*relative\/path/);
  assert.match(o.badArgv as string, /^SandboxError: wrap: argv must be a non-empty array of strings$/);
}, 120_000);

// libuv unlinks a unix socket's path when its server closes. The wrap bound its socket by
// path under the temporary directory, so a sandbox granted that directory could move the
// wrap's directory aside and link another directory of the user's in its place: closing the
// wrap removed the file named "s" there. The socket is now bound (and unlinked) through a
// descriptor of the directory. Control: a server bound by path, as the wrap's was, loses
// the user's file the same way.
scriptCase("wrap: closing it never unlinks a file through a directory a sandbox swapped for a link", "dist/test/scripts/wrap-unlink-case.js", [], (o: Record<string, any>) => {
  assert.equal(o.error, undefined, o.error);
  assert.equal(o.controlSwap, "swapped");
  assert.equal(o.controlKept, false, "control: a socket bound by path is unlinked through the link");
  assert.equal(o.dirs, 1);
  assert.equal(o.socketBefore, true, "the wrap's socket is at its path");
  assert.equal(o.swapped, "swapped", "the sandbox swapped the wrap's directory");
  assert.equal(o.kept, true, "the user's file named s is still there");
  assert.equal(o.asideSocket, false, "the wrap's own socket was unlinked, where it was");
});
