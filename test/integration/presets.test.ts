// Presets against the real kernel, as root and as the test user: everyday tools run under
// `-p workspace` with no other flag, the private TMPDIR is gone after each run, and the
// secrets of /etc stay out even for root (the bare read shows root could read them).

import assert from "node:assert/strict";
import { test } from "node:test";
import { outsideGrantsText, runScript, type Who } from "../helpers/harness.js";
import { isRoot } from "../helpers/stage.js";

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Out {
  jobs: Record<string, Ran & { tmpdir: string; tmpdirGone: boolean; interruptedFork?: string }>;
  files: Record<string, boolean>;
  /** The view (RunResult.procView) each preset's runs got. */
  views: { workspace: string; system: string };
  shadow: Ran;
  ssh: Ran;
  passwd: Ran;
  bareShadow: string;
}

function check(o: Out, who: Who, t: { diagnostic(s: string): void }): void {
  for (const [name, r] of Object.entries(o.jobs)) {
    // (made again once: see workspace-case.ts)
    if (r.interruptedFork !== undefined) t.diagnostic(`${name} (${who}): a fork was interrupted, the job ran again: ${r.interruptedFork}`);
    assert.equal(r.code, 0, `${name} (${who}) failed:\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.tmpdir, /^\/tmp\/sandlock-tmp-[^/]+\/tmp$/, `${name}: TMPDIR is the private one`);
    assert.ok(r.tmpdirGone, `${name}: the private TMPDIR ${r.tmpdir} was removed after the run`);
  }
  assert.match(o.jobs.bash!.stdout, /^PIPE\nbackground\n/);
  assert.match(o.jobs.sh!.stdout, /^PIPE\nbackground\n8\nok\n/);
  assert.match(o.jobs.make!.stdout, /gcc -O1 -o hello hello\.c\n\.\/hello\nhello from c\n/);
  assert.match(o.jobs.gcc!.stdout, /^hello from c\n/);
  assert.match(o.jobs.git!.stdout, /^first\n/);
  assert.match(o.jobs.python3!.stdout, /^True\n/);
  assert.match(o.jobs.node!.stdout, /^true\n/);
  assert.match(o.jobs.npm!.stdout, /# pass 1\n/);
  assert.match(o.jobs.npm!.stdout, /# fail 0\n/);
  assert.equal(o.files["py.txt"], true, "the project directory is writable");
  assert.equal(o.files["node.txt"], true);
  assert.equal(o.files.hello, true);

  // /etc/shadow: root could read it outside (the control), nobody can inside.
  assert.equal(o.bareShadow, who === "root" ? "ok" : "EACCES");
  assert.equal(o.shadow.code, 1, o.shadow.stderr);
  assert.match(o.shadow.stderr, new RegExp(`cat: /etc/shadow: ${outsideGrantsText(o.views.workspace).source}`));
  assert.notEqual(o.ssh.code, 0);
  assert.match(o.ssh.stderr, outsideGrantsText(o.views.system));
  assert.equal(o.passwd.code, 0, o.passwd.stderr);
  assert.match(o.passwd.stdout, /^root:x:0:0:/);
}

const NAME = "workspace: sh, bash, make, gcc, git, python3, node and npm test run with no other flag; /etc/shadow stays out";
const SCRIPT = "dist/test/scripts/workspace-case.js";

test(`${NAME} [root]`, { skip: isRoot ? false : "tests are not running as root" }, async (t) => {
  check((await runScript(SCRIPT, ["${STAGE}"], "root", 300_000)) as Out, "root", t);
});
test(`${NAME} [user]`, async (t) => {
  check((await runScript(SCRIPT, ["${STAGE}"], "user", 300_000)) as Out, "user", t);
});
