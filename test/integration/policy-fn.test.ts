// policyFn against the real kernel, as root and as the test user: an allowlist of
// executables enforced by the callback; the same under a thread rewriting path and argv
// after the check (zero wins, with the unchecked race as control); a throwing, a silent
// (deadline), an async and a wrongly answering callback; connect events, network revoked
// after the first connect (with a control); the refusal without a supervisor.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

interface Ran { status: string; code: number | null; stdout: string; stderr: string; refused: string[]; events: string[] }

function counts(r: Ran): Record<string, number> {
  return Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split(" ")).map(([k, v]) => [k!, Number(v)]));
}

scriptCase("policyFn: execs are decided by the callback on what will run; racing rewrites never win", "dist/test/scripts/policy-fn-case.js", ["${PROBE}"], (o: Record<string, any>) => {
  const allow: Ran = o.allowlist;
  assert.equal(allow.stdout, "true-ran\nls=126\n", allow.stderr);
  assert.ok(allow.events[0]!.startsWith(`execve process /bin/sh ["/bin/sh","-c",`), allow.events[0]);
  assert.ok(allow.events.includes(`execve process /bin/true ["/bin/true"] denied=false ppid=true`), allow.events.join("\n"));
  assert.ok(allow.refused.some((x) => /^execve EPERM \/(usr\/)?bin\/ls: denied by policyFn$/.test(x)), allow.refused.join("\n"));

  // The race: the checked exec ran ("ok"), nothing else ever did; the control shows the
  // probe sees a win when nothing checks.
  for (const round of o.raceRounds as Ran[]) {
    const c = counts(round);
    assert.equal(c["evil-arg"], 0, round.stdout);
    assert.equal(c["evil-env"], 0, round.stdout);
    assert.equal(c["evil-path"], 0, round.stdout);
    assert.equal(c.other, 0, round.stdout);
    assert.equal(c.ok! + c.killed! + c.refused!, 100);
  }
  const race = counts(o.race);
  assert.ok(race.ok! > 0, `some allowed execs ran (in one of ${o.raceRounds.length} rounds): ${o.race.stdout}`);
  const control = counts(o.raceControl);
  assert.ok(control["evil-arg"]! + control["evil-path"]! > 0, `control: unchecked, the rewrites win: ${o.raceControl.stdout}`);
  // The environment alone rewritten: never a win, some allowed execs ran; control: wins.
  for (const round of o.envRaceRounds as Ran[]) {
    const c = counts(round);
    assert.equal(c["evil-env"], 0, round.stdout);
    assert.equal(c["evil-arg"]! + c["evil-path"]! + c.other!, 0, round.stdout);
  }
  assert.ok(o.envRaceRounds.some((r: Ran) => counts(r).ok! > 0), `some allowed execs ran: ${o.envRaceRounds.map((r: Ran) => r.stdout).join(" / ")}`);
  assert.ok(counts(o.envRaceControl)["evil-env"]! > 0, `control: unchecked, the environment's rewrite wins: ${o.envRaceControl.stdout}`);
  const envKilled = o.envRaceRounds.flatMap((r: Ran) => r.refused).filter((x: string) => x.includes("the environment the kernel copied was not the one policyFn approved"));
  assert.equal(envKilled.length > 0, o.envRaceRounds.some((r: Ran) => counts(r).killed! > 0), "each exec killed for its environment is said in the result");
  // Each exec killed at its stop is said in the result.
  assert.equal(o.race.refused.filter((x: string) => x.startsWith("execve EPERM") && x.includes("killed before its first instruction")).length > 0, race.killed! > 0, o.race.refused.join("\n"));
  // Under a workdir, a program made in it runs (looked up in the sandbox's own namespace).
  assert.equal(o.workdirControl.stdout, "made-ran\n", o.workdirControl.stderr);
  assert.equal(o.workdir.stdout, "made-ran\n", `${o.workdir.stderr} ${o.workdir.refused.join("; ")}`);
  assert.equal(o.workdir.code, 0);

  // The environment is part of the event: an exec carrying LD_PRELOAD refused by it (126),
  // the same program without it allowed; control: allowed whole, both run.
  const envDenied: Ran = o.envDenied;
  assert.equal(envDenied.stdout, "preload=126\nplain=0\n", envDenied.stderr);
  assert.ok(envDenied.refused.includes("execve EPERM /bin/true: denied by policyFn"), envDenied.refused.join("\n"));
  assert.equal(o.envControl.stdout, "preload=0\nplain=0\n", o.envControl.stderr);

  const throws: Ran = o.throws;
  assert.equal(throws.stdout, "/\nls=0\n", throws.stderr);
  assert.ok(throws.refused.includes("execve EPERM /bin/true: policyFn threw: Error: boom"), throws.refused.join("\n"));
  const slow: Ran = o.slow;
  assert.equal(slow.stdout, "/\nls=0\n", slow.stderr);
  assert.ok(slow.refused.includes("execve EPERM /bin/true: policyFn gave no verdict within 300 ms"), slow.refused.join("\n"));
  const asyncRun: Ran = o.async;
  assert.equal(asyncRun.stdout, "/\nls=0\n");
  assert.match(asyncRun.stderr, /Permission denied/);
  assert.ok(asyncRun.refused.includes("execve EACCES /bin/true: policyFn answered errno 13"), asyncRun.refused.join("\n"));
  const bad: Ran = o.bad;
  assert.ok(bad.refused.includes(`execve EPERM /bin/true: policyFn returned "yes", not a verdict ("allow", "deny", "audit" or {errno})`), bad.refused.join("\n"));
  // Network: the connect event names the destination; revoking after the first connect
  // refuses the second (the control connects twice); denyPath without policyFnFiles throws,
  // which denies the call it was deciding.
  const revoke: Ran = o.revoke;
  assert.equal(revoke.stdout, "ok hi\nrefused 111\n", revoke.stderr);
  assert.ok(revoke.events.some((x) => /^connect network 127\.0\.0\.1 \d+ tcp denied=false$/.test(x)), revoke.events.join("\n"));
  assert.ok(revoke.refused.some((x) => /^connect ECONNREFUSED 127\.0\.0\.1:\d+: not allowed by policyFn's ctx.restrictNetwork$/.test(x)), revoke.refused.join("\n"));
  assert.equal(o.netControl.stdout, "ok hi\nok hi\n", o.netControl.stderr);
  // A connect the domain rules steer to the proxy is decided by policyFn too.
  assert.equal(o.steeredControl.stdout, "connected\n", `control: the steered connect reaches the proxy (${o.steeredControl.stderr})`);
  assert.equal(o.steeredDenied.stdout, "refused 1\n", o.steeredDenied.stderr);
  assert.ok(o.steeredDenied.events.some((x: string) => /^connect network 127\.0\.0\.1 \d+ tcp denied=false$/.test(x)), o.steeredDenied.events.join("\n"));
  assert.equal(o.netThrows.stdout, "refused 1\nrefused 1\n", o.netThrows.stderr);
  assert.ok(o.netThrows.refused.some((x: string) => /^connect EPERM 127\.0\.0\.1:\d+: policyFn threw: SandboxError: policyFn: ctx\.denyPath\(\): file events are off in this sandbox \(set policyFnFiles: true, so that the supervisor performs every open and can refuse a path\)$/.test(x)), o.netThrows.refused.join("\n"));
  assert.match(o.unsupervised, /PolicyError: .*policyFn.*the calls it decides are held by it/);
});
