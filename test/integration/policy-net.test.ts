// policyFn's network events against the real kernel, as root and as the test user:
// datagrams denied to one host and allowed to another (sendto, sendmsg, sendmmsg), a bind
// denied, ctx.restrictPidNetwork on one process and what it starts while its sibling
// connects, and a thread rewriting the sockaddr of a send or a bind after the event (zero
// wins); each with a
// control that allows (test/scripts/policy-net-case.ts).

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

interface Ran { status: string; code: number | null; stdout: string; stderr: string; refused: string[]; events: string[] }

scriptCase("policyFn: datagrams, binds and one process's network are decided on the supervisor's copy", "dist/test/scripts/policy-net-case.js", ["${PROBE}"], (o: Record<string, any>) => {
  // Datagrams: the callback's denial is the errno of every kind of send to 127.0.0.2, and
  // nothing arrives there; 127.0.0.1 gets all of its own. The control sends both.
  const udp: Ran = o.udp;
  assert.equal(udp.stdout, "ok\nEPERM\nok ping\nEPERM\nsent 2 3 5\nok one\nok three\nEPERM\n", udp.stderr);
  assert.deepEqual(o.udpReceived, [4, 0]);
  for (const call of ["sendto", "sendmsg", "sendmmsg"]) {
    assert.ok(udp.events.some((x) => new RegExp(`^${call} 127\\.0\\.0\\.2 \\d+ udp$`).test(x)), udp.events.join("\n"));
    assert.ok(udp.refused.some((x) => new RegExp(`^${call} EPERM 127\\.0\\.0\\.2:\\d+: denied by policyFn$`).test(x)), udp.refused.join("\n"));
  }
  assert.equal(o.udpControl.stdout, "ok\nok\nok ping\nok ping\nsent 2 3 5\nok one\nok three\nsent 2 3 5\nok one\nok three\n", o.udpControl.stderr);
  assert.deepEqual(o.udpControlReceived, [4, 4]);

  // The race: every datagram went where the event said; the denied port received nothing.
  // The control (everything allowed) shows the flipper lands and the listener sees it.
  const m = /^sent (\d+) refused (\d+)$/.exec(o.race.stdout.trim());
  assert.ok(m, o.race.stdout + o.race.stderr);
  assert.equal(Number(m[1]) + Number(m[2]), 400);
  assert.ok(Number(m[2]) > 0 && Number(m[1]) > 0, o.race.stdout);
  assert.equal(o.raceReceived[1], 0, "zero datagrams reached the port the callback denied");
  assert.ok(o.raceReceived[0] > 0 && o.raceReceived[0] <= Number(m[1]));
  assert.ok(o.raceControlReceived[1] > 0, `control: the rewritten port is reached when allowed (${JSON.stringify(o.raceControlReceived)})`);

  // bind: refused by the callback (EPERM), with the event; the control binds and listens.
  assert.equal(o.bind.stdout, "EPERM\n", o.bind.stderr);
  assert.ok(o.bind.events.some((x: string) => /^bind 127\.0\.0\.1 \d+ tcp$/.test(x)), o.bind.events.join("\n"));
  assert.ok(o.bind.refused.some((x: string) => /^bind EPERM 127\.0\.0\.1:\d+: denied by policyFn$/.test(x)), o.bind.refused.join("\n"));
  assert.equal(o.bindControl.stdout, "ok\n", o.bindControl.stderr);
  // The bind race: zero sockets bound to the denied port; some binds went through; the
  // control shows the rewrite lands when the callback allows it.
  const b = /^wins (\d+) ok (\d+) refused (\d+)$/.exec(o.bindRace.stdout.trim());
  assert.ok(b, o.bindRace.stdout + o.bindRace.stderr);
  assert.equal(Number(b[1]), 0, o.bindRace.stdout);
  assert.ok(Number(b[2]) > 0 && Number(b[2]) + Number(b[3]) === 1000, o.bindRace.stdout);
  const bc = /^wins (\d+) ok (\d+) refused (\d+)$/.exec(o.bindRaceControl.stdout.trim());
  assert.ok(bc && Number(bc[1]) > 0, `control: the rewritten port is bound when allowed (${o.bindRaceControl.stdout})`);

  // restrictPidNetwork: the restricted process, its child and its orphan are refused; the
  // sibling connects. The control connects four times.
  assert.equal(o.pids.stdout, "ECONNREFUSED\nok hi\nECONNREFUSED\nECONNREFUSED\n", o.pids.stderr);
  assert.ok(o.pids.refused.some((x: string) => /^connect ECONNREFUSED 127\.0\.0\.1:\d+: not allowed for this process by policyFn's ctx\.restrictPidNetwork$/.test(x)), o.pids.refused.join("\n"));
  assert.equal(o.pidsControl.stdout, "ok hi\nok hi\nok hi\nok hi\n", o.pidsControl.stderr);
  // A bad pid: a clear error naming it, and the call it was deciding is denied.
  assert.equal(o.badPid.stdout, "EPERM\n");
  assert.ok(o.badPid.refused.some((x: string) => x.endsWith("policyFn threw: SandboxError: policyFn: ctx.restrictPidNetwork(): pid must be a process id of the sandbox (event.pid), got -5")), o.badPid.refused.join("\n"));
});
