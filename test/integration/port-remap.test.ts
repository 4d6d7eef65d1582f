// portRemap (SPEC 4.6) against the real kernel, as root and as the test user: two
// sandboxes serve the port the host already holds, each reaches its own server by that
// port, the host reaches them through the ports they got; without portRemap the bind
// fails; the bind rules hold and a racing thread never binds a denied port.

import assert from "node:assert/strict";
import { scriptCase } from "../helpers/harness.js";

scriptCase("portRemap: two sandboxes serve the port the host holds, each reaches its own; bind rules hold under a racing thread", "dist/test/scripts/port-remap-case.js", ["${PROBE}"], (o) => {
  assert.equal(o.a.out, `sockname ${o.port}\nself SANDBOX A`, o.a.err);
  assert.equal(o.b.out, `sockname ${o.port}\nself SANDBOX B`, o.b.err);
  for (const k of ["a", "b"]) {
    assert.equal(o.live[k].length, 1, `${k} got another port`);
    assert.equal(o.live[k][0].port, o.port);
    assert.notEqual(o.live[k][0].hostPort, o.port);
  }
  assert.notEqual(o.live.a[0].hostPort, o.live.b[0].hostPort);
  assert.deepEqual(o.hostSees, { own: "HOST", a: "SANDBOX A", b: "SANDBOX B" });
  assert.deepEqual(o.a.ports, o.live.a, "the RunResult keeps the mapping");
  assert.deepEqual(o.a.json, o.live.a, "and --json shows it");
  // Control: without portRemap the host's port is taken.
  assert.equal(o.plain.code, 1);
  assert.match(o.plain.err, /Address already in use/);
  // The supervisor's binds follow the bind rules; racing threads never get the denied port.
  assert.equal(o.deniedBind.code, 1);
  assert.match(o.deniedBind.err, /Permission denied/);
  const race = (k: string): number[] => {
    const m = /^wins (\d+) ok (\d+) refused (\d+)$/.exec(o.race[k]);
    assert.ok(m, o.race[k]);
    return m.slice(1).map(Number);
  };
  // Against an allowed port: the supervisor binds the copy it checked (some succeed, the
  // denied ones are refused).
  const [winsA, okA, refusedA] = race("allowed");
  assert.equal(winsA, 0, `a bind ended on the denied port: ${o.race.allowed}`);
  assert.ok(okA > 0 && refusedA > 0, `both ports were tried: ${o.race.allowed}`);
  // Against port 0, which continues to the kernel: a rewrite after the check meets
  // Landlock's bind rules (which have no rule for port 0 either, so all are refused).
  const [winsZ, , refusedZ] = race("zero");
  assert.equal(winsZ, 0, `a bind ended on the denied port: ${o.race.zero}`);
  assert.equal(refusedZ, 4000);
  const bare = /^wins (\d+)/.exec(o.bare);
  assert.ok(bare && Number(bare[1]) > 0, `control: unsandboxed, the race does bind the denied port (${o.bare})`);
});
