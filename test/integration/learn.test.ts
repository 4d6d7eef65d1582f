// sandlock learn against the real kernel, as root and as the test user: the learned profile
// runs the same command where the preset alone fails; secrets are reported, never granted;
// writes outside the writable paths are refused and reported. And failing runs explain
// themselves: supervisor refusals, the missing loader or interpreter, the learn hint.

import assert from "node:assert/strict";
import { outsideGrantsText, scriptCase } from "../helpers/harness.js";

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Out {
  project: string;
  data: string;
  port: number;
  refusedPort: number;
  profile: string;
  madeAgain: boolean;
  /** The view (RunResult.procView) of each kind of policy the runs use. */
  views: { workspace: string; system: string; grants: string };
  [job: string]: Ran | string | number | boolean | Out["views"];
}

const ran = (o: Out, k: string): Ran => o[k] as Ran;

/** The start of the exec error for a path outside the grants, in the view the policy got. */
const execRefused = (view: string): string => (view === "kernel" ? "ENOENT \\(not granted, so absent from the kernel view's root: " : "EACCES \\(");

function check(o: Out): void {
  const learned = ran(o, "learned");
  assert.equal(learned.code, 0, learned.stderr);
  assert.match(learned.stdout, /^DATA\nHELLO\n$/, "the command ran normally while learning");
  assert.match(learned.stderr, /sandlock learn: the command exited 0; written to learned\.toml/);
  assert.match(learned.stderr, /not in the profile, secrets: \/etc\/shadow/);
  assert.match(o.profile, /^extends = "system"$/m);
  assert.match(o.profile, /^exec = "sh"$/m);
  assert.ok(o.profile.includes(`read = ["${o.data}"]`), o.profile);
  assert.ok(o.profile.includes(`write = ["${o.project}"]`), o.profile);
  assert.ok(o.profile.includes(`allow = ["tcp://127.0.0.1:${o.port}"]`), o.profile);
  // The command line names it; no grant does.
  assert.doesNotMatch(o.profile.slice(o.profile.indexOf("[filesystem]")), /shadow/);

  const replay = ran(o, "replay");
  assert.equal(replay.code, 0, replay.stderr);
  assert.equal(replay.stdout, "DATA\nHELLO\n");
  assert.ok(o.madeAgain, "the learned profile lets it write its project");
  // The controls: what the profile added is what made the difference.
  assert.equal(ran(o, "withoutRead").code, 1);
  assert.match(ran(o, "withoutRead").stderr, outsideGrantsText(o.views.workspace));
  assert.notEqual(ran(o, "withoutNet").code, 0);
  assert.match(ran(o, "withoutNet").stderr, /refused: connect 127\.0\.0\.1:\d+ over tcp: E(CONNREFUSED|ACCES), not allowed by netAllow/);

  const refusedWrite = ran(o, "refusedWrite");
  assert.notEqual(refusedWrite.code, 0);
  assert.match(refusedWrite.stderr, /Permission denied/);
  assert.ok(refusedWrite.stderr.includes(`refused while learning, writes beneath: ${o.data} (learn again with -w PATH`), refusedWrite.stderr);
  const allowedWrite = ran(o, "allowedWrite");
  assert.equal(allowedWrite.code, 0, allowedWrite.stderr);
  assert.ok(allowedWrite.stdout.includes(`write = ["${o.data}"]`), allowedWrite.stdout);

  assert.equal(ran(o, "exists").code, 125);
  assert.match(ran(o, "exists").stderr, /sandlock learn: --output: learned\.toml exists already; remove it or choose another/);
  assert.equal(ran(o, "noCommand").code, 125);
  assert.match(ran(o, "noCommand").stderr, /sandlock learn: no command: give one after "--"/);

  const refusedCalls = ran(o, "refusedCalls");
  assert.equal(refusedCalls.code, 3);
  assert.ok(refusedCalls.stderr.includes(`sandlock: refused: connect 127.0.0.1:${o.refusedPort} over tcp:`), refusedCalls.stderr);
  // /proc/1 is another process of the host under the supervised view (refused by its /proc
  // view), and the sandbox's own init under the kernel view (its own pid namespace).
  if (o.views.system === "supervised") assert.match(refusedCalls.stderr, /sandlock: refused: open \/proc\/1\/environ: EACCES, another process's \/proc entry \(the \/proc view\)/);
  else assert.doesNotMatch(refusedCalls.stderr, /\/proc\/1/, "the init's /proc entry is the sandbox's own");

  const library = o.library as unknown as { exitCode: number; refused: { syscall: string; errno: string; target: string; why: string; count: number }[]; json: unknown };
  assert.equal(library.exitCode, 0);
  assert.deepEqual(library.refused.map((r) => [r.syscall, r.target, r.why, r.count]), [["connect", `127.0.0.1:${o.refusedPort} over tcp`, "not allowed by netAllow", 1]]);
  assert.match(library.refused[0]!.errno, /^E(CONNREFUSED|ACCES)$/);
  assert.deepEqual(library.json, library.refused, "toJSON has it too");

  assert.equal(ran(o, "loader").code, 126);
  assert.match(ran(o, "loader").stderr, new RegExp(`execve\\(/usr/bin/ls\\): ${execRefused(o.views.grants)}its dynamic loader /\\S+ \\(really /\\S+\\) is not under fsReadable/fsWritable: grant /\\S+ \\(-r /\\S+\\)`));
  assert.match(ran(o, "interpreter").stderr, new RegExp(`${execRefused(o.views.grants)}its interpreter \\(#! line\\) /usr/bin/python3 (\\(really \\S+\\) )?is not under fsReadable/fsWritable`));
  assert.match(ran(o, "notExecutable").stderr, /s\.py is not executable \(mode 644\)/);

  const hint = ran(o, "hint");
  assert.notEqual(hint.code, 0);
  assert.ok(hint.stdout.includes(`sandlock: hint: if the command failed for lack of a file, "sandlock learn -- ls ${o.data}" proposes a profile`), hint.stdout);
  // Only for a person at a terminal, and only when no preset or profile was given.
  assert.match(ran(o, "hintWithPreset").stdout, outsideGrantsText(o.views.system));
  assert.doesNotMatch(ran(o, "hintWithPreset").stdout, /hint/);
  assert.match(ran(o, "noTerminal").stderr, outsideGrantsText(o.views.grants));
  assert.doesNotMatch(ran(o, "noTerminal").stderr, /hint/);
}

scriptCase("learn: the learned profile runs the command the preset alone cannot; failing runs say what was refused", "dist/test/scripts/learn-case.js", ["${STAGE}"], (o: Out) => check(o), 300_000);
